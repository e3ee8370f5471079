// The trainer's small parts, kept out of model/trainer.cpp: the loss sums a checkpoint
// carries between log rows, a phase's plan of steps, and the reconstruction sample image.
#pragma once

#include <cstdint>
#include <string>

#include "tensor/tensor.h"

namespace sad {

// Loss sums since the last log row: stored in a checkpoint taken between rows, so that the
// resumed row logs the same averages as an uninterrupted run.
struct PeriodSums {
  double d = 0, g = 0, mse = 0, ssim = 0, adv = 0, s = 0;
  int64_t steps = 0;

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

// Images x (K, C, S, S) beside their reconstructions xr, both in [-1, 1]: one (C, K S, 2 S)
// image in [0, 1], a row per image, the input on the left.
Tensor side_by_side(const Tensor& x, const Tensor& xr);

}  // namespace sad
