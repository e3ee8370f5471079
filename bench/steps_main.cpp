// sparsead-steps: times one phase (phase1, phase2, inference or latency) of our training and
// inference steps and prints one JSON object: per-step times, images/s and the process's
// memory (peak RSS; on a GPU also the caching allocator's peak). One phase per process,
// so the peak is that phase's. bench/compare_torch.sh runs it next to bench/torch_bench.py.
//
//   sparsead-steps --phase phase1 [--preset cpu] [--batch 16] [--threads 2]
//                  [--device cpu|cuda] [--steps 5] [--warmup 1]
#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "bench/workload.h"
#include "kernels/runtime.h"
#include "tensor/json.h"
#include "tensor/text.h"
#if SPARSEAD_HAVE_CUDA_OPS
#include "kernels/cuda/cuda_ops.h"
#endif

namespace {

// Resident set size now (VmRSS) and at its peak (VmHWM), in MiB, from /proc.
double proc_status_mib(const char* key) {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind(key, 0) == 0) return std::strtod(line.c_str() + std::string(key).size(), nullptr) / 1024.0;
  return -1;
}

double peak_rss_mib() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) / 1024.0;  // kilobytes on Linux
}

// CPU time of the whole process (every thread), in ms: unlike the wall clock it hardly
// moves when other processes compete for the cores (with one thread it is the step's own
// compute; with several it also counts OpenMP's spinning at barriers).
double process_cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) * 1e-6;
}

[[noreturn]] void usage(const std::string& why) {
  std::fprintf(stderr,
               "sparsead-steps: %s\n"
               "usage: sparsead-steps --phase phase1|phase2|inference|latency [--preset cpu|paper] [--batch N]\n"
               "                      [--threads N] [--device cpu|cuda] [--steps N] [--warmup N]\n",
               why.c_str());
  std::exit(2);
}

int64_t to_int(const std::string& flag, const std::string& v, int64_t lo) {
  const std::optional<int64_t> n = sad::parse_int64(v);
  if (!n || *n < lo) usage(flag + " needs an integer >= " + std::to_string(lo));
  return *n;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace sad;
  std::string phase_s, device_s = "cpu";
  bench::WorkloadOptions o;
  int64_t threads = 0, steps = 5, warmup = 1;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") usage("times one phase of training or inference");
    if (i + 1 >= argc) usage("missing value after " + a);
    std::string v = argv[++i];
    if (a == "--phase")
      phase_s = v;
    else if (a == "--preset")
      o.preset = v;
    else if (a == "--batch")
      o.batch = to_int(a, v, 1);  // 1 for inference only (the workload checks)
    else if (a == "--threads")
      threads = to_int(a, v, 1);
    else if (a == "--device")
      device_s = v;
    else if (a == "--steps")
      steps = to_int(a, v, 1);
    else if (a == "--warmup")
      warmup = to_int(a, v, 0);
    else
      usage("unknown flag " + a);
  }
  if (phase_s.empty()) usage("--phase is required");
  try {
    if (threads > 0) set_num_threads(static_cast<int>(threads));
    o.device = resolve_device(device_s);
    const bench::Phase phase = bench::parse_phase(phase_s);
    bench::Workload w(phase, o);
    const double rss_setup = proc_status_mib("VmRSS:");
    w.validate();  // one step, checked; it also warms caches and the allocator
    for (int64_t i = 1; i < warmup; ++i) w.step();
    std::vector<double> ms, cpu_ms;
    for (int64_t i = 0; i < steps; ++i) {
      auto t0 = std::chrono::steady_clock::now();
      const double c0 = process_cpu_ms();
      w.step();  // reads its result back: the device has finished when it returns
      bench::sync(o.device);
      cpu_ms.push_back(process_cpu_ms() - c0);
      ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    auto median_of = [](std::vector<double> v) {
      std::sort(v.begin(), v.end());
      return v[v.size() / 2];
    };
    const double median = median_of(ms);
    Json j = Json::object();
    j.set("impl", "sparsead");
    j.set("phase", bench::phase_name(phase));
    j.set("preset", o.preset);
    j.set("image_size", w.config().image_size);
    j.set("width", w.config().width);
    j.set("batch", w.batch());
    j.set("threads", num_threads());
    j.set("device", bench::device_tag(o.device));
    Json arr = Json::array();
    for (double t : ms) arr.push_back(t);
    j.set("step_ms", arr);
    j.set("median_ms", median);
    j.set("min_ms", *std::min_element(ms.begin(), ms.end()));
    Json carr = Json::array();
    for (double t : cpu_ms) carr.push_back(t);
    j.set("cpu_ms", carr);
    j.set("median_cpu_ms", median_of(cpu_ms));
    j.set("images_per_s", static_cast<double>(w.batch()) * 1000.0 / median);
    j.set("rss_setup_mib", rss_setup);
    j.set("peak_rss_mib", peak_rss_mib());
#if SPARSEAD_HAVE_CUDA_OPS
    if (o.device.is_cuda())
      j.set("gpu_peak_mib", static_cast<double>(cuda::allocator_stats().peak_bytes) / (1024.0 * 1024.0));
#endif
    std::printf("%s\n", j.dump().c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sparsead-steps: %s\n", e.what());
    return 1;
  }
  return 0;
}
