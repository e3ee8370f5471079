// AnomalyModel: scoring, normalisation, prediction on files, and the model file.
#include "model/anomaly_model.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "data/image.h"
#include "data/tiles.h"
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

int image_score_box_side(int64_t s) {
  const int k = static_cast<int>(s / 16) + 1;
  return k % 2 == 0 ? k + 1 : k;
}

namespace {

// The map (H, W) averaged by a box filter of odd side S/16 + 1, stride 1, borders averaging
// only inside the image, as doubles.
std::vector<double> box_filtered(const Tensor& m, int64_t s) {
  SAD_CHECK(m.ndim() == 2 && m.device().is_cpu(), "image_score_from_map: expects an (H, W) CPU map, got ", m.str());
  const int k = image_score_box_side(s);
  ops::AvgPoolParams p{k, 1, k / 2, false};
  Tensor in = m.reshape({1, 1, m.dim(0), m.dim(1)});
  Tensor out = Tensor::empty({1, 1, m.dim(0), m.dim(1)}, m.dtype());
  ops::avg_pool2d_forward(p, in, out);
  return out.to_vector_f64();  // exact for a float64 map too
}

// The max, or the log-sum-exp t log mean exp(v / t), of the s x s window at (y0, x0) of a
// row-major map of width w.
double window_score(const std::vector<double>& v, int64_t w, int64_t y0, int64_t x0, int64_t s, bool lse,
                    double temperature) {
  double top = -INFINITY;
  for (int64_t i = 0; i < s; ++i)
    for (int64_t j = 0; j < s; ++j) top = std::max(top, v[static_cast<size_t>((y0 + i) * w + x0 + j)]);
  if (!lse) return top;
  double sum = 0;
  for (int64_t i = 0; i < s; ++i)
    for (int64_t j = 0; j < s; ++j)
      sum += std::exp((v[static_cast<size_t>((y0 + i) * w + x0 + j)] - top) / temperature);
  return top + temperature * std::log(sum / static_cast<double>(s * s));
}

}  // namespace

double image_score_from_map(const Tensor& map_ss) {
  std::vector<double> v = box_filtered(map_ss, map_ss.dim(0));
  return *std::max_element(v.begin(), v.end());
}

double image_score_lse_from_map(const Tensor& map_ss, double temperature) {
  SAD_CHECK(temperature > 0, "image score: the temperature must be > 0, got ", temperature);
  std::vector<double> v = box_filtered(map_ss, map_ss.dim(0));
  return window_score(v, map_ss.dim(1), 0, 0, map_ss.dim(0), true, temperature);
}

double image_score_tiled(const Tensor& map_hw, const data::TileGrid& grid, bool lse, double temperature) {
  SAD_CHECK(map_hw.ndim() == 2 && map_hw.dim(0) == grid.size.h && map_hw.dim(1) == grid.size.w,
            "image_score_tiled: map ", shape_str(map_hw.shape()), " does not match the grid");
  const std::vector<double> v = box_filtered(map_hw, grid.s);
  double best = -INFINITY;
  for (int64_t k = 0; k < grid.count(); ++k)
    best = std::max(best, window_score(v, grid.size.w, grid.y(k), grid.x(k), grid.s, lse, temperature));
  return best;
}

Tensor gaussian_blur(const Tensor& map_hw, double sigma, bool inside_only) {
  SAD_CHECK(map_hw.ndim() == 2 && sigma > 0, "gaussian_blur: expects an (H, W) map and sigma > 0");
  const int64_t h = map_hw.dim(0), w = map_hw.dim(1);
  const int r = std::max(1, static_cast<int>(std::ceil(3.0 * sigma)));
  const std::vector<double> g = ops::gaussian_taps(2 * r + 1, sigma);
  std::vector<float> src = map_hw.to_vector(), tmp(src.size()), dst(src.size());
  // One pass along an axis of length n: zero padding, or (inside_only) the taps that fall
  // inside renormalised to sum 1. The 2-D kernel is separable and the image a rectangle, so
  // renormalising each pass renormalises the whole kernel.
  auto pass = [&](const std::vector<float>& in, std::vector<float>& out, bool along_x) {
    const int64_t n = along_x ? w : h;
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x) {
        const int64_t pos = along_x ? x : y;
        double a = 0, mass = 0;
        for (int i = -r; i <= r; ++i) {
          const int64_t q = pos + i;
          if (q < 0 || q >= n) continue;
          const size_t at = static_cast<size_t>(along_x ? y * w + q : q * w + x);
          a += g[static_cast<size_t>(i + r)] * static_cast<double>(in[at]);
          mass += g[static_cast<size_t>(i + r)];
        }
        out[static_cast<size_t>(y * w + x)] = static_cast<float>(inside_only ? a / mass : a);
      }
  };
  pass(src, tmp, true);
  pass(tmp, dst, false);
  return Tensor::from_vector(dst, {h, w});
}

