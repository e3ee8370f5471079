// Training: phase 1 (G and D on normal images, with the training-time perturbation),
// phase 2 (S with the sparsity-prior loss, or focal loss on the synthetic masks in the
// mask-supervised ablation; none in residual mode), then validation on held-out images:
// thresholds, statistics and the collapse alarm. Budgets are optimiser steps (or epochs);
// step t of a phase is batch t % E of epoch t / E (E batches an epoch), and everything
// random derives from (seed, purpose, epoch, image), so a run replays bit for bit on the
// CPU, with the loader thread and across --resume.
#pragma once

#include <atomic>
#include <functional>
#include <string>

#include "data/dataset.h"
#include "model/anomaly_model.h"
#include "model/model_file.h"  // GeneratorSource
#include "model/run_dir.h"     // kRunMarker, is_failed_start

namespace sad {

// How the trainer reports progress: the CLI draws a bar (its ProgressBar); without one the
// trainer prints its log lines to stdout. Units are steps or images.
class TrainProgress {
 public:
  virtual ~TrainProgress() = default;
  virtual void start(const std::string& label, int64_t total, const std::string& unit) = 0;
  virtual void advance(int64_t n, const std::string& status) = 0;
  virtual void finish() = 0;
  virtual void line(const std::string& text) = 0;  // one line for the log
};

struct TrainOptions {
  data::Dataset dataset;  // train (normal) images; test is not used
  std::string out_dir;    // RUN/
  Config cfg;             // finalised; channels set from the data
  Device device = Device::cpu();
  bool resume = false;                      // continue from RUN/checkpoint.safetensors
  bool quiet = false;                       // no progress bar: one log line per log row
  TrainProgress* progress = nullptr;        // null: log lines to stdout, no bar
  const std::atomic<bool>* stop = nullptr;  // set by Ctrl-C: finish the step, checkpoint, return
  // Shares phase 1 between modes: a model file, or the checkpoint of a run that has
  // finished phase 1, whose G (and config) to start from; phase 1 is then skipped, and the
  // run records the generator's phase-1 options (Config::adopt_phase1). A resume may leave
  // it empty: the checkpoint keeps both.
  std::string init_generator;
  // out_dir holds a run that failed before its first checkpoint (our marker, no checkpoint,
  // no model): its files are removed, under the run's lock, and training starts afresh.
  bool restart_failed_start = false;
};

struct TrainResult {
  bool completed = false;  // false when stopped early (a checkpoint was written)
  double seconds_gan = 0, seconds_seg = 0;
  int64_t steps_gan = 0, steps_seg = 0;  // the planned budgets (steps_gan 0: phase 1 skipped, --init-generator)
  std::string model_path;
  std::string alarm;  // the collapse alarm's line; empty when healthy
};

// Writes RUN/model.safetensors, RUN/config.json, RUN/train_log.csv, RUN/checkpoint.safetensors
// (at each log row, atomically; the log is stored in the checkpoint too, so after a crash
// the resumed log is the checkpoint's) and RUN/samples/*.png (reconstruction samples).
// RUN/.lock (flock) keeps a second process out of the run directory; temporary files of
// a dead process are removed when a run starts or resumes.
TrainResult train(const TrainOptions& opt);

}  // namespace sad
