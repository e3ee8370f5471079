// Benchmark workloads (bench/workload.h).
#include "bench/workload.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "data/image.h"
#include "tensor/rng.h"

namespace sad::bench {

const char* phase_name(Phase p) {
  switch (p) {
    case Phase::Gan: return "phase1";
    case Phase::Seg: return "phase2";
    case Phase::Infer: return "inference";
    case Phase::Latency: return "latency";
  }
  return "?";
}

Phase parse_phase(const std::string& s) {
  if (s == "phase1" || s == "gan") return Phase::Gan;
  if (s == "phase2" || s == "seg") return Phase::Seg;
  if (s == "latency") return Phase::Latency;
  SAD_CHECK(s == "inference" || s == "infer", "unknown phase '", s,
            "' (expected phase1, phase2, inference or latency)");
  return Phase::Infer;
}

namespace {

Config workload_config(Phase phase, const WorkloadOptions& o) {
  Config c;
  c.apply_preset(o.preset);
  c.channels = o.channels;
  SAD_CHECK(o.batch >= (phase == Phase::Infer || phase == Phase::Latency ? 1 : 2), "batch ", o.batch,
            " is too small (training steps need 2 images for batch norm)");
  SAD_CHECK(phase != Phase::Latency || o.batch == 1, "the latency phase scores one image at a time (batch 1), got ",
            o.batch);
  c.batch = std::max<int64_t>(o.batch, 2);  // the config's training batch; inference uses o.batch
  c.seed = static_cast<int64_t>(o.seed);
  // Phase 1 is the same in every mode; `residual` builds no S, so a phase-1 process
  // holds no memory that phase 1 does not use.
  c.mode = phase == Phase::Gan ? Mode::Residual : Mode::SparseKl;
  c.finalise();
  return c;
}

}  // namespace

Workload::Workload(Phase phase, const WorkloadOptions& o)
    : phase_(phase), batch_(o.batch), cfg_(workload_config(phase, o)), model_(cfg_) {
  model_.init(o.seed);
  // A trained sparse-kl model scores against its reference map by default (score_reference):
  // a zero map times that path, which subtracts it from every smoothed map.
  if (cfg_.score_reference == ScoreReference::Mean)
    model_.set_score_reference(Tensor::zeros({cfg_.image_size, cfg_.image_size}));
  if (phase == Phase::Gan) {
    d_ = std::make_shared<Discriminator>(net_config(cfg_));
    Rng rd = Rng::stream(o.seed, {0x44});  // as the trainer seeds D
    init_parameters(*d_, rd);
    d_->to(o.device);
  }
  model_.to(o.device);
  if (phase == Phase::Gan) {
    arena_g_ = std::make_unique<ParameterArena>(model_.generator().parameters());
    arena_d_ = std::make_unique<ParameterArena>(d_->parameters());
    adam_g_ = std::make_unique<Adam>(*arena_g_, adam_config_g(cfg_));
    adam_d_ = std::make_unique<Adam>(*arena_d_, adam_config_d(cfg_));
    gan_w_ = gan_loss_weights(cfg_);
  } else if (phase == Phase::Seg) {
    arena_s_ = std::make_unique<ParameterArena>(model_.segmenter()->parameters());
    adam_s_ = std::make_unique<Adam>(*arena_s_, adam_config_s(cfg_));
    seg_ = seg_loss_settings(cfg_);
  }
  // A fixed batch: smooth random images in [-1, 1]; every other image carries a bright
  // square defect of side S/8 in x~ (weak label 1), the others are unperturbed (label 0).
  const int64_t b = batch_, c = cfg_.channels, s = cfg_.image_size;
  std::vector<float> x(static_cast<size_t>(b * c * s * s)), xt, y(static_cast<size_t>(b));
  Rng rng(o.seed + 101);
  for (int64_t i = 0; i < b; ++i)
    for (int64_t ch = 0; ch < c; ++ch) {
      const double fx = rng.uniform(1, 6), fy = rng.uniform(1, 6), ph = rng.uniform(0, 6.3);
      for (int64_t yy = 0; yy < s; ++yy)
        for (int64_t xx = 0; xx < s; ++xx) {
          const double v =
              0.6 * std::sin(fx * xx / s * 6.283 + ph) * std::cos(fy * yy / s * 6.283) + 0.2 * rng.uniform(-1, 1);
          x[static_cast<size_t>(((i * c + ch) * s + yy) * s + xx)] = static_cast<float>(v);
        }
    }
  xt = x;
  for (int64_t i = 0; i < b; i += 2) {
    y[static_cast<size_t>(i)] = 1.0f;
    const int64_t side = s / 8, y0 = (i * 7 % 5 + 1) * s / 8, x0 = (i * 3 % 5 + 2) * s / 8;
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t yy = y0; yy < y0 + side; ++yy)
        for (int64_t xx = x0; xx < x0 + side; ++xx) xt[static_cast<size_t>(((i * c + ch) * s + yy) * s + xx)] = 0.9f;
  }
  x_ = Tensor::from_vector(x, {b, c, s, s}, DType::F32, o.device);
  x_tilde_ = Tensor::from_vector(xt, {b, c, s, s}, DType::F32, o.device);
  labels_ = Tensor::from_vector(y, {b}, DType::F32, o.device);
  if (phase == Phase::Latency) {
    std::vector<float> unit(x.begin(), x.begin() + c * s * s);
    for (float& v : unit) v = std::clamp(0.5f * (v + 1.0f), 0.0f, 1.0f);
    png_ =
        (std::filesystem::temp_directory_path() / ("sparsead-latency-" + std::to_string(::getpid()) + ".png")).string();
    data::save_png(png_, Tensor::from_vector(unit, {c, s, s}));
  }
}