Tensor AnomalyModel::raw_maps(const Tensor& x) {
  SAD_CHECK(x.ndim() == 4 && x.dim(1) == cfg_.channels && x.dim(2) == cfg_.image_size && x.dim(3) == cfg_.image_size,
            "model: input ", shape_str(x.shape()), " must be (B, ", cfg_.channels, ", ", cfg_.image_size, ", ",
            cfg_.image_size, ")");
  NoGradGuard ng;
  g_->eval();
  Variable xin(x.to(device_));
  Variable xr = g_->forward(xin);
  if (s_) {
    s_->eval();
    return s_->forward(xin, xr).data().to(Device::cpu());
  }
  return residual_evidence(xin.data(), xr.data(), cfg_.residual_kind, false).to(Device::cpu());
}

double AnomalyModel::map_sigma() const { return s_ ? cfg_.map_sigma : cfg_.residual_sigma; }
bool AnomalyModel::blur_inside() const { return s_ && cfg_.map_border == MapBorder::Inside; }

namespace {

// A NaN or Inf in the weights or the input must never become a label: "nan" compares false
// against every threshold, so it would read as normal.
void check_finite(const std::vector<double>& scores, const Tensor& maps) {
  for (double v : scores) SAD_CHECK(std::isfinite(v), "model: the image score is not finite (", v, ")");
  const float* m = maps.data<float>();  // on the CPU: checked in place, no copy
  SAD_CHECK(std::all_of(m, m + maps.numel(), [](float v) { return std::isfinite(v); }),
            "model: the anomaly map holds a non-finite value");
}

}  // namespace

Tensor AnomalyModel::smoothed_maps(const Tensor& x) {
  Tensor raw = raw_maps(x);  // logits, or the raw residual evidence
  const int64_t s = cfg_.image_size;
  const double sigma = map_sigma();
  if (sigma > 0)
    for (int64_t b = 0; b < raw.dim(0); ++b) {
      Tensor dst = raw.slice0(b, b + 1).reshape({s, s});
      dst.copy_from(gaussian_blur(dst, sigma, blur_inside()));
    }
  return raw;
}

void AnomalyModel::set_score_reference(const Tensor& ref_ss) {
  const int64_t s = cfg_.image_size;
  SAD_CHECK(cfg_.score_reference == ScoreReference::Mean, "model: a score reference needs score_reference=mean");
  const std::vector<int64_t> want{s, s};
  SAD_CHECK(ref_ss.defined() && ref_ss.device().is_cpu() && ref_ss.dtype() == DType::F32 && ref_ss.shape() == want,
            "model: the score reference must be a float32 CPU map (", s, ", ", s, "), got ",
            ref_ss.defined() ? shape_str(ref_ss.shape()) : std::string("none"));
  score_reference_ = ref_ss.clone();
}

double AnomalyModel::image_score_of(const Tensor& l) const {
  const bool lse = s_ && cfg_.image_score == ImageScore::Lse;
  return lse ? image_score_lse_from_map(l, cfg_.score_temperature) : image_score_from_map(l);
}

