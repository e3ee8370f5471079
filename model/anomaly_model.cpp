// AnomalyModel: scoring, normalisation, prediction on files, and the model file.
#include "model/anomaly_model.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "data/image.h"
#include "kernels/ops.h"
#include "layers/safetensors.h"
#include "model/losses.h"
#include "model/model_file.h"

namespace sad {

NetConfig net_config(const Config& cfg) {
  NetConfig n;
  n.channels = cfg.channels;
  n.width = cfg.width;
  n.bn_momentum = static_cast<float>(cfg.bn_momentum);
  n.bn_eps = static_cast<float>(cfg.bn_eps);
  n.rho = static_cast<float>(cfg.rho);
  return n;
}

AnomalyModel::AnomalyModel(const Config& cfg) : cfg_(cfg) {
  SAD_CHECK(cfg.channels == 1 || cfg.channels == 3, "model: channels must be 1 or 3, got ", cfg.channels);
  NetConfig n = net_config(cfg);
  g_ = std::make_shared<Generator>(n);
  if (cfg.mode != Mode::Residual) s_ = std::make_shared<Segmenter>(n);
}

void AnomalyModel::to(Device device) {
  g_->to(device);
  if (s_) s_->to(device);
  device_ = device;
}

void AnomalyModel::init(uint64_t seed) {
  // One stream per network: adding S does not change G's weights for a seed.
  Rng rg = Rng::stream(seed, {0x47});  // 'G'
  init_parameters(*g_, rg);
  if (s_) {
    Rng rs = Rng::stream(seed, {0x53});  // 'S'
    init_parameters(*s_, rs);
  }
}

std::vector<std::pair<std::string, Tensor>> AnomalyModel::state() const {
  std::vector<std::pair<std::string, Tensor>> out;
  for (auto& [n, t] : g_->state()) out.emplace_back("G." + n, t);
  if (s_)
    for (auto& [n, t] : s_->state()) out.emplace_back("S." + n, t);
  return out;
}

namespace {

// The map (S, S) averaged by a box filter of odd side S/16 + 1, stride 1, borders averaging
// only inside the image, as doubles.
std::vector<double> box_filtered(const Tensor& map_ss) {
  const Tensor& m = map_ss;
  SAD_CHECK(m.ndim() == 2 && m.device().is_cpu(), "image_score_from_map: expects an (S, S) CPU map, got ", m.str());
  int64_t s = m.dim(0);
  int k = static_cast<int>(s / 16) + 1;
  if (k % 2 == 0) ++k;
  ops::AvgPoolParams p{k, 1, k / 2, false};
  Tensor in = m.reshape({1, 1, m.dim(0), m.dim(1)});
  Tensor out = Tensor::empty({1, 1, m.dim(0), m.dim(1)}, m.dtype());
  ops::avg_pool2d_forward(p, in, out);
  return out.to_vector_f64();  // exact for a float64 map too
}

}  // namespace

double image_score_from_map(const Tensor& map_ss) {
  std::vector<double> v = box_filtered(map_ss);
  return *std::max_element(v.begin(), v.end());
}

double image_score_lse_from_map(const Tensor& map_ss, double temperature) {
  SAD_CHECK(temperature > 0, "image score: the temperature must be > 0, got ", temperature);
  std::vector<double> v = box_filtered(map_ss);
  const double top = *std::max_element(v.begin(), v.end());
  double sum = 0;
  for (double x : v) sum += std::exp((x - top) / temperature);
  return top + temperature * std::log(sum / static_cast<double>(v.size()));
}

Tensor gaussian_blur(const Tensor& map_hw, double sigma) {
  SAD_CHECK(map_hw.ndim() == 2 && sigma > 0, "gaussian_blur: expects an (H, W) map and sigma > 0");
  const int64_t h = map_hw.dim(0), w = map_hw.dim(1);
  const int r = std::max(1, static_cast<int>(std::ceil(3.0 * sigma)));
  const std::vector<double> g = ops::gaussian_taps(2 * r + 1, sigma);
  std::vector<float> src = map_hw.to_vector(), tmp(src.size()), dst(src.size());
  auto at = [](const std::vector<float>& v, int64_t y, int64_t x, int64_t hh, int64_t ww) {
    return (y < 0 || y >= hh || x < 0 || x >= ww) ? 0.0 : static_cast<double>(v[static_cast<size_t>(y * ww + x)]);
  };
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x) {
      double a = 0;
      for (int i = -r; i <= r; ++i) a += g[static_cast<size_t>(i + r)] * at(src, y, x + i, h, w);
      tmp[static_cast<size_t>(y * w + x)] = static_cast<float>(a);
    }
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x) {
      double a = 0;
      for (int i = -r; i <= r; ++i) a += g[static_cast<size_t>(i + r)] * at(tmp, y + i, x, h, w);
      dst[static_cast<size_t>(y * w + x)] = static_cast<float>(a);
    }
  return Tensor::from_vector(dst, {h, w});
}

