// The op table: one entry per ops::OpId, each with the seeded cases (shapes and
// parameters) that tests/test_op_table.cpp runs through every check:
//   - the CPU float32 forward and backward against the CPU float64 reference;
//   - the finite-difference gradient check in float64 (inputs marked differentiable);
//   - when a GPU answers: the CUDA forward and backward against the float64 reference,
//     inputs inside guarded buffers, and two runs bit for bit.
// A case runs the op through its autograd function (or, for the optimiser ops that have
// none, through kernels/ops.h on a copy), on whatever device and dtype its inputs carry,
// so one description serves every backend. A new op adds its entry here; the test
// `op table: every OpId has an entry` fails until it does. The hand-written tests keep
// what a table cannot say: hand-computed values, edge cases, large and misaligned outputs.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "autograd/variable.h"
#include "kernels/ops.h"
#include "test_util.h"

namespace sad::test {

struct OpTol {
  double atol, rtol;
};

struct OpCase {
  std::string label;           // what the case varies: parameters and shapes
  std::vector<Tensor> inputs;  // float64 CPU values, each exactly a float32
  std::vector<bool> grad;      // which inputs are differentiated (all false: no gradient check)
  // The op on `in` (same device and dtype for all); one or more outputs.
  std::function<std::vector<Variable>(const std::vector<Variable>& in)> run;
  OpTol fwd{1e-6, 1e-5};  // float32 result (CPU or CUDA) against the float64 reference
  OpTol bwd{1e-5, 1e-4};  // float32 gradients against the float64 ones
  GradCheckOptions gc{};  // the float64 finite-difference check
};

struct OpEntry {
  ops::OpId id;
  std::function<std::vector<OpCase>()> cases;
};

// The table itself (tests/op_table.cpp).
const std::vector<OpEntry>& op_table();

// The ops of OpId without an entry, or with an entry that has no case.
std::vector<ops::OpId> ops_without_entry(const std::vector<OpEntry>& table);

}  // namespace sad::test
