// Conv2d, BatchNorm2d and Sequential.
#include "layers/layers.h"

#include <string>

namespace sad {

namespace {
// Fills a CPU tensor from N(mean, std) and places it on `like`'s device.
void fill_normal(Variable& v, Rng& rng, double mean, double stddev) {
  std::vector<double> vals(static_cast<size_t>(v.data().numel()));
  for (double& x : vals) x = rng.normal(mean, stddev);
  Tensor t = Tensor::from_vector_f64(vals, v.shape(), v.dtype(), v.device());
  Tensor d = v.data();
  d.copy_from(t);
}
void fill_value(const Tensor& t, float value) {
  Tensor d = t;
  ops::fill(d, value);
}
}  // namespace

Conv2d::Conv2d(int64_t in_channels, int64_t out_channels, int kernel, int stride, int padding, bool with_bias) {
  SAD_CHECK(in_channels > 0 && out_channels > 0 && kernel > 0 && stride > 0 && padding >= 0, "Conv2d(", in_channels,
            ", ", out_channels, ", k=", kernel, ", s=", stride, ", p=", padding, "): invalid arguments");
  weight = register_parameter("weight", Tensor::zeros({out_channels, in_channels, kernel, kernel}));
  if (with_bias) bias = register_parameter("bias", Tensor::zeros({out_channels}));
  params = {stride, stride, padding, padding};
}

Variable Conv2d::forward(const Variable& x) { return conv2d(x, weight, bias, params); }

void Conv2d::reset_parameters(Rng& rng) {
  fill_normal(weight, rng, 0.0, 0.02);
  if (bias.defined()) fill_value(bias.data(), 0.0f);
}

BatchNorm2d::BatchNorm2d(int64_t channels, float momentum_, float eps_) : momentum(momentum_), eps(eps_) {
  SAD_CHECK(channels > 0, "BatchNorm2d(", channels, "): invalid channel count");
  weight = register_parameter("weight", Tensor::full({channels}, 1.0));
  bias = register_parameter("bias", Tensor::zeros({channels}));
  running_mean = &register_buffer("running_mean", Tensor::zeros({channels}));
  running_var = &register_buffer("running_var", Tensor::full({channels}, 1.0));
}

Variable BatchNorm2d::forward(const Variable& x) { return forward_act(x, ops::BnAct::None); }

Variable BatchNorm2d::forward_act(const Variable& x, ops::BnAct act, float alpha) {
  return batch_norm2d(x, weight, bias, *running_mean, *running_var, {is_training(), momentum, eps, act, alpha});
}

void BatchNorm2d::reset_parameters(Rng&) {
  fill_value(weight.data(), 1.0f);
  fill_value(bias.data(), 0.0f);
  fill_value(*running_mean, 0.0f);
  fill_value(*running_var, 1.0f);
}

Sequential& Sequential::add(std::shared_ptr<Layer> layer) {
  register_module(std::to_string(layers_.size()), layer);
  layers_.push_back(std::move(layer));
  return *this;
}

Variable Sequential::forward(const Variable& x) {
  Variable h = x;
  for (auto& l : layers_) h = l->forward(h);
  return h;
}

}  // namespace sad
