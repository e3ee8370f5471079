// The training and inference workloads the benchmarks time: the networks of a preset
// built and initialised as the trainer builds them, a fixed synthetic batch, and one call
// per step through the trainer's own step functions (model/train_step.h). Shared by
// sparsead-bench (Google Benchmark) and sparsead-steps (the PyTorch comparison).
#pragma once

#include <memory>
#include <string>

#include "layers/optim.h"
#include "model/anomaly_model.h"
#include "model/train_step.h"

namespace sad::bench {

// Latency: one image from its PNG file to its score, as `sparsead predict` runs it
// (decode, resize, G, S, sigmoid, blur, image score, the map at the image's size): batch 1.
enum class Phase { Gan, Seg, Infer, Latency };
const char* phase_name(Phase p);  // "phase1", "phase2", "inference", "latency"
Phase parse_phase(const std::string& s);

struct WorkloadOptions {
  std::string preset = "cpu";  // cpu (S=128, w=16) or paper (S=256, w=32)
  int64_t batch = 16;
  int64_t channels = 3;
  Device device = Device::cpu();
  uint64_t seed = 0;
};

// Builds only what `phase` needs (phase 1: G, D and their Adams; phase 2: G, S and S's
// Adam; inference: G and S), so a process that runs one phase holds that phase's memory.
class Workload {
 public:
  Workload(Phase phase, const WorkloadOptions& o);
  ~Workload();
  Workload(const Workload&) = delete;
  Workload& operator=(const Workload&) = delete;

  // One step; the returned value (a loss, or the maps' mean for inference) has been read
  // back to the host, so the step's device work is complete when it returns.
  double step();
  // One step, then checks that everything it produced is finite and that the step did
  // what it should (phase 1 and 2: the parameters moved; inference: maps in [0, 1]).
  // Throws sad::Error naming the problem.
  void validate();

  const Config& config() const { return cfg_; }
  Phase phase() const { return phase_; }
  int64_t batch() const { return batch_; }

 private:
  Phase phase_;
  int64_t batch_;  // images per step (inference may take 1; training needs 2 for batch norm)
  Config cfg_;
  AnomalyModel model_;
  std::shared_ptr<Discriminator> d_;
  std::unique_ptr<ParameterArena> arena_g_, arena_d_, arena_s_;
  std::unique_ptr<Adam> adam_g_, adam_d_, adam_s_;
  GanLossWeights gan_w_;
  SegLossSettings seg_;
  Tensor x_, x_tilde_, labels_;  // (B, C, S, S), (B, C, S, S), (B)
  std::string png_;              // latency: image 0 of x_ as a PNG file (removed by the destructor)
};

}  // namespace sad::bench
