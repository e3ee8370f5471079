// The instruction-set paths of the CPU kernels (kernels/cpu/isa.h).
#include "kernels/cpu/isa.h"

#include <atomic>
#include <cstdlib>
#include <string>

#include "tensor/check.h"

namespace sad::cpu {

namespace {

std::atomic<int> g_isa{-1};  // -1: not chosen yet

int rank(Isa isa) { return static_cast<int>(isa); }

Isa from_env() {
  const Isa best = best_cpu_isa();
  const char* v = std::getenv("SPARSEAD_ISA");
  if (!v || !*v) return best;
  const std::string s = v;
  Isa want;
  if (s == "portable")
    want = Isa::Portable;
  else if (s == "avx2")
    want = Isa::Avx2;
  else if (s == "avx512")
    want = Isa::Avx512;
  else
    SAD_FAIL("SPARSEAD_ISA: expected portable, avx2 or avx512, got '", s, "'");
  SAD_CHECK(rank(want) <= rank(best), "SPARSEAD_ISA=", s, ": this CPU supports at most ", isa_name(best));
  return want;
}

}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Portable: return "portable";
    case Isa::Avx2: return "avx2";
    case Isa::Avx512: return "avx512";
  }
  return "?";
}

Isa best_cpu_isa() {
#if SPARSEAD_ISA_X86
  __builtin_cpu_init();
  // Both paths compile with FMA (kernels/cpu/isa.h): a CPU must have it to take them.
  const bool fma = __builtin_cpu_supports("fma");
  if (fma && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl"))
    return Isa::Avx512;
  if (fma && __builtin_cpu_supports("avx2")) return Isa::Avx2;
#endif
  return Isa::Portable;
}

Isa cpu_isa() {
  int v = g_isa.load(std::memory_order_relaxed);
  if (v < 0) {
    v = rank(from_env());
    g_isa.store(v, std::memory_order_relaxed);
  }
  return static_cast<Isa>(v);
}

void set_cpu_isa(Isa isa) {
  const Isa best = best_cpu_isa();
  SAD_CHECK(rank(isa) <= rank(best), "set_cpu_isa(", isa_name(isa), "): this CPU supports at most ", isa_name(best));
  g_isa.store(rank(isa), std::memory_order_relaxed);
}

}  // namespace sad::cpu
