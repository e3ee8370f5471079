// How sparsead-bench registers its benchmarks: per device, by family (ops, model), with
// one wrapper that gives every benchmark the same treatment (wall-clock time, since
// OpenMP threads and GPU streams make the main thread's CPU time meaningless; ms; a
// validation failure ends the program with the benchmark's name and the reason).
#pragma once

#include <benchmark/benchmark.h>

#include <functional>
#include <string>

#include "bench/bench_util.h"

namespace sad::bench {

// The two shape presets of METHOD.md (batch 16, C = 3).
struct Preset {
  const char* tag;  // "S128w16" or "S256w32": the shape, not the preset's device
  int64_t size, width;
  int64_t channels = 3, batch = 16;
};
inline constexpr Preset kCpuPreset{"S128w16", 128, 16};
inline constexpr Preset kPaperPreset{"S256w32", 256, 32};

benchmark::internal::Benchmark* add(const std::string& name, std::function<void(benchmark::State&)> fn);

// Times `body` once per iteration; on a GPU each iteration ends with a device
// synchronisation, so the time is that of the work, not of queueing it.
template <class Body>
void timed_loop(benchmark::State& st, Device d, Body&& body) {
  for (auto _ : st) {
    body();
    sync(d);
  }
}

void register_op_benchmarks(Device d);     // bench/bench_ops.cpp
void register_model_benchmarks(Device d);  // bench/bench_model.cpp
void register_layer_benchmarks(Device d);  // bench/bench_layers.cpp

}  // namespace sad::bench
