// Run-time choices below the op interface: which device runs ("auto" picks CUDA when a
// usable GPU exists) and how many CPU threads the reference kernels and OpenBLAS use.
#pragma once

#include <string_view>

#include "tensor/device.h"

namespace sad {

// True when this build has the CUDA backend and a GPU answers. Any CUDA error while
// probing (no driver, "driver version is insufficient", no device) means false.
bool cuda_available();

// "cpu", "cuda" or "auto". "cuda" without a usable GPU is an error; "auto" falls back to
// the CPU and prints one info line (once per process) when CUDA was built but is absent.
Device resolve_device(std::string_view spec);

// CPU threads for OpenMP loops and OpenBLAS (one pool: the OpenMP build of OpenBLAS).
// Default: SPARSEAD_THREADS if set, else OpenMP's default; set_num_threads wins over both.
void set_num_threads(int n);
int num_threads();

}  // namespace sad
