// The CPU backend's memory: 64-byte aligned blocks, and a cache of freed large blocks.
//
// A training step frees and allocates the same large buffers (activations, gradients,
// lowered convolution inputs) every step. glibc returns blocks above its mmap threshold to
// the kernel on free, so each step's fresh buffers page-fault again on first touch: 5 % of
// a phase-1 step and 17 % of inference in docs/BENCHMARKS.md's profiles. The cache keeps
// freed blocks of 64 KiB and more by size class (a power of two split into 8 steps, so at
// most 12.5 % larger than asked) and hands them out again, up to a cap on the bytes it
// holds (SPARSEAD_HOST_CACHE_MB, default 2048; 0 turns it off); a block returned past
// the cap goes back to the system. Smaller blocks go straight to malloc.
//
// The cache never changes a result: kernels write every output element before reading it
// (the sanitizer build checks that, and bypasses the cache so that it sees every block's
// lifetime). Thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tensor/device.h"

namespace sad {

// The allocator of DeviceApi "cpu" (tensor/tensor.cpp).
Allocator& host_allocator();

struct HostCacheStats {
  bool enabled = false;
  size_t cap_bytes = 0;     // most bytes the cache may hold
  size_t cached_bytes = 0;  // held now, free for reuse
  int64_t hits = 0;         // large allocations served from the cache
  int64_t misses = 0;       // large allocations that went to the system
};
HostCacheStats host_cache_stats();

// Returns every cached block to the system (e.g. between phases that use other sizes).
void host_cache_release();

// The cap that a value of SPARSEAD_HOST_CACHE_MB gives, in bytes (null or empty: the
// default, 2048 MiB); anything but a whole number of MiB in [0, 2^30] is a sad::Error.
size_t host_cache_cap_bytes(const char* value);

// The size class a large request is rounded up to (exposed for the tests).
size_t host_size_class(size_t nbytes);

}  // namespace sad
