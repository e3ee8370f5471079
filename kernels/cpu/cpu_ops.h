// CPU reference implementations: the specification every other backend is checked
// against. Plain loops, double accumulators for reductions, OpenMP at most, OpenBLAS for
// GEMM. Each works on float32 and float64 (for double-precision gradient checks).
// Signatures are kernels/ops.h's; inputs passed the op's contract there, so nothing is
// checked twice here. One file per op: kernels/cpu/<op>.cpp.
#pragma once

#include "kernels/ops.h"

namespace sad::cpu {

// Every entry point of kernels/ops.h, with the same name and parameters (the params types
// are ops::'s).
using namespace ::sad::ops;
SAD_OP_ENTRIES(SAD_DECLARE_BACKEND_ENTRY)

// Runs f with T = float or double according to dtype:
//   dispatch_float(x.dtype(), [&]<typename T>(TypeTag<T>) { ... T* p = x.data<T>(); ... });
// (A lambda rather than a macro, so that OpenMP pragmas may appear in the body.)
template <typename T>
struct TypeTag {
  using type = T;
};
template <typename F>
void dispatch_float(DType dtype, F&& f) {
  if (dtype == DType::F64)
    f(TypeTag<double>{});
  else
    f(TypeTag<float>{});
}

}  // namespace sad::cpu
