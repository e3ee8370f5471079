#include "model/train_parts.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <numbers>
#include <vector>

#include "model/losses.h"
#include "tensor/check.h"

namespace sad {

Optimised::Optimised(Module& m, const AdamConfig& cfg) {
  arena = std::make_unique<ParameterArena>(m.parameters());
  adam = std::make_unique<Adam>(*arena, cfg);
}

void PlainProgress::line(const std::string& text) {
  std::printf("%s\n", text.c_str());
  std::fflush(stdout);
}

double ema_decay(double decay, int64_t t) {
  const double td = static_cast<double>(t);
  return std::min(decay, (1.0 + td) / (10.0 + td));
}

void Optimised::update_ema(double decay) {
  SAD_CHECK(ema.defined(), "trainer: update_ema without start_ema");
  const double d = ema_decay(decay, adam->steps());
  // Two in-place passes, d ema then + (1 - d) w: deterministic, and the same on every device.
  ops::axpy(static_cast<float>(d - 1.0), ema, ema);
  ops::axpy(static_cast<float>(1.0 - d), arena->data(), ema);
}

void Optimised::adopt_ema() {
  SAD_CHECK(ema.defined(), "trainer: adopt_ema without start_ema");
  arena->data().copy_from(ema);
  ema = Tensor();
}

void PendingLosses::reset(int64_t rows, int64_t width, DType dtype, Device device) {
  rows_ = Tensor::empty({std::max<int64_t>(rows, 1), width}, dtype, device);
  used_ = 0;
}

void PendingLosses::push(const Tensor& losses) {
  SAD_CHECK(rows_.defined() && losses.numel() == rows_.dim(1), "trainer: ", losses.numel(), " losses for rows of ",
            rows_.defined() ? rows_.dim(1) : 0);
  SAD_CHECK(used_ < rows_.dim(0), "trainer: more steps than a log period holds (", rows_.dim(0), ")");
  rows_.slice0(used_, used_ + 1).copy_from(losses.reshape({1, rows_.dim(1)}));
  ++used_;
}

std::vector<std::vector<double>> PendingLosses::take() {
  std::vector<std::vector<double>> out;
  if (used_ == 0) return out;
  const int64_t w = rows_.dim(1);
  const std::vector<double> v = rows_.slice0(0, used_).to_vector_f64();  // the one host read
  for (int64_t i = 0; i < used_; ++i)
    out.emplace_back(v.begin() + static_cast<std::ptrdiff_t>(i * w),
                     v.begin() + static_cast<std::ptrdiff_t>((i + 1) * w));
  used_ = 0;
  return out;
}

std::string PeriodSums::str() const {
  char buf[256];
  std::snprintf(buf, sizeof buf, "%.17g %.17g %.17g %.17g %.17g %.17g %lld", d, g, mse, ssim, adv, s,
                static_cast<long long>(steps));
  return buf;
}

void PeriodSums::add_rows(const std::vector<std::vector<double>>& rows, bool gan, int64_t next_step,
                          int64_t per_epoch) {
  static constexpr const char* kNames[] = {"L_D", "L_G"};
  int64_t step = next_step - static_cast<int64_t>(rows.size());
  for (const std::vector<double>& v : rows) {
    ++step;
    SAD_CHECK(v.size() == (gan ? 5u : 1u), "trainer: a loss row of ", v.size(), " values");
    for (size_t k = 0; k < (gan ? 2u : 1u); ++k)
      SAD_CHECK(std::isfinite(v[k]), "training diverged: ", gan ? kNames[k] : "L_S", " is ", v[k], " at epoch ",
                (step - 1) / std::max<int64_t>(per_epoch, 1), ", step ", step, " (try a lower learning rate)");
    if (gan)
      d += v[0], g += v[1], mse += v[2], ssim += v[3], adv += v[4];
    else
      s += v[0];
  }
}

PeriodSums PeriodSums::parse(const std::string& text, const std::string& source) {
  PeriodSums e;
  long long steps = 0;
  SAD_CHECK(
      std::sscanf(text.c_str(), "%lf %lf %lf %lf %lf %lf %lld", &e.d, &e.g, &e.mse, &e.ssim, &e.adv, &e.s, &steps) == 7,
      source, ": malformed period sums '", text, "'");
  e.steps = steps;
  return e;
}

PhasePlan make_plan(int64_t total, int64_t per_epoch, bool epoch_budget) {
  PhasePlan p;
  p.total = total;
  p.per_epoch = std::max<int64_t>(per_epoch, 1);
  p.log_every = epoch_budget ? p.per_epoch : std::max<int64_t>(1, (total + 39) / 40);
  const int64_t rows = std::max<int64_t>(1, (total + p.log_every - 1) / p.log_every);
  p.val_every = std::max<int64_t>(1, (rows + 9) / 10);
  return p;
}

double lr_factor(LrSchedule schedule, int64_t step, int64_t total) {
  if (schedule == LrSchedule::Constant || total <= 0) return 1.0;
  const double t = static_cast<double>(std::clamp<int64_t>(step, 0, total)) / static_cast<double>(total);
  return 0.5 * (1.0 + std::cos(std::numbers::pi * t));
}

void schedule_learning_rates(const Config& c, bool gan_phase, int64_t step, int64_t total, Optimised* g, Optimised* d,
                             Optimised* s) {
  if (gan_phase) {
    const double f = lr_factor(c.lr_schedule_g, step, total);
    g->adam->config().lr = c.lr_g * f;
    d->adam->config().lr = c.lr_d * f;
  } else {
    s->adam->config().lr = c.lr_s * lr_factor(c.lr_schedule_s, step, total);
  }
}

Tensor side_by_side(const Tensor& x, const Tensor& xr) {
  SAD_CHECK(x.ndim() == 4 && x.shape() == xr.shape() && x.dim(2) == x.dim(3),
            "side_by_side: images and reconstructions must share a (K, C, S, S) shape, got ", shape_str(x.shape()),
            " and ", shape_str(xr.shape()));
  const int64_t k = x.dim(0), c = x.dim(1), s = x.dim(2);
  const std::vector<float> a = x.to_vector(), r = xr.to_vector();
  const int64_t W = 2 * s, H = k * s;
  std::vector<float> img(static_cast<size_t>(c * H * W));
  for (int64_t i = 0; i < k; ++i)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t y = 0; y < s; ++y)
        for (int64_t xx = 0; xx < s; ++xx) {
          const size_t src = static_cast<size_t>(((i * c + ch) * s + y) * s + xx);
          const size_t row = static_cast<size_t>((ch * H + i * s + y) * W);
          img[row + static_cast<size_t>(xx)] = std::clamp((a[src] + 1) / 2, 0.0f, 1.0f);
          img[row + static_cast<size_t>(s + xx)] = std::clamp((r[src] + 1) / 2, 0.0f, 1.0f);
        }
  return Tensor::from_vector(img, {c, H, W});
}