AnomalyModel::Scored AnomalyModel::score_batch(const Tensor& x) {
  Tensor raw = smoothed_maps(x);
  const int64_t s = cfg_.image_size;
  std::vector<double> scores;
  // The segmenter's image score comes from the logits (see the header); the map the user
  // sees is still M = sigmoid(l).
  const bool ref = cfg_.score_reference == ScoreReference::Mean && score_reference_.defined();
  std::vector<double> unreferenced;
  for (int64_t b = 0; b < raw.dim(0); ++b) {
    const Tensor l = raw.slice0(b, b + 1).reshape({s, s});
    unreferenced.push_back(image_score_of(l));
    scores.push_back(ref ? image_score_of(sub(Variable(l), Variable(score_reference_)).data()) : unreferenced.back());
  }
  Tensor maps = s_ ? sigmoid(Variable(raw)).data() : raw;
  check_finite(scores, maps);
  return Scored{maps, scores, unreferenced};
}

AnomalyModel::ScoredImage AnomalyModel::score_tiled(const Tensor& x) {
  SAD_CHECK(x.ndim() == 3 && x.dim(0) == cfg_.channels, "model: tiled input ", shape_str(x.shape()), " must be (",
            cfg_.channels, ", H, W)");
  const int64_t s = cfg_.image_size, c = cfg_.channels;
  const data::TileGrid grid = data::tile_grid({x.dim(1), x.dim(2)}, s, cfg_.window_stride());
  const int64_t n = grid.count();
  Tensor raw = Tensor::empty({n, 1, s, s});
  for (int64_t k0 = 0; k0 < n; k0 += cfg_.batch) {
    const int64_t k1 = std::min(n, k0 + cfg_.batch);
    Tensor batch = Tensor::empty({k1 - k0, c, s, s});
    for (int64_t k = k0; k < k1; ++k)
      batch.slice0(k - k0, k - k0 + 1).reshape({c, s, s}).copy_from(data::crop(x, grid.y(k), grid.x(k), s));
    raw.slice0(k0, k1).copy_from(raw_maps(batch));
  }
  Tensor m = data::stitch(raw, grid);
  if (map_sigma() > 0) m = gaussian_blur(m, map_sigma(), blur_inside());
  const double score = image_score_tiled(m, grid, s_ && cfg_.image_score == ImageScore::Lse, cfg_.score_temperature);
  Tensor map = s_ ? sigmoid(Variable(m)).data() : m;
  check_finite({score}, map);
  return ScoredImage{map, score};
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
  Prediction p;
  if (cfg_.tiled()) {
    ScoredImage sc = score_tiled(data::working_input(image, cfg_.tile_scale, s));
    p.raw_score = p.raw_score_unreferenced = sc.score;
    p.raw_map = sc.map;
  } else {
    Tensor x = data::resize(image, s, s);
    data::to_signed_range(x);
    Scored sc = score_batch(x.reshape({1, cfg_.channels, s, s}));
    p.raw_score = sc.scores[0];
    p.raw_score_unreferenced = sc.unreferenced[0];
    p.raw_map = sc.maps.reshape({s, s});
  }
  p.score = normalise_image_score(p.raw_score);
  p.anomalous = p.score >= threshold;
  Tensor resized = data::resize(p.raw_map.reshape({1, p.raw_map.dim(0), p.raw_map.dim(1)}), h, w);
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
  std::vector<std::pair<std::string, Tensor>> tensors = state();
  if (cfg_.score_reference == ScoreReference::Mean) {
    SAD_CHECK(score_reference_.defined(), path, ": score_reference=mean but no reference was computed");
    tensors.emplace_back(kScoreReferenceTensor, score_reference_);
  }
  save_safetensors(path, tensors, {{"config", cfg_.to_json().dump()}, {"format", "sparsead"}});
}

AnomalyModel AnomalyModel::load(const std::string& path, Device device) {
  ModelFile f = read_model_file(path);
  AnomalyModel m(f.cfg);
  m.g_->load_state(f.g_state, path + " (G)");
  if (m.s_) m.s_->load_state(f.s_state, path + " (S)");  // residual files hold no S (read_model_file)
  if (f.score_reference.defined()) m.set_score_reference(f.score_reference);  // shape checked there
  m.to(device);
  return m;
}

}  // namespace sad
