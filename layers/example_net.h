// A small conv net and a fixed-batch training loop: the framework's smoke test, shared by
// the overfit example (apps/overfit_example.cpp) and the determinism tests, so that both
// exercise exactly the same code.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "layers/layers.h"

namespace sad {

// conv3x3(3->16)-BN-ReLU, conv3x3 s2(16->16)-BN-LeakyReLU, upsample x2, conv3x3(16->1)-tanh.
std::shared_ptr<Sequential> make_example_net();

struct FixedBatchResult {
  std::vector<double> losses;  // one per step
  std::vector<float> params;   // the parameter arena after the last step
};

// Trains make_example_net() with Adam (lr 1e-2) on one fixed random batch
// x (4, 3, 12, 14) -> y (4, 1, 12, 14) with MSE; everything derives from `seed`.
// on_step(step, loss) is called after each step when given.
FixedBatchResult train_fixed_batch(uint64_t seed, int steps, Device device = Device::cpu(),
                                   const std::function<void(int, double)>& on_step = {});

}  // namespace sad
