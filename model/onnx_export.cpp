// The inference graph of G and S (or G and the residual evidence) node by node, mirroring
// Generator::forward, Segmenter::forward and residual_evidence in eval mode.
#include "model/onnx_export.h"

#include <cstdio>
#include <map>
#include <set>

#include "kernels/ops.h"
#include "layers/onnx_writer.h"
#include "model/build_info.h"
#include "model/losses.h"
#include "tensor/check.h"

namespace sad {

namespace {

using onnx::attr;

class Builder {
 public:
  Builder(AnomalyModel& m) : cfg_(m.config()) {
    for (auto& [name, t] : m.state()) state_[name] = t;
  }
  onnx::Graph& graph() { return g_; }

  // A parameter of the model file, added to the graph the first time it is used.
  std::string param(const std::string& name) {
    auto it = state_.find(name);
    SAD_CHECK(it != state_.end(), "onnx export: the model has no tensor '", name, "'");
    if (added_.insert(name).second) g_.initializer(name, it->second);
    return name;
  }
  const Tensor& tensor(const std::string& name) { return state_.at(param(name)); }
  bool has(const std::string& name) const { return state_.count(name) > 0; }

  std::string scalar(float v) {
    char name[48];
    std::snprintf(name, sizeof name, "const_%.9g", static_cast<double>(v));
    if (added_.insert(name).second) g_.initializer_f32(name, {v}, {1});
    return name;
  }

  std::string conv(const std::string& x, const std::string& prefix, int64_t stride, bool bias) {
    const Tensor& w = tensor(prefix + ".weight");
    const int64_t kh = w.dim(2), kw = w.dim(3);
    std::vector<std::string> in{x, prefix + ".weight"};
    if (bias) in.push_back(param(prefix + ".bias"));
    return g_.node(
        "Conv", in,
        {attr("kernel_shape", std::vector<int64_t>{kh, kw}), attr("strides", std::vector<int64_t>{stride, stride}),
         attr("pads", std::vector<int64_t>{kh / 2, kw / 2, kh / 2, kw / 2})},
        prefix);
  }
  std::string bn(const std::string& x, const std::string& prefix) {
    return g_.node("BatchNormalization",
                   {x, param(prefix + ".weight"), param(prefix + ".bias"), param(prefix + ".running_mean"),
                    param(prefix + ".running_var")},
                   {attr("epsilon", static_cast<float>(cfg_.bn_eps))}, prefix);
  }
  std::string act(const std::string& x, float leaky) {
    return leaky == 0.0f ? g_.node("Relu", {x}) : g_.node("LeakyRelu", {x}, {attr("alpha", leaky)});
  }
  std::string conv_bn_act(const std::string& x, const std::string& prefix, int64_t stride, float leaky) {
    return act(bn(conv(x, prefix + ".conv", stride, false), prefix + ".bn"), leaky);
  }
  // Nearest x2, as upsample_nearest: out[y][x] = in[y / 2][x / 2].
  std::string up2(const std::string& x) {
    if (added_.insert("up2_scales").second) g_.initializer_f32("up2_scales", {1, 1, 2, 2}, {4});
    return g_.node(
        "Resize", {x, "", "up2_scales"},
        {attr("mode", std::string("nearest")), attr("coordinate_transformation_mode", std::string("asymmetric")),
         attr("nearest_mode", std::string("floor"))});
  }

  std::string generator(const std::string& x) {
    std::string h = x;
    for (int k = 0; k < 4; ++k) {
      const std::string p = "G.enc." + std::to_string(k);
      h = conv_bn_act(conv_bn_act(h, p + ".0", 2, 0.2f), p + ".1", 1, 0.2f);
    }
    for (int k = 0; k < 4; ++k) {
      const std::string p = "G.dec." + std::to_string(k);
      h = conv_bn_act(conv_bn_act(up2(h), p + ".1", 1, 0.0f), p + ".2", 1, 0.0f);
    }
    return g_.node("Tanh", {conv(h, "G.head", 1, true)});
  }

  std::string basic_block(const std::string& x, const std::string& p, int64_t stride) {
    std::string h = g_.node("Relu", {bn(conv(x, p + ".conv1", stride, false), p + ".bn1")});
    h = bn(conv(h, p + ".conv2", 1, false), p + ".bn2");
    const std::string s =
        has(p + ".short_conv.weight") ? bn(conv(x, p + ".short_conv", stride, false), p + ".short_bn") : x;
    return g_.node("Relu", {g_.node("Add", {h, s})});
  }

  // S's encoder on one image: the features after each stage. (Training runs both images as
  // one batch; in eval mode batch norm is per sample, so two passes are the same.)
  std::vector<std::string> encoder(const std::string& x) {
    std::vector<std::string> f;
    std::string h = conv_bn_act(x, "S.stem.0", 1, 0.0f);
    for (int k = 1; k <= 4; ++k) {
      const std::string p = "S.enc" + std::to_string(k);
      h = basic_block(basic_block(h, p + ".0", 2), p + ".1", 1);
      f.push_back(h);
    }
    return f;
  }