AnomalyModel::Scored AnomalyModel::score_batch(const Tensor& x) {
  SAD_CHECK(x.ndim() == 4 && x.dim(1) == cfg_.channels && x.dim(2) == cfg_.image_size && x.dim(3) == cfg_.image_size,
            "model: input ", shape_str(x.shape()), " must be (B, ", cfg_.channels, ", ", cfg_.image_size, ", ",
            cfg_.image_size, ")");
  NoGradGuard ng;
  g_->eval();
  Variable xin(x.to(device_));
  Variable xr = g_->forward(xin);
  const int64_t s = cfg_.image_size;
  Tensor maps;
  std::vector<double> scores;
  if (s_) {
    s_->eval();
    // The image score comes from the logits (see the header); the map the user sees is
    // still M = sigmoid(l).
    Tensor logits = s_->forward(xin, xr).data().to(Device::cpu());
    if (cfg_.map_sigma > 0)
      for (int64_t b = 0; b < logits.dim(0); ++b) {
        Tensor dst = logits.slice0(b, b + 1).reshape({s, s});
        dst.copy_from(gaussian_blur(dst, cfg_.map_sigma));
      }
    const bool lse = cfg_.image_score == "lse";
    for (int64_t b = 0; b < logits.dim(0); ++b) {
      const Tensor l = logits.slice0(b, b + 1).reshape({s, s});
      scores.push_back(lse ? image_score_lse_from_map(l, cfg_.score_temperature) : image_score_from_map(l));
    }
    maps = sigmoid(Variable(logits)).data();
  } else {
    Tensor r =
        residual_evidence(xin.data(), xr.data(), parse_residual_kind(cfg_.residual_kind), false).to(Device::cpu());
    maps = Tensor::empty(r.shape());
    for (int64_t b = 0; b < r.dim(0); ++b) {
      Tensor blurred = gaussian_blur(r.slice0(b, b + 1).reshape({s, s}), cfg_.residual_sigma);
      Tensor dst = maps.slice0(b, b + 1).reshape({s, s});
      dst.copy_from(blurred);
    }
    for (int64_t b = 0; b < maps.dim(0); ++b)
      scores.push_back(image_score_from_map(maps.slice0(b, b + 1).reshape({s, s})));
  }
  // A NaN or Inf in the weights or the input must never become a label: "nan" compares
  // false against every threshold, so it would read as normal.
  for (double v : scores) SAD_CHECK(std::isfinite(v), "model: the image score is not finite (", v, ")");
  const float* m = maps.data<float>();  // on the CPU: checked in place, no copy
  SAD_CHECK(std::all_of(m, m + maps.numel(), [](float v) { return std::isfinite(v); }),
            "model: the anomaly map holds a non-finite value");
  return Scored{maps, scores};
}

namespace {
double normalise(double v, double t, double lo, double hi) {
  return std::clamp((v - t) / std::max(hi - lo, 1e-6) + 0.5, 0.0, 1.0);
}
}  // namespace

double AnomalyModel::normalise_image_score(double raw) const {
  return normalise(raw, cfg_.image_threshold, cfg_.image_score_min, cfg_.image_score_max);
}
double AnomalyModel::normalise_pixel(double raw) const {
  return normalise(raw, cfg_.pixel_threshold, cfg_.pixel_score_min, cfg_.pixel_score_max);
}

Prediction AnomalyModel::predict_image(const Tensor& image, double threshold) {
  SAD_CHECK(image.ndim() == 3 && image.dim(0) == cfg_.channels, "predict: image ", shape_str(image.shape()),
            " must have ", cfg_.channels, " channels");
  const int h = static_cast<int>(image.dim(1)), w = static_cast<int>(image.dim(2));
  const int s = static_cast<int>(cfg_.image_size);
  Tensor x = data::resize(image, s, s);
  data::to_signed_range(x);
  Scored sc = score_batch(x.reshape({1, cfg_.channels, s, s}));
  Prediction p;
  p.raw_score = sc.scores[0];
  p.score = normalise_image_score(p.raw_score);
  p.anomalous = p.score >= threshold;
  p.raw_map = sc.maps.reshape({s, s});
  Tensor resized = data::resize(sc.maps.reshape({1, s, s}), h, w);
  std::vector<float> v = resized.to_vector();
  for (float& m : v) m = static_cast<float>(normalise_pixel(m));
  p.map = Tensor::from_vector(v, {h, w});
  return p;
}

Prediction AnomalyModel::predict_file(const std::string& path, double threshold) {
  Tensor image = data::load_image(path, static_cast<int>(cfg_.channels));
  try {
    return predict_image(image, threshold);
  } catch (const Error& e) {
    SAD_FAIL(path, ": ", e.what());
  }
}

void AnomalyModel::save(const std::string& path) const {
  save_safetensors(path, state(), {{"config", cfg_.to_json().dump()}, {"format", "sparsead"}});
}

AnomalyModel AnomalyModel::load(const std::string& path, Device device) {
  ModelFile f = read_model_file(path);
  AnomalyModel m(f.cfg);
  m.g_->load_state(f.g_state, path + " (G)");
  if (m.s_) m.s_->load_state(f.s_state, path + " (S)");  // residual files hold no S (read_model_file)
  m.to(device);
  return m;
}

}  // namespace sad
