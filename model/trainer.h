// Training: phase 1 (G and D on normal images, with the training-time perturbation),
// phase 2 (S with the sparsity-prior loss, or focal loss on the synthetic masks in the
// mask-supervised ablation; none in residual mode), then thresholds on held-out
// validation images. Everything random derives from (seed, purpose, epoch, image), so a
// run replays bit for bit on the CPU, with the loader thread and across --resume.
#pragma once

#include <atomic>
#include <functional>
#include <string>

#include "data/dataset.h"
#include "model/anomaly_model.h"

namespace sad {

struct TrainOptions {
  data::Dataset dataset;       // train (normal) images; test is not used
  std::string out_dir;         // RUN/
  Config cfg;                  // finalised; channels set from the data
  Device device = Device::cpu();
  bool resume = false;         // continue from RUN/checkpoint.safetensors
  bool quiet = false;          // one line per epoch, no progress bar
  const std::atomic<bool>* stop = nullptr;  // set by Ctrl-C: finish the step, checkpoint, return
  // Shares phase 1 between modes: a model file, or the checkpoint of a run that has
  // finished phase 1, whose G (and config) to start from; phase 1 is then skipped.
  std::string init_generator;
};

// The generator of --init-generator and the config it was trained with, read from a model
// file or from a training checkpoint past phase 1 (so other modes can start while that run
// is still in phase 2). Errors name the file.
struct GeneratorSource {
  Config cfg;
  std::vector<std::pair<std::string, Tensor>> state;  // G's tensors without the "G." prefix
};
GeneratorSource load_generator_source(const std::string& path);

struct TrainResult {
  bool completed = false;  // false when stopped early (a checkpoint was written)
  double seconds_gan = 0, seconds_seg = 0;
  std::string model_path;
};

// Writes RUN/model.safetensors, RUN/config.json, RUN/train_log.csv, RUN/checkpoint.safetensors
// (each epoch, atomically) and RUN/samples/*.png (reconstruction samples per epoch).
TrainResult train(const TrainOptions& opt);

}  // namespace sad