Workload::~Workload() {
  if (!png_.empty()) {
    std::error_code ec;
    std::filesystem::remove(png_, ec);
  }
}

double Workload::step() {
  switch (phase_) {
    case Phase::Gan: {
      GanStepResult r = gan_step(model_.generator(), *d_, *adam_g_, *adam_d_, x_, x_tilde_, gan_w_);
      return r.loss_d + r.loss_g;
    }
    case Phase::Seg:
      return seg_step(model_.generator(), *model_.segmenter(), *adam_s_, seg_, x_tilde_, Tensor(), labels_).loss;
    case Phase::Infer: {
      // G then S, as AnomalyModel::score_batch runs them, up to the map on the device
      // (the image score's box filter and the copy to the host are not part of it).
      NoGradGuard ng;
      Generator& g = model_.generator();
      Segmenter& s = *model_.segmenter();
      g.eval();
      s.eval();
      Variable xin(x_);
      Variable maps = sigmoid(s.forward(xin, g.forward(xin)));
      Tensor m = Tensor::empty({1}, DType::F32, x_.device());
      ops::reduce_forward({ops::ReduceKind::Mean, -1}, maps.data(), m);
      return m.item();
    }
    case Phase::Latency: return model_.predict_file(png_).score;
  }
  return 0;
}

void Workload::validate() {
  const char* what = phase_name(phase_);
  Tensor before;
  ParameterArena* arena = phase_ == Phase::Gan ? arena_g_.get() : phase_ == Phase::Seg ? arena_s_.get() : nullptr;
  if (arena) before = arena->data().clone();
  double v = step();
  SAD_CHECK(std::isfinite(v), "workload validation failed: ", what, " step returned ", v);
  if (arena) {
    // Adam moves every parameter with a nonzero gradient by about lr: the arena must change.
    Tensor diff = empty_like(before), n = Tensor::empty({1}, DType::F32, before.device());
    ops::binary_forward({ops::BinaryKind::Sub}, arena->data(), before, diff);
    ops::unary_forward({ops::UnaryKind::Abs}, diff, diff);
    ops::reduce_forward({ops::ReduceKind::Sum, -1}, diff, n);
    const double moved = n.item();
    SAD_CHECK(std::isfinite(moved) && moved > 0, "workload validation failed: ", what,
              " step did not change the parameters (sum |delta| = ", moved, ")");
    Tensor sum = Tensor::empty({1}, DType::F32, before.device());
    ops::reduce_forward({ops::ReduceKind::Sum, -1}, arena->data(), sum);
    SAD_CHECK(std::isfinite(sum.item()), "workload validation failed: ", what, " parameters are not finite");
  } else if (phase_ == Phase::Infer) {
    SAD_CHECK(v > 0 && v < 1, "workload validation failed: inference maps' mean ", v, " outside (0, 1)");
  }
}

}  // namespace sad::bench
