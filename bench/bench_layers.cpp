// Benchmarks of the ops every decoder layer runs besides its convolution: batch norm in
// training mode (forward and backward) and nearest upsampling x2 (forward and backward),
// at the shape of G's last decoder layer (B, w, S, S), next to the copies of the same
// size that bench_ops.cpp registers; batch norm + ReLU as two ops and as the fused op.
// Each checks its op once before timing. And the
// core's float32 FMA peak, which the convolutions' FLOP/s are read against.
#include <cmath>
#include <vector>

#include "bench/bench_registry.h"
#include "kernels/cpu/isa.h"

#if SPARSEAD_ISA_X86
#include <immintrin.h>
#endif

namespace sad::bench {

namespace {

struct BatchNormFixture {
  Tensor x, gamma, beta, rmean, rvar, y, mean, invstd, dy, dx, dgamma, dbeta;
};

void register_batch_norm(Device d, const Preset& pr) {
  const Shape shape{pr.batch, pr.width, pr.size, pr.size};
  const int64_t n = shape_numel(shape), c = pr.width;
  const ops::BatchNormParams p{true, 0.1f, 1e-5f};
  for (bool backward : {false, true}) {
    const std::string name =
        std::string("batch_norm2d_") + (backward ? "backward/" : "forward/") + device_tag(d) + "/" + pr.tag;
    add(name, [=](benchmark::State& st) {
      BatchNormFixture& f = fixture<BatchNormFixture>(name, [&] {
        auto g = std::make_shared<BatchNormFixture>();
        g->x = random_tensor(shape, 31, d, -2.0f, 3.0f);
        g->dy = random_tensor(shape, 32, d);
        g->gamma = Tensor::full({c}, 1.0, DType::F32, d), g->beta = Tensor::zeros({c}, DType::F32, d);
        g->rmean = Tensor::zeros({c}, DType::F32, d), g->rvar = Tensor::full({c}, 1.0, DType::F32, d);
        g->y = empty_like(g->x), g->dx = empty_like(g->x);
        g->mean = Tensor::empty({c}, DType::F32, d), g->invstd = Tensor::empty({c}, DType::F32, d);
        g->dgamma = Tensor::empty({c}, DType::F32, d), g->dbeta = Tensor::empty({c}, DType::F32, d);
        ops::batch_norm2d_forward(p, g->x, g->gamma, g->beta, g->rmean, g->rvar, g->y, g->mean, g->invstd);
        // Known values: with gamma 1 and beta 0, every channel of y has mean 0 and
        // (biased) variance var / (var + eps), i.e. 1 to 1e-5 for uniform [-2, 3) data.
        std::vector<float> y = g->y.to_vector();
        const int64_t plane = pr.size * pr.size;
        for (int64_t ch = 0; ch < c; ++ch) {
          double s = 0, ss = 0;
          for (int64_t b = 0; b < pr.batch; ++b)
            for (int64_t i = 0; i < plane; ++i) {
              const double v = y[static_cast<size_t>((b * c + ch) * plane + i)];
              s += v, ss += v * v;
            }
          const double m = static_cast<double>(pr.batch * plane);
          expect_close(s / m, 0.0, 1e-5, 0, name + ": mean of channel " + std::to_string(ch));
          expect_close(ss / m, 1.0, 2e-5, 0, name + ": variance of channel " + std::to_string(ch));
        }
        ops::batch_norm2d_backward(p, g->x, g->gamma, g->mean, g->invstd, nullptr, g->dy, &g->dx, &g->dgamma,
                                   &g->dbeta);
        // Known value: the training-mode input gradient has zero sum in every channel.
        std::vector<float> dx = g->dx.to_vector();
        for (int64_t ch = 0; ch < c; ++ch) {
          double s = 0, sa = 0;
          for (int64_t b = 0; b < pr.batch; ++b)
            for (int64_t i = 0; i < plane; ++i) {
              const double v = dx[static_cast<size_t>((b * c + ch) * plane + i)];
              s += v, sa += std::fabs(v);
            }
          expect_close(s, 0.0, 1e-5 * sa, 0, name + ": sum of dx in channel " + std::to_string(ch));
        }
        return g;
      });
      timed_loop(st, d, [&] {
        if (backward)
          ops::batch_norm2d_backward(p, f.x, f.gamma, f.mean, f.invstd, nullptr, f.dy, &f.dx, &f.dgamma, &f.dbeta);
        else
          ops::batch_norm2d_forward(p, f.x, f.gamma, f.beta, f.rmean, f.rvar, f.y, f.mean, f.invstd);
      });
      // Forward reads x twice (two-pass statistics) and once more to normalise, writes y;
      // backward reads x and dy twice and writes dx.
      const int64_t bytes = n * 4 * (backward ? 5 : 4);
      st.SetBytesProcessed(static_cast<int64_t>(st.iterations()) * bytes);
      st.SetLabel(shape_str(shape) + ", " + std::to_string(bytes >> 20) + " MiB moved");
    });
  }
}

// Batch norm followed by a ReLU, as every ConvBnAct runs it: the two ops one after the
// other ("separate") against the fused op ("fused"), forward and backward. The fused case
// first checks that both give the same bits.
struct BnReluFixture {
  BatchNormFixture bn;
  Tensor h, dh;  // separate: the normalised tensor and its gradient
};

void register_batch_norm_relu(Device d, const Preset& pr) {
  const Shape shape{pr.batch, pr.width, pr.size, pr.size};
  const int64_t n = shape_numel(shape), c = pr.width;
  const ops::BatchNormParams plain{true, 0.1f, 1e-5f};
  const ops::BatchNormParams fused{true, 0.1f, 1e-5f, ops::BnAct::Relu};
  const ops::UnaryParams relu{ops::UnaryKind::Relu};
  for (bool is_fused : {false, true})
    for (bool backward : {false, true}) {
      const std::string name = std::string("batch_norm2d_relu_") + (is_fused ? "fused_" : "separate_") +
                               (backward ? "backward/" : "forward/") + device_tag(d) + "/" + pr.tag;
      add(name, [=](benchmark::State& st) {
        BnReluFixture& f = fixture<BnReluFixture>(name, [&] {
          auto g = std::make_shared<BnReluFixture>();
          BatchNormFixture& b = g->bn;
          b.x = random_tensor(shape, 31, d, -2.0f, 3.0f);
          b.dy = random_tensor(shape, 32, d);
          b.gamma = random_tensor({c}, 33, d, 0.5f, 1.5f), b.beta = random_tensor({c}, 34, d, -0.5f, 0.5f);
          b.rmean = Tensor::zeros({c}, DType::F32, d), b.rvar = Tensor::full({c}, 1.0, DType::F32, d);
          b.y = empty_like(b.x), b.dx = empty_like(b.x), g->h = empty_like(b.x), g->dh = empty_like(b.x);
          b.mean = Tensor::empty({c}, DType::F32, d), b.invstd = Tensor::empty({c}, DType::F32, d);
          b.dgamma = Tensor::empty({c}, DType::F32, d), b.dbeta = Tensor::empty({c}, DType::F32, d);
          // Separate ops first; the fused case then checks its bits against them.
          ops::batch_norm2d_forward(plain, b.x, b.gamma, b.beta, b.rmean, b.rvar, g->h, b.mean, b.invstd);
          ops::unary_forward(relu, g->h, b.y);
          ops::unary_backward(relu, g->h, b.y, b.dy, g->dh);
          ops::batch_norm2d_backward(plain, b.x, b.gamma, b.mean, b.invstd, nullptr, g->dh, &b.dx, &b.dgamma, &b.dbeta);
          if (is_fused) {
            const std::vector<float> y_sep = b.y.to_vector(), dx_sep = b.dx.to_vector();
            ops::batch_norm2d_forward(fused, b.x, b.gamma, b.beta, b.rmean, b.rvar, b.y, b.mean, b.invstd);
            ops::batch_norm2d_backward(fused, b.x, b.gamma, b.mean, b.invstd, &b.y, b.dy, &b.dx, &b.dgamma, &b.dbeta);
            const std::vector<float> y = b.y.to_vector(), dx = b.dx.to_vector();
            for (size_t i = 0; i < y.size(); i += 997) {
              expect_close(y[i], y_sep[i], 0, 0, name + ": output " + std::to_string(i) + " against the separate ops");
              expect_close(dx[i], dx_sep[i], 0, 0, name + ": dinp " + std::to_string(i) + " against the separate ops");
            }
          }
          return g;
        });
        BatchNormFixture& b = f.bn;
        timed_loop(st, d, [&] {
          if (is_fused && backward) {
            ops::batch_norm2d_backward(fused, b.x, b.gamma, b.mean, b.invstd, &b.y, b.dy, &b.dx, &b.dgamma, &b.dbeta);
          } else if (is_fused) {
            ops::batch_norm2d_forward(fused, b.x, b.gamma, b.beta, b.rmean, b.rvar, b.y, b.mean, b.invstd);
          } else if (backward) {
            ops::unary_backward(relu, f.h, b.y, b.dy, f.dh);
            ops::batch_norm2d_backward(plain, b.x, b.gamma, b.mean, b.invstd, nullptr, f.dh, &b.dx, &b.dgamma,
                                       &b.dbeta);
          } else {
            ops::batch_norm2d_forward(plain, b.x, b.gamma, b.beta, b.rmean, b.rvar, f.h, b.mean, b.invstd);
            ops::unary_forward(relu, f.h, b.y);
          }
        });
        // Counted as the fused op's bytes in both cases (forward: x three times and y;
        // backward: x, dy and y twice each, dx), so the rates compare like the times.
        const int64_t bytes = n * 4 * (backward ? 7 : 4);
        st.SetBytesProcessed(static_cast<int64_t>(st.iterations()) * bytes);
        st.SetLabel(shape_str(shape) + ", " + std::to_string(bytes >> 20) + " MiB (fused op's bytes)");
      });
    }
}

struct UpsampleFixture {
  Tensor x, y, dy, dx;
};

void register_upsample(Device d, const Preset& pr) {
  const Shape in{pr.batch, pr.width, pr.size / 2, pr.size / 2}, out{pr.batch, pr.width, pr.size, pr.size};
  const int64_t n_out = shape_numel(out);
  const ops::UpsampleParams p{2};
  for (bool backward : {false, true}) {
    const std::string name =
        std::string("upsample_nearest_") + (backward ? "backward/" : "forward/") + device_tag(d) + "/" + pr.tag;
    add(name, [=](benchmark::State& st) {
      UpsampleFixture& f = fixture<UpsampleFixture>(name, [&] {
        auto g = std::make_shared<UpsampleFixture>();
        g->x = random_tensor(in, 33, d), g->dy = random_tensor(out, 34, d);
        g->y = Tensor::empty(out, DType::F32, d), g->dx = Tensor::empty(in, DType::F32, d);
        ops::upsample_nearest_forward(p, g->x, g->y);
        ops::upsample_nearest_backward(p, g->dy, g->dx);
        // Known values: y repeats each x over a 2 x 2 block; dx sums dy over that block.
        std::vector<float> x = g->x.to_vector(), y = g->y.to_vector(), dy = g->dy.to_vector(), dx = g->dx.to_vector();
        const int64_t w = pr.size / 2, wo = pr.size;
        for (int64_t i = 0; i < shape_numel(in); i += 997) {
          const int64_t plane = i / (w * w), r = (i % (w * w)) / w, col = i % w;
          const int64_t o = plane * wo * wo + 2 * r * wo + 2 * col;
          const size_t u = static_cast<size_t>(i), v = static_cast<size_t>(o), wu = static_cast<size_t>(wo);
          for (size_t k : {v, v + 1, v + wu, v + wu + 1})
            expect_close(y[k], x[u], 0, 0, name + ": y at " + std::to_string(k));
          expect_close(dx[u], double(dy[v]) + dy[v + 1] + dy[v + wu] + dy[v + wu + 1], 1e-6, 1e-6,
                       name + ": dx at " + std::to_string(i));
        }
        return g;
      });
      timed_loop(st, d, [&] {
        if (backward)
          ops::upsample_nearest_backward(p, f.dy, f.dx);
        else
          ops::upsample_nearest_forward(p, f.x, f.y);
      });
      const int64_t bytes = n_out * 4 + n_out;  // the large side once, the small side (a quarter) once
      st.SetBytesProcessed(static_cast<int64_t>(st.iterations()) * bytes);
      st.SetLabel(shape_str(backward ? out : in) + " -> " + shape_str(backward ? in : out));
    });
  }
}

// ---- The FMA peak of one core ---------------------------------------------------------------------
//
// 16 independent chains of vector FMAs (more than latency x throughput on current cores),
// on the widest path kernels/cpu/isa.h allows, so the loop runs at the core's float32
// FMA throughput: the "peak" that docs/BENCHMARKS.md reads the convolutions' FLOP/s
// against. Run it with SPARSEAD_THREADS=1 like the op benchmarks.
constexpr int64_t kPeakIters = 1 << 20;

#if SPARSEAD_ISA_X86
__attribute__((target("avx512f,fma"))) float peak_avx512() {
  const __m512 a = _mm512_set1_ps(0.5f), b = _mm512_set1_ps(0.05f);
  __m512 acc[16];
  for (__m512& v : acc) v = _mm512_set1_ps(1.0f);
  for (int64_t i = 0; i < kPeakIters; ++i)
    for (__m512& v : acc) v = _mm512_fmadd_ps(a, v, b);
  float s = 0;
  for (__m512 v : acc) s += _mm512_cvtss_f32(v);
  return s;
}

__attribute__((target("avx2,fma"))) float peak_avx2() {
  const __m256 a = _mm256_set1_ps(0.5f), b = _mm256_set1_ps(0.05f);
  __m256 acc[16];
  for (__m256& v : acc) v = _mm256_set1_ps(1.0f);
  for (int64_t i = 0; i < kPeakIters; ++i)
    for (__m256& v : acc) v = _mm256_fmadd_ps(a, v, b);
  float s = 0;
  for (__m256 v : acc) s += _mm256_cvtss_f32(v);
  return s;
}
#endif

void register_fma_peak() {
  add("fma_peak/cpu", [](benchmark::State& st) {
    int lanes = 0;
    float (*run)() = nullptr;
#if SPARSEAD_ISA_X86
    switch (cpu::cpu_isa()) {
      case cpu::Isa::Avx512: lanes = 16, run = peak_avx512; break;
      case cpu::Isa::Avx2: lanes = 8, run = peak_avx2; break;
      case cpu::Isa::Portable: break;
    }
#endif
    if (!run) {
      st.SkipWithError("no FMA path on this CPU (or SPARSEAD_ISA=portable)");
      return;
    }
    // Known value: every chain v = 0.5 v + 0.05 converges to 0.1.
    const float v = run();
    expect_close(v / 16, 0.1, 0.01, 0, "fma_peak: a chain's value");
    for (auto _ : st) benchmark::DoNotOptimize(run());
    const double flops = 2.0 * 16 * lanes * static_cast<double>(kPeakIters);
    st.counters["FLOP/s"] =
        benchmark::Counter(flops * static_cast<double>(st.iterations()), benchmark::Counter::kIsRate);
    st.SetLabel(std::string(cpu::isa_name(cpu::cpu_isa())) + ", 16 chains");
  });
}

}  // namespace

void register_layer_benchmarks(Device d) {
  if (d.is_cpu()) register_fma_peak();
  for (const Preset& pr : {kCpuPreset, kPaperPreset}) {
    register_batch_norm(d, pr);
    register_batch_norm_relu(d, pr);
    register_upsample(d, pr);
  }
}

}  // namespace sad::bench