  std::string segmenter(const std::string& x, const std::string& xr) {
    const std::vector<std::string> a = encoder(x), b = encoder(xr);
    std::vector<std::string> z;
    for (int k = 0; k < 4; ++k) {  // fusion [a, b, |a - b|], then its 1x1 ConvBnAct
      const std::string diff = g_.node("Abs", {g_.node("Sub", {a[k], b[k]})});
      const std::string cat = g_.node("Concat", {a[k], b[k], diff}, {attr("axis", int64_t{1})});
      z.push_back(conv_bn_act(cat, "S.fuse" + std::to_string(k + 1), 1, 0.0f));
    }
    std::string d = z[3];
    for (int k = 2; k >= 0; --k) {
      const std::string p = "S.refine" + std::to_string(k + 1);
      const std::string cat = g_.node("Concat", {up2(d), z[static_cast<size_t>(k)]}, {attr("axis", int64_t{1})});
      d = conv_bn_act(conv_bn_act(cat, p + ".0", 1, 0.0f), p + ".1", 1, 0.0f);
    }
    const std::string h = g_.node("Relu", {conv(up2(d), "S.head_conv", 1, true)});
    return conv(h, "S.head_out", 1, true);
  }

  // residual_evidence(x, xr, kind, normalise = false): channel means of |x - xr| and of
  // (1 - SSIM) / 2, or their average (mix).
  std::string residual(const std::string& x, const std::string& xr) {
    const std::vector<int64_t> channel_axis{1};
    auto channel_mean = [&](const std::string& v) {
      return g_.node("ReduceMean", {v}, {attr("axes", channel_axis), attr("keepdims", int64_t{1})});
    };
    std::string l1, dssim;
    if (cfg_.residual_kind != ResidualKind::Ssim) l1 = channel_mean(g_.node("Abs", {g_.node("Sub", {x, xr})}));
    if (cfg_.residual_kind != ResidualKind::L1) dssim = channel_mean(dssim_map(x, xr));
    if (cfg_.residual_kind == ResidualKind::L1) return l1;
    if (cfg_.residual_kind == ResidualKind::Ssim) return dssim;
    return g_.node("Mul", {g_.node("Add", {l1, dssim}), scalar(0.5f)});
  }

  // (1 - SSIM map) / 2 per channel: the Gaussian window as a depthwise convolution with
  // zero padding window / 2 (ssim_map_params: window 11, sigma 1.5, L = 2, k1 0.01, k2 0.03).
  std::string dssim_map(const std::string& x, const std::string& y) {
    const ops::SsimParams p;
    const int64_t c = cfg_.channels, win = p.window;
    const std::vector<double> taps = ops::gaussian_taps(p.window, p.sigma);
    std::vector<float> w;
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t i = 0; i < win; ++i)
        for (int64_t j = 0; j < win; ++j) w.push_back(static_cast<float>(taps[i] * taps[j]));
    g_.initializer_f32("ssim_window", w, {c, 1, win, win});
    auto blur = [&](const std::string& v) {
      return g_.node("Conv", {v, "ssim_window"},
                     {attr("kernel_shape", std::vector<int64_t>{win, win}), attr("group", c),
                      attr("pads", std::vector<int64_t>{win / 2, win / 2, win / 2, win / 2})});
    };
    auto mul = [&](const std::string& a, const std::string& b) { return g_.node("Mul", {a, b}); };
    auto sub = [&](const std::string& a, const std::string& b) { return g_.node("Sub", {a, b}); };
    auto add = [&](const std::string& a, const std::string& b) { return g_.node("Add", {a, b}); };
    const double l = p.data_range, c1 = (p.k1 * l) * (p.k1 * l), c2 = (p.k2 * l) * (p.k2 * l);
    const std::string mx = blur(x), my = blur(y);
    const std::string mxx = mul(mx, mx), myy = mul(my, my), mxy = mul(mx, my);
    const std::string sxx = sub(blur(mul(x, x)), mxx), syy = sub(blur(mul(y, y)), myy), sxy = sub(blur(mul(x, y)), mxy);
    const std::string two = scalar(2.0f), k1 = scalar(static_cast<float>(c1)), k2 = scalar(static_cast<float>(c2));
    const std::string num = mul(add(mul(two, mxy), k1), add(mul(two, sxy), k2));
    const std::string den = mul(add(add(mxx, myy), k1), add(add(sxx, syy), k2));
    const std::string ssim = g_.node("Div", {num, den});
    return mul(sub(scalar(1.0f), ssim), scalar(0.5f));
  }

