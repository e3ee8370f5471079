// The smoke-test network and its fixed-batch training loop.
#include "layers/example_net.h"

#include "layers/optim.h"

namespace sad {

std::shared_ptr<Sequential> make_example_net() {
  auto net = std::make_shared<Sequential>();
  net->add(std::make_shared<Conv2d>(3, 16, 3, 1, 1, false))
      .add(std::make_shared<BatchNorm2d>(16))
      .add(std::make_shared<ReLU>())
      .add(std::make_shared<Conv2d>(16, 16, 3, 2, 1, false))
      .add(std::make_shared<BatchNorm2d>(16))
      .add(std::make_shared<LeakyReLU>(0.2f))
      .add(std::make_shared<UpsampleNearest>(2))
      .add(std::make_shared<Conv2d>(16, 1, 3, 1, 1, true))
      .add(std::make_shared<Tanh>());
  return net;
}

namespace {
Tensor uniform_tensor(const Shape& shape, uint64_t seed, double lo, double hi, Device device) {
  Rng rng(seed);
  std::vector<double> v(static_cast<size_t>(shape_numel(shape)));
  for (double& x : v) x = rng.uniform(lo, hi);
  return Tensor::from_vector_f64(v, shape, DType::F32, device);
}
}  // namespace

FixedBatchResult train_fixed_batch(uint64_t seed, int steps, Device device,
                                   const std::function<void(int, double)>& on_step) {
  auto net = make_example_net();
  Rng rng = Rng::stream(seed, {0});
  init_parameters(*net, rng);
  net->to(device);
  ParameterArena arena(net->parameters());
  Adam adam(arena, {.lr = 1e-2});
  Variable x(uniform_tensor({4, 3, 12, 14}, seed + 1, -1, 1, device));
  Variable y(uniform_tensor({4, 1, 12, 14}, seed + 2, -0.8, 0.8, device));
  FixedBatchResult r;
  for (int s = 0; s < steps; ++s) {
    adam.zero_grad();
    Variable loss = mse_loss(net->forward(x), y);
    r.losses.push_back(loss.data().item());
    loss.backward();
    adam.step();
    if (on_step) on_step(s, r.losses.back());
  }
  r.params = arena.data().to_vector();
  return r;
}

}  // namespace sad
