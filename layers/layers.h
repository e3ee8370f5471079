// The layers the three networks are built from: Conv2d, BatchNorm2d, activations,
// nearest upsampling and Sequential. Initialisation follows METHOD.md (DCGAN
// convention): conv weights N(0, 0.02), BN weight 1 and bias 0, other biases 0, all
// drawn from one seeded Rng in registration order.
#pragma once

#include <memory>
#include <vector>

#include "autograd/functions.h"
#include "layers/module.h"

namespace sad {

class Conv2d final : public Layer {
 public:
  Conv2d(int64_t in_channels, int64_t out_channels, int kernel, int stride = 1, int padding = 0, bool bias = true);
  Variable forward(const Variable& x) override;  // (N, Ci, H, W) -> (N, Co, Ho, Wo)
  void reset_parameters(Rng& rng) override;

  Variable weight;  // (Co, Ci, K, K)
  Variable bias;    // (Co), undefined without bias
  ops::Conv2dParams params;
};

class BatchNorm2d final : public Layer {
 public:
  explicit BatchNorm2d(int64_t channels, float momentum = 0.1f, float eps = 1e-5f);
  Variable forward(const Variable& x) override;  // (N, C, H, W)
  // act(batch norm(x)) in one op (ops::BnAct): the same values as forward() followed by the
  // relu or leaky_relu op, one pass and one saved tensor fewer.
  Variable forward_act(const Variable& x, ops::BnAct act, float alpha = 0.0f);
  void reset_parameters(Rng& rng) override;

  Variable weight;       // (C) gamma
  Variable bias;         // (C) beta
  Tensor* running_mean;  // (C)
  Tensor* running_var;   // (C)
  float momentum, eps;
};

class ReLU final : public Layer {
 public:
  Variable forward(const Variable& x) override { return relu(x); }
};

class LeakyReLU final : public Layer {
 public:
  explicit LeakyReLU(float slope = 0.2f) : slope_(slope) {}
  Variable forward(const Variable& x) override { return leaky_relu(x, slope_); }

 private:
  float slope_;
};

class Tanh final : public Layer {
 public:
  Variable forward(const Variable& x) override { return tanh(x); }
};

class Sigmoid final : public Layer {
 public:
  Variable forward(const Variable& x) override { return sigmoid(x); }
};

class UpsampleNearest final : public Layer {
 public:
  explicit UpsampleNearest(int scale = 2) : scale_(scale) {}
  Variable forward(const Variable& x) override { return upsample_nearest(x, scale_); }

 private:
  int scale_;
};

// Children named "0", "1", ... in order.
class Sequential final : public Layer {
 public:
  Sequential() = default;
  Sequential& add(std::shared_ptr<Layer> layer);
  Variable forward(const Variable& x) override;
  size_t size() const { return layers_.size(); }
  Layer& operator[](size_t i) { return *layers_.at(i); }

 private:
  std::vector<std::shared_ptr<Layer>> layers_;
};

}  // namespace sad
