// The CUDA backend's entry points (namespace sad::cuda): the same ops with the same
// signatures as kernels/cpu/cpu_ops.h, float32 only, plus the backend's run-time
// controls (probe, synchronise, fast math, allocator statistics).
// Plain C++: this header is included by dispatch.cpp and runtime.cpp, so it names no
// CUDA type. Inputs passed their op's contract (kernels/ops.h); nothing is checked twice.
// All work is queued on one stream (kernels/cuda/cuda_context.h) and is asynchronous
// with respect to the host unless a function says otherwise.
#pragma once

#include <cstddef>

#include "kernels/ops.h"

namespace sad::cuda {

// ---- ops (one implementation file per op family under kernels/cuda/) ----------------------
// Every entry point of kernels/ops.h, with the same name and parameters (the params types
// are ops::'s).
using namespace ::sad::ops;
SAD_OP_ENTRIES(SAD_DECLARE_BACKEND_ENTRY)

// ---- run-time controls ---------------------------------------------------------------------

// True when a GPU answers. The first success selects device 0, creates the stream and
// registers the CUDA DeviceApi (tensor/device.h); the answer is computed once per
// process. Any CUDA error (no driver, "driver version is insufficient", no device)
// means false: never throws, never prints.
bool probe_and_register();

// Waits for all queued work on the backend's stream; throws sad::Error on a CUDA error
// (a failed kernel reports here at the latest).
void synchronize();

// Fast math: TF32 tensor cores in cuBLAS and cuDNN, and cuDNN algorithms that are not
// deterministic. Off by default (fp32 FMA math, deterministic algorithms); the initial
// value comes from SPARSEAD_FAST_MATH=1. Takes effect at the next op call.
void set_fast_math(bool on);
bool fast_math();

// The caching device allocator (kernels/cuda/allocator.cpp). Byte counts are those of
// the rounded size classes, i.e. what the device actually holds for us.
struct AllocatorStats {
  size_t bytes_in_use = 0;        // handed out and not yet returned
  size_t peak_bytes = 0;          // max of bytes_in_use since start or reset_peak_stats()
  size_t cached_bytes = 0;        // returned blocks kept for reuse
  size_t num_allocs = 0;          // allocate() calls
  size_t num_cache_hits = 0;      // allocate() calls served from the cache
  size_t num_device_mallocs = 0;  // cudaMalloc calls that succeeded
  size_t num_releases = 0;        // times the cache was emptied (on demand or on OOM retry)
};
AllocatorStats allocator_stats();
void reset_peak_stats();
// Returns every cached (unused) block to the driver; blocks in use are untouched.
void release_cached_memory();

// out = scale * sum of all elements of x, through deterministic_sum (cuda_common.cuh):
// the building block of whole-tensor reductions and losses, exposed so that the parity
// tests can check it (accuracy and bitwise repeatability) apart from any op.
void sum_all(const Tensor& x, Tensor& out /*(1)*/, double scale);

}  // namespace sad::cuda
