// Code paths for the machine's instruction set (issue "CPU speed", item 5).
//
// The build targets baseline x86-64 (SSE2), so that one binary runs anywhere. A hot loop
// that the compiler vectorises can run wider: `isa_run(f)` calls `f` through a copy of it
// compiled for AVX2 or AVX-512 (each with FMA) when the CPU has them (GCC's target attribute plus
// `flatten`, which inlines `f` and everything it calls into that copy), or through the
// portable copy. The path is the best the CPU supports, unless SPARSEAD_ISA (portable,
// avx2, avx512) or set_cpu_isa asks for another.
//
// Results are the same bits on every path: the wider loops do the same operations on each
// element in the same order, and the whole build compiles with -ffp-contract=off, so no
// path fuses a multiply and an add into an FMA (which rounds once instead of twice) unless
// the code asks for one (std::fma, __builtin_fmaf: correctly rounded, so the same bits on
// the portable path, where it is a libm call). The
// op table's tests check every op on the portable path against the machine's best.
//
// Only loops outside an OpenMP region's outlined body benefit: call isa_run inside the
// parallel region (per thread or per image), not around it.
#pragma once

#include <cstdint>

namespace sad::cpu {

enum class Isa { Portable, Avx2, Avx512 };
const char* isa_name(Isa isa);

Isa best_cpu_isa();         // what this CPU supports (and this compiler can target)
Isa cpu_isa();              // the path in use: SPARSEAD_ISA if set (checked once), else the best
void set_cpu_isa(Isa isa);  // tests and benchmarks; an ISA the CPU lacks is an error

// Sets the path for a scope and restores the one before when the scope ends.
class ScopedIsa {
 public:
  explicit ScopedIsa(Isa isa) : saved_(cpu_isa()) { set_cpu_isa(isa); }
  ~ScopedIsa() { set_cpu_isa(saved_); }
  ScopedIsa(const ScopedIsa&) = delete;
  ScopedIsa& operator=(const ScopedIsa&) = delete;

 private:
  Isa saved_;
};

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define SPARSEAD_ISA_X86 1
template <typename F>
[[gnu::flatten]] __attribute__((target("avx2,fma"))) void isa_run_avx2(F& f) {
  f();
}
template <typename F>
[[gnu::flatten]] __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma"))) void isa_run_avx512(F& f) {
  f();
}
#endif

template <typename F>
[[gnu::flatten]] void isa_run_portable(F& f) {
  f();
}

// Asks for the cache line 4 KiB past p in a loop that streams through memory one 64-byte
// line per step while doing much work per element (transcendentals): measured on an Intel
// Xeon, the hardware prefetcher alone kept such a loop waiting on memory for more than
// half of its time. A prefetch never faults, so reading past the end of a buffer is safe.
// (The address is formed as an integer: a pointer past the buffer's end would be undefined.)
inline void prefetch_ahead(const float* p) {
  __builtin_prefetch(reinterpret_cast<const void*>(reinterpret_cast<std::uintptr_t>(p) + 4096), 0, 3);
}

// body(k) for k in [lo, hi), in steps of one cache line (16 floats), each step asking for
// the line 4 KiB ahead in every stream (prefetch_ahead at stream + k); the values past the
// last whole line run without. The loops over the float transcendentals use it.
template <typename Body, typename... Streams>
[[gnu::always_inline]] inline void for_lines_prefetched(int64_t lo, int64_t hi, Body body, const Streams*... streams) {
  constexpr int64_t kLine = 16;
  int64_t i = lo;
  for (; i + kLine <= hi; i += kLine) {
    (prefetch_ahead(streams + i), ...);
    for (int64_t k = i; k < i + kLine; ++k) body(k);
  }
  for (; i < hi; ++i) body(i);
}

template <typename F>
void isa_run(F&& f) {
#if SPARSEAD_ISA_X86
  switch (cpu_isa()) {
    case Isa::Avx512: return isa_run_avx512(f);
    case Isa::Avx2: return isa_run_avx2(f);
    case Isa::Portable: break;
  }
#endif
  isa_run_portable(f);
}

}  // namespace sad::cpu
