// sparsead_overfit: the framework's smoke test as a program. A small conv net
// (conv-BN-ReLU, strided conv, upsample, conv-tanh) learns one fixed random batch with
// Adam; the MSE loss must fall at least 10x. Exit status 0 when it does, 1 when not.
//   sparsead_overfit [--steps N] [--seed N] [--device auto|cpu|cuda] [--threads N] [--quiet]
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "kernels/runtime.h"
#include "layers/example_net.h"
#include "tensor/text.h"

namespace {
[[noreturn]] void usage_error(const std::string& msg) {
  std::fprintf(stderr,
               "sparsead_overfit: %s\nusage: sparsead_overfit [--steps N] [--seed N] "
               "[--device auto|cpu|cuda] [--threads N] [--quiet]\n",
               msg.c_str());
  std::exit(2);
}
long parse_int(const char* flag, const char* s, long lo, long hi) {
  const std::optional<int64_t> n = sad::parse_int64(s);
  const long v = n ? static_cast<long>(*n) : lo - 1;
  if (!n || v < lo || v > hi)
    usage_error(std::string(flag) + " expects an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) +
                "], got '" + s + "'");
  return v;
}
}  // namespace

int main(int argc, char** argv) {
  int steps = 150;
  uint64_t seed = 7;
  std::string device = "auto";
  bool quiet = false;
  try {
    for (int i = 1; i < argc; ++i) {
      std::string a = argv[i];
      auto value = [&]() -> const char* {
        if (i + 1 >= argc) usage_error(a + " needs a value");
        return argv[++i];
      };
      if (a == "--steps")
        steps = static_cast<int>(parse_int("--steps", value(), 1, 1000000));
      else if (a == "--seed")
        seed = static_cast<uint64_t>(parse_int("--seed", value(), 0, 1L << 40));
      else if (a == "--device")
        device = value();
      else if (a == "--threads")
        sad::set_num_threads(static_cast<int>(parse_int("--threads", value(), 1, 1024)));
      else if (a == "--quiet")
        quiet = true;
      else if (a == "--help" || a == "-h") {
        std::printf(
            "sparsead_overfit: a small conv net must overfit one fixed batch (MSE falls >= 10x)\n"
            "  --steps N     Adam steps (default 150)\n  --seed N      seed (default 7)\n"
            "  --device D    auto|cpu|cuda (default auto)\n  --threads N   CPU threads\n"
            "  --quiet       only the summary line\n");
        return 0;
      } else
        usage_error("unknown flag '" + a + "'");
    }
    sad::Device dev = sad::resolve_device(device);
    auto r = sad::train_fixed_batch(seed, steps, dev, [&](int s, double loss) {
      if (!quiet && (s % 10 == 0 || s == steps - 1)) std::printf("step %4d  loss %.6f\n", s, loss);
    });
    double ratio = r.losses.front() / r.losses.back();
    bool ok = ratio >= 10.0;
    std::printf("overfit on %s: loss %.5f -> %.5f (%.1fx lower) in %d steps: %s\n", dev.str().c_str(), r.losses.front(),
                r.losses.back(), ratio, steps, ok ? "OK" : "FAILED (expected >= 10x)");
    return ok ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sparsead_overfit: error: %s\n", e.what());
    return 1;
  }
}