ForwardTimes time_forward_passes(Generator& g, Discriminator& d, Segmenter* s, const Tensor& x) {
  using Clock = std::chrono::steady_clock;
  const auto since = [](Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); };
  ForwardTimes t;
  NoGradGuard ng;
  g.eval();
  d.eval();
  if (s) s->eval();
  for (int round = 0; round < 2; ++round) {
    Clock::time_point t0 = Clock::now();
    Variable xr = g.forward(Variable(x));
    (void)xr.data().to(Device::cpu());
    t.g = since(t0);
    t0 = Clock::now();
    (void)d.forward(xr).data().to(Device::cpu());
    t.d = since(t0);
    if (s) {
      t0 = Clock::now();
      (void)s->forward(Variable(x), xr).data().to(Device::cpu());
      t.s = since(t0);
    }
  }
  if (s) s->train();
  g.train();
  d.train();
  return t;
}

Tensor fit_floor(Generator& g, const std::vector<Tensor>& batches, ResidualKind kind, double factor, Device dev) {
  int64_t windows = 0;
  for (const Tensor& b : batches) windows += b.dim(0);
  const Tensor mean = mean_residual(
      g, static_cast<int64_t>(batches.size()), [&](int64_t i) { return batches[static_cast<size_t>(i)].to(dev); },
      kind);
  std::vector<float> v = mean.to_vector();
  double avg = 0, hi = 0;
  for (float& f : v) {
    avg += f, hi = std::max(hi, static_cast<double>(f));
    f *= static_cast<float>(factor);
  }
  std::printf("fit_excess: G's mean residual over %lld training windows: %.3f on average, %.3f at most (x %.2f)\n",
              static_cast<long long>(windows), avg / static_cast<double>(v.size()), hi, factor);
  return Tensor::from_vector(v, mean.shape()).to(dev);
}

}  // namespace sad
