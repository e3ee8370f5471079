// Parameters and gradients in one arena each, and Adam as one pass over the arena.
// Building a ParameterArena moves every parameter's value into a slice of one flat
// tensor and points its gradient at the matching slice of another, so zero_grad is one
// fill and the optimizer step is one kernel launch, however many layers there are.
#pragma once

#include <vector>

#include "autograd/variable.h"
#include "kernels/ops.h"

namespace sad {

class ParameterArena {
 public:
  // All parameters must share one device and dtype. Each slice starts on a 16-element
  // boundary (64 bytes in float32), so vectorised kernels see aligned rows; the padding
  // holds zeros in both arenas and stays zero under Adam.
  explicit ParameterArena(std::vector<Variable> params);
  ParameterArena(const ParameterArena&) = delete;
  ParameterArena& operator=(const ParameterArena&) = delete;

  Tensor& data() { return data_; }  // (total)
  Tensor& grad() { return grad_; }  // (total)
  const std::vector<Variable>& parameters() const { return params_; }
  int64_t total() const { return data_.numel(); }
  void zero_grad() { grad_.zero_(); }

 private:
  std::vector<Variable> params_;
  Tensor data_, grad_;
};

// Double, as in ops::AdamParams (a float beta2 = 0.999f would make 1 - beta2 1.3e-5 off).
struct AdamConfig {
  double lr = 1e-3;
  double beta1 = 0.9, beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
};

class Adam {
 public:
  Adam(ParameterArena& arena, const AdamConfig& cfg);
  void step();  // one fused update of the whole arena
  // A one-element tensor on the arena's device (ops::flag_nonfinite's flag): while it holds a
  // non-zero value, step() changes nothing. The device reads it: no host wait. Undefined: off.
  void set_skip_flag(const Tensor& flag) { skip_ = flag; }
  void zero_grad() { arena_.zero_grad(); }

  // Optimizer state, for checkpoints.
  int64_t steps() const { return step_; }
  void set_steps(int64_t s) { step_ = s; }
  Tensor& m() { return m_; }
  Tensor& v() { return v_; }
  AdamConfig& config() { return cfg_; }

 private:
  ParameterArena& arena_;
  AdamConfig cfg_;
  Tensor m_, v_;
  Tensor skip_;
  int64_t step_ = 0;
};

}  // namespace sad
