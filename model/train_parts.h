// The trainer's small parts, kept out of model/trainer.cpp: a network's optimisation state
// (arena, Adam, the weight average), the loss sums a checkpoint carries between log rows, a
// phase's plan of steps, the reconstruction sample image, the plan's forward timings and
// fit_excess's floor.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "data/loader.h"
#include "layers/module.h"
#include "layers/optim.h"
#include "model/networks.h"
#include "model/trainer.h"
#include "tensor/tensor.h"

namespace sad {

// Everything a network's optimisation needs: its parameters in one arena, Adam over the arena,
// and, when asked for (config ema_g), an exponential moving average of the weights.
struct Optimised {
  std::unique_ptr<ParameterArena> arena;
  std::unique_ptr<Adam> adam;
  Tensor ema;  // (arena total), on the arena's device; undefined when there is no average

  Optimised(Module& m, const AdamConfig& cfg);
  // The average starts at the current weights.
  void start_ema() { ema = arena->data().clone(); }
  // After an Adam step: ema = d ema + (1 - d) w with d = ema_decay(decay, Adam's step count).
  void update_ema(double decay);
  // The average becomes the weights and is dropped (BN running statistics are buffers, not
  // parameters: they stay the trained network's).
  void adopt_ema();
};
// printf-style formatting into a std::string, for progress and log lines.
template <typename... A>
std::string line_text(const char* fmt, A... args) {
  char buf[320];
  std::snprintf(buf, sizeof buf, fmt, args...);
  return buf;
}

// Lines to stdout, no bar: the trainer's voice when the caller gives no progress sink.
class PlainProgress final : public TrainProgress {
 public:
  void start(const std::string&, int64_t, const std::string&) override {}
  void advance(int64_t, const std::string&) override {}
  void finish() override {}
  void line(const std::string& text) override;
};

// The decay at step t (from 1): min(decay, (1 + t) / (10 + t)), so the first steps, which
// move the weights most, are not held back by the random initialisation.
double ema_decay(double decay, int64_t t);

// The fields of a training sample, in the loader's field order.
enum SampleField : size_t { kFieldClean = 0, kFieldInput = 1, kFieldMask = 2, kFieldLabel = 3, kFieldCount };

// A loader batch by name: x (clean), x~ (perturbed input), m (perturbation mask) and y (weak
// labels), each stacked over the batch, on the CPU.
struct TrainBatch {
  Tensor clean, input, mask, labels;  // (B, C, S, S), (B, C, S, S), (B, 1, S, S), (B)
  explicit TrainBatch(const data::Batch& b) {
    SAD_CHECK(b.fields.size() == kFieldCount, "trainer: a batch has ", b.fields.size(), " fields, expected ",
              static_cast<size_t>(kFieldCount));
    clean = b.fields[kFieldClean], input = b.fields[kFieldInput], mask = b.fields[kFieldMask];
    labels = b.fields[kFieldLabel].reshape({b.fields[kFieldLabel].dim(0)});
  }
};

// The losses of the steps since the last read, kept on the networks' device so that a step
// never waits on the host: push() copies a step's (width) losses into the next row on the
// device; take() reads every pending row in one copy, in step order, and empties the buffer.
class PendingLosses {
 public:
  void reset(int64_t rows, int64_t width, DType dtype, Device device);
  void push(const Tensor& losses);
  std::vector<std::vector<double>> take();
  int64_t size() const { return used_; }

 private:
  Tensor rows_;  // (rows, width)
  int64_t used_ = 0;
};

// Loss sums since the last log row: stored in a checkpoint taken between rows, so that the
// resumed row logs the same averages as an uninterrupted run.
struct PeriodSums {
  double d = 0, g = 0, mse = 0, ssim = 0, adv = 0, s = 0;
  int64_t steps = 0;

  // PendingLosses rows of the steps up to next_step (1-based steps next_step - n + 1 ..
  // next_step), added in step order as the steps would have added them one by one; the first
  // non-finite L_D or L_G (gan) or L_S fails the run naming it, its epoch (0-based, as in
  // StepPlace) and step: the step guard has kept it from the weights.
  void add_rows(const std::vector<std::vector<double>>& rows, bool gan, int64_t next_step, int64_t per_epoch);
  std::string str() const;  // every double to 17 digits: parse(str()) gives the same sums
  static PeriodSums parse(const std::string& text, const std::string& source);  // source names the file
};

// A phase's budget and rhythm: `total` steps, `per_epoch` batches an epoch, a log row (and
// checkpoint) every `log_every` steps, validation every `val_every` rows (phase 2).
struct PhasePlan {
  int64_t total = 0, per_epoch = 1, log_every = 1, val_every = 1;
};
// An epoch budget logs each epoch; a step budget about 40 rows a phase; about ten
// validations a phase.
PhasePlan make_plan(int64_t total, int64_t per_epoch, bool epoch_budget);
// The factor config lr_schedule_g/_s puts on a phase's learning rates at its step `step`
// (0-based) of `total`: 1 for constant; (1 + cos(pi step / total)) / 2 for cosine. A function
// of the step alone, so a resumed run continues the schedule bit for bit.
double lr_factor(LrSchedule schedule, int64_t step, int64_t total);
// Sets the learning rates of a phase's optimisers for its step `step` of `total`: phase 1's G
// and D (lr_g, lr_d on lr_schedule_g), phase 2's S (lr_s on lr_schedule_s). The other phase's
// optimisers may be null.
void schedule_learning_rates(const Config& c, bool gan_phase, int64_t step, int64_t total, Optimised* g, Optimised* d,
                             Optimised* s);

// Seconds of one forward pass each of G, D and S (0 without S) on x, in eval mode without
// gradients (the second of two rounds: the first pays for thread start-up and fresh pages);
// the networks are back in training mode after. The plan's time estimate.
struct ForwardTimes {
  double g = 0, d = 0, s = 0;
};
ForwardTimes time_forward_passes(Generator& g, Discriminator& d, Segmenter* s, const Tensor& x);

// fit_excess's floor: `factor` times G's mean residual (model/losses.h, mean_residual) over
// `batches` of clean training windows (CPU, (B, C, S, S)), as (1, 1, S, S) on `dev`. Prints a
// line with the mean's average and maximum.
Tensor fit_floor(Generator& g, const std::vector<Tensor>& batches, ResidualKind kind, double factor, Device dev);

// Images x (K, C, S, S) beside their reconstructions xr, both in [-1, 1]: one (C, K S, 2 S)
// image in [0, 1], a row per image, the input on the left.
Tensor side_by_side(const Tensor& x, const Tensor& xr);

}  // namespace sad
