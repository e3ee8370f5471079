// The argument checks that every op's contract is written with (kernels/cpu/<op>.cpp, the
// `contract` namespace): kernels/ops.h's entry points run an op's contract once, before
// either backend, so the CPU and CUDA versions can trust their inputs. Internal to kernels/.
#pragma once

#include <initializer_list>
#include <utility>

#include "kernels/cpu/conv2d_direct.h"
#include "kernels/cpu/isa.h"
#include "kernels/ops.h"
#include "kernels/runtime.h"

namespace sad::ops::detail {

inline void check_defined(const char* op, const char* name, const Tensor& t) {
  SAD_CHECK(t.defined(), op, ": ", name, " is undefined");
}

// All tensors of one call share dtype and device.
inline void check_alike(const char* op, const Tensor& ref,
                        std::initializer_list<std::pair<const char*, const Tensor*>> ts) {
  for (auto& [name, t] : ts) {
    if (!t) continue;
    check_defined(op, name, *t);
    SAD_CHECK(t->dtype() == ref.dtype() && t->device() == ref.device(), op, ": ", name, " is ", t->str(),
              " but the op runs on ", ref.str());
  }
}

inline void check_shape(const char* op, const char* name, const Tensor& t, const Shape& expected) {
  SAD_CHECK(t.shape() == expected, op, ": ", name, " has shape ", shape_str(t.shape()), ", expected ",
            shape_str(expected));
}

inline void check_ndim(const char* op, const char* name, const Tensor& t, int n) {
  SAD_CHECK(t.ndim() == n, op, ": ", name, " must have ", n, " dimensions, got ", shape_str(t.shape()));
}

// A loss and its upstream gradient are one-element tensors of shape (1).
inline void check_scalar(const char* op, const char* name, const Tensor& t) { check_shape(op, name, t, {1}); }

inline void check_supported(OpId op, const Tensor& ref) {
  // Applies SPARSEAD_THREADS, SPARSEAD_ISA and SPARSEAD_CONV_L1_BUDGET once, here in the
  // caller's thread: a bad value raised inside a kernel's OpenMP region could only
  // terminate the process.
  static const bool configured = (num_threads(), cpu::cpu_isa(), cpu::conv_direct::l1_budget(), true);
  (void)configured;
  SAD_CHECK(supports_op(op, ref.device(), ref.dtype()), op_name(op), ": not supported on ", ref.device().str(), " for ",
            dtype_name(ref.dtype()));
}

// The opening of every contract: `ref` (the tensor whose device runs the op) is defined,
// the other tensors share its dtype and device (a null one is skipped), and the op runs
// there.
inline void check_call(const char* op, OpId id, const char* ref_name, const Tensor& ref,
                       std::initializer_list<std::pair<const char*, const Tensor*>> others) {
  check_defined(op, ref_name, ref);
  check_alike(op, ref, others);
  check_supported(id, ref);
}

}  // namespace sad::ops::detail