 private:
  Config cfg_;
  std::map<std::string, Tensor> state_;
  std::set<std::string> added_;
  onnx::Graph g_;
};

std::string postprocess_text(const Config& c, bool segmenter, bool reference) {
  const int box = image_score_box_side(c.image_size);
  char score[512];
  if (segmenter && c.image_score == ImageScore::Lse)
    std::snprintf(score, sizeof score, "t log mean exp(v / t), t = %g, over the values v of the box-filtered map",
                  c.score_temperature);
  else
    std::snprintf(score, sizeof score, "the maximum of the box-filtered map");
  char buf[2048];
  std::snprintf(
      buf, sizeof buf,
      "raw = %s. 1) Smooth raw with a Gaussian of sigma %g, separable, 2 r + 1 taps with r = max(1, ceil(3 sigma)) "
      "normalised to sum 1 (%s). %s2) Box-filter the smoothed map with a "
      "%d x %d box, stride 1, each output the mean of the box's pixels inside the map. 3) Image score s: "
      "%s%s. 4) Normalised score: clamp((s - image_threshold) / max(image_score_max - image_score_min, "
      "1e-6) + 0.5, 0, 1); an image is defective at >= 0.5. 5) Displayed map: %s, normalised per pixel "
      "the same way with pixel_threshold and pixel_score_min/max.",
      segmenter ? "the segmenter's logits l" : "the residual evidence r", segmenter ? c.map_sigma : c.residual_sigma,
      segmenter && c.map_border == MapBorder::Inside ? "border: only the taps inside the map, renormalised"
                                                     : "zero padding",
      reference ? "1b) Subtract the graph's constant output score_reference (S x S), per position, from the smoothed "
                  "map; the displayed map (5) stays the unsubtracted one. "
                : "",
      box, box, score,
      c.tiled() ? "; tile model: on the stitched map, the largest over the grid's windows of this score "
                  "taken within each window"
                : "",
      segmenter ? "sigmoid of the smoothed logits" : "the smoothed map");
  return buf;
}

}  // namespace

std::string onnx_model(AnomalyModel& model, const std::string& source) {
  const Config& c = model.config();
  Builder b(model);
  onnx::Graph& g = b.graph();
  const int64_t s = c.image_size, ch = c.channels;
  g.input("image", {-1, ch, s, s},
          "(N, C, S, S) float32 in [-1, 1]: the image (tile mode: a window at the working scale) resized to S x S "
          "with bilinear interpolation, pixel values v in [0, 1] mapped to 2 v - 1, channels RGB or gray");
  const std::string xr = b.generator("image");
  const std::string raw = model.has_segmenter() ? b.segmenter("image", xr) : b.residual("image", xr);
  g.output(raw, "raw", {-1, 1, s, s},
           model.has_segmenter() ? "the segmenter's logits l" : "the residual evidence r (unsmoothed)");
  g.output(xr, "reconstruction", {-1, ch, s, s}, "G's reconstruction in [-1, 1]");
  if (model.score_reference().defined())
    g.output(g.initializer("score_reference_map", model.score_reference()), "score_reference", {s, s},
             "score_reference=mean: the per-position mean of the clean held-out images' smoothed maps, subtracted "
             "from each smoothed map before its image score (sparsead.postprocess, step 1b)");

  std::vector<std::pair<std::string, std::string>> meta = {
      {"sparsead.source", source},
      {"sparsead.build", build_commit()},
      {"sparsead.mode", enum_name(c.mode)},
      {"sparsead.config", c.to_json().dump()},
      {"sparsead.postprocess", postprocess_text(c, model.has_segmenter(), model.score_reference().defined())},
  };
  if (c.tiled()) {
    char buf[768];
    std::snprintf(buf, sizeof buf,
                  "The graph scores one S x S window (S = %lld). Resize the image to round(h f) x round(w f) with f = "
                  "max(tile_scale, S / min(h, w)), tile_scale = %g (bilinear); place windows every %lld pixels along "
                  "each axis, plus one flush with the far edge when the last did not reach it; stitch the windows' "
                  "raw maps as the weighted mean with weight t(i) t(j), t(i) = (min(i, S - 1 - i) + 1) / ceil(S / 2); "
                  "then post-process the stitched map. tools/onnx_stitch.py is a reference.",
                  static_cast<long long>(s), c.tile_scale, static_cast<long long>(c.window_stride()));
    meta.emplace_back("sparsead.tiling", buf);
  }
  return g.model(kOnnxOpset, build_commit(), "sparsead inference graph: G then S (or the residual evidence)", meta);
}

std::string npy_bytes(const Tensor& t) {
  std::string shape = "(";
  for (int64_t d : t.shape()) shape += std::to_string(d) + ", ";
  if (t.ndim() > 0) shape.resize(shape.size() - (t.ndim() > 1 ? 2 : 1));  // "(2, 3)", but "(5,)"
  shape += ")";
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }";
  const size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::string out = "\x93NUMPY";
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>((header.size() >> 8) & 0xff);
  out += header;
  const std::vector<float> v = t.to(Device::cpu()).to_vector();
  out.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
  return out;
}

}  // namespace sad
