// CUDA parity of the vendor-library ops (conv2d through cuDNN, gemm through cuBLAS,
// batch_norm2d): the same seeded float32 inputs on the CUDA backend and on the CPU
// reference in float64, awkward shapes (odd H and W, batch 1, channel counts that are
// not multiples of 32, 1x1), guard elements around every CUDA output, and bitwise
// determinism of two identical runs. Skipped (reported as such) without a GPU.
#include <string>

#include "cuda_parity_util.h"
#include "kernels/ops.h"

// Selected by gpu-check.sh and compute-sanitizer as --test-suite=cuda.
TEST_SUITE_BEGIN("cuda");

using namespace sad;
using namespace sad::test;

namespace {

std::string shape_ctx(const char* op, const Shape& a, const Shape& b, uint64_t seed) {
  return std::string(op) + " " + shape_str(a) + " x " + shape_str(b) + " seed " + std::to_string(seed);
}

}  // namespace

// ---- conv2d ----------------------------------------------------------------------------------

namespace {

struct ConvCase {
  Shape x, w;  // (N, Ci, H, W), (Co, Ci, KH, KW)
  ops::Conv2dParams p;
  bool bias;
};

void conv_parity(const ConvCase& cc, uint64_t seed) {
  if (skip_large({cc.x, cc.w})) return;
  const std::string ctx = shape_ctx("conv2d", cc.x, cc.w, seed);
  INFO(ctx << " stride " << cc.p.stride_h << "x" << cc.p.stride_w << " pad " << cc.p.pad_h << "x" << cc.p.pad_w);
  const int64_t N = cc.x[0], Ci = cc.x[1], Co = cc.w[0], KH = cc.w[2], KW = cc.w[3];
  const Shape out_shape{N, Co, ops::conv2d_out_size(cc.x[2], KH, cc.p.stride_h, cc.p.pad_h),
                        ops::conv2d_out_size(cc.x[3], KW, cc.p.stride_w, cc.p.pad_w)};
  Tensor x = random_f32(cc.x, seed), w = random_f32(cc.w, seed + 1), b = random_f32({Co}, seed + 2);
  Tensor dy = random_f32(out_shape, seed + 3);

  // CPU float64 reference.
  Tensor x64 = f64(x), w64 = f64(w), b64 = f64(b), dy64 = f64(dy);
  Tensor y_ref = Tensor::empty(out_shape, DType::F64);
  ops::conv2d_forward(cc.p, x64, w64, cc.bias ? &b64 : nullptr, y_ref);
  Tensor dx_ref = empty_like(x64), dw_ref = empty_like(w64), db_ref = empty_like(b64);
  ops::conv2d_backward(cc.p, x64, w64, dy64, &dx_ref, &dw_ref, &db_ref);

  // CUDA.
  Tensor xc = x.to(cuda_device()), wc = w.to(cuda_device()), bc = b.to(cuda_device()), dyc = dy.to(cuda_device());
  GuardedCuda y(out_shape), dx(cc.x), dw(cc.w), db({Co});
  ops::conv2d_forward(cc.p, xc, wc, cc.bias ? &bc : nullptr, y.view());
  ops::conv2d_backward(cc.p, xc, wc, dyc, dx.ptr(), dw.ptr(), db.ptr());

  // Terms per output element: forward Ci*KH*KW (+ bias); backward-data at most
  // Co*KH*KW; backward-filter and bias N*Ho*Wo.
  const int64_t hw_out = out_shape[2] * out_shape[3];
  check_parity(y.view(), y_ref, sum_atol(Ci * KH * KW + 1), 1e-5, ctx + ": forward");
  check_parity(dx.view(), dx_ref, sum_atol(Co * KH * KW), 1e-5, ctx + ": dinp");
  check_parity(dw.view(), dw_ref, sum_atol(N * hw_out), 1e-5, ctx + ": dweight");
  check_parity(db.view(), db_ref, sum_atol(N * hw_out), 1e-5, ctx + ": dbias");
  y.check_guards(ctx + ": forward");
  dx.check_guards(ctx + ": dinp");
  dw.check_guards(ctx + ": dweight");
  db.check_guards(ctx + ": dbias");

  // Optional outputs: each gradient alone, and bit-identical to the first run.
  GuardedCuda dx2(cc.x), dw2(cc.w), y2(out_shape);
  ops::conv2d_backward(cc.p, xc, wc, dyc, dx2.ptr(), nullptr, nullptr);
  ops::conv2d_backward(cc.p, xc, wc, dyc, nullptr, dw2.ptr(), nullptr);
  ops::conv2d_forward(cc.p, xc, wc, cc.bias ? &bc : nullptr, y2.view());
  check_bitwise_equal(dx2.view(), dx.view(), ctx + ": dinp");
  check_bitwise_equal(dw2.view(), dw.view(), ctx + ": dweight");
  check_bitwise_equal(y2.view(), y.view(), ctx + ": forward");
  dx2.check_guards(ctx + ": dinp alone");
  dw2.check_guards(ctx + ": dweight alone");
}

}  // namespace

TEST_CASE("cuda parity: conv2d forward and backward against the CPU reference" *
          doctest::skip(!sad::cuda_available())) {
  StrictMathGuard strict;
  auto P = [](int sh, int sw, int ph, int pw) {
    ops::Conv2dParams p;
    p.stride_h = sh;
    p.stride_w = sw;
    p.pad_h = ph;
    p.pad_w = pw;
    return p;
  };
  const ConvCase cases[] = {
      {{1, 3, 7, 9}, {5, 3, 3, 3}, P(1, 1, 1, 1), true},       // batch 1, odd H and W, RGB-like input
      {{2, 5, 8, 11}, {7, 5, 3, 3}, P(2, 2, 1, 1), true},      // stride 2 with odd W
      {{3, 33, 6, 5}, {17, 33, 1, 1}, P(1, 1, 0, 0), false},   // 1x1 kernel, 33 channels
      {{2, 4, 9, 9}, {6, 4, 4, 4}, P(2, 2, 1, 1), true},       // even kernel (the discriminator's 4x4/2)
      {{1, 1, 1, 1}, {1, 1, 1, 1}, P(1, 1, 0, 0), true},       // 1x1 everything
      {{2, 3, 5, 7}, {4, 3, 3, 5}, P(1, 2, 2, 1), true},       // non-square kernel, stride and padding
      {{2, 64, 17, 13}, {40, 64, 3, 3}, P(1, 1, 1, 1), true},  // realistic channel count, 576 terms
      {{1, 35, 16, 16}, {3, 35, 3, 3}, P(1, 1, 1, 1), true},   // few output channels (a head)
  };
  uint64_t seed = 100;
  for (const ConvCase& cc : cases) conv_parity(cc, seed += 10);
}

// ---- gemm --------------------------------------------------------------------------------------

TEST_CASE("cuda parity: gemm in all four transpose combinations" * doctest::skip(!sad::cuda_available())) {
  StrictMathGuard strict;
  struct Size {
    int64_t m, n, k;
  };
  const Size sizes[] = {{7, 13, 5}, {1, 1, 1}, {33, 17, 65}, {64, 1, 300}, {1, 96, 31}};
  const float coefs[][2] = {{1.0f, 0.0f}, {1.5f, 0.5f}};  // (alpha, beta)
  uint64_t seed = 500;
  for (const Size& s : sizes)
    for (int ta = 0; ta < 2; ++ta)
      for (int tb = 0; tb < 2; ++tb)
        for (const auto& ab : coefs) {
          seed += 3;
          ops::GemmParams p;
          p.trans_a = ta;
          p.trans_b = tb;
          p.alpha = ab[0];
          p.beta = ab[1];
          const Shape sa = ta ? Shape{s.k, s.m} : Shape{s.m, s.k}, sb = tb ? Shape{s.n, s.k} : Shape{s.k, s.n};
          const std::string ctx = shape_ctx("gemm", sa, sb, seed) + (ta ? " A^T" : "") + (tb ? " B^T" : "") +
                                  " alpha " + std::to_string(p.alpha) + " beta " + std::to_string(p.beta);
          Tensor a = random_f32(sa, seed), b = random_f32(sb, seed + 1), c0 = random_f32({s.m, s.n}, seed + 2);
          Tensor c_ref = f64(c0);
          ops::gemm(p, f64(a), f64(b), c_ref);
          // beta == 0: C starts as the NaN sentinel, which must not be read (BLAS rule).
          GuardedCuda c({s.m, s.n}, p.beta != 0.0f ? &c0 : nullptr);
          ops::gemm(p, a.to(cuda_device()), b.to(cuda_device()), c.view());
          // K products of magnitude <= 1 scaled by alpha, plus beta C (|C| <= 1).
          check_parity(c.view(), c_ref, 1.5 * sum_atol(s.k) + 1e-6, 1e-5, ctx);
          c.check_guards(ctx);
        }
}

// ---- batch_norm2d -----------------------------------------------------------------------------

namespace {

void batch_norm_parity(const Shape& xs, bool training, uint64_t seed, ops::BnAct act = ops::BnAct::None) {
  if (skip_large({xs})) return;
  static constexpr const char* act_names[] = {"", " + relu", " + leaky relu"};
  const std::string ctx = std::string("batch_norm2d ") + (training ? "train " : "eval ") + shape_str(xs) + " seed " +
                          std::to_string(seed) + act_names[static_cast<int>(act)];
  INFO(ctx);
  const int64_t C = xs[1], M = xs[0] * xs[2] * xs[3];
  ops::BatchNormParams p;
  p.training = training;
  p.momentum = 0.1f;
  p.eps = 1e-5f;
  p.act = act;
  p.alpha = 0.2f;
  // A non-zero mean and a spread that is not 1, so both statistics matter.
  Tensor x = random_f32(xs, seed, -1.0, 3.0), g = random_f32({C}, seed + 1, 0.5, 1.5);
  Tensor b = random_f32({C}, seed + 2), rm0 = random_f32({C}, seed + 3), rv0 = random_f32({C}, seed + 4, 0.5, 2.0);
  Tensor dy = random_f32(xs, seed + 5);

  Tensor x64 = f64(x), g64 = f64(g), dy64 = f64(dy), rm_ref = f64(rm0), rv_ref = f64(rv0);
  Tensor y_ref = empty_like(x64), sm_ref = empty_like(g64), si_ref = empty_like(g64);
  ops::batch_norm2d_forward(p, x64, g64, f64(b), rm_ref, rv_ref, y_ref, sm_ref, si_ref);
  Tensor dx_ref = empty_like(x64), dg_ref = empty_like(g64), db_ref = empty_like(g64);
  ops::batch_norm2d_backward(p, x64, g64, sm_ref, si_ref, &y_ref, dy64, &dx_ref, &dg_ref, &db_ref);

  Tensor xc = x.to(cuda_device()), gc = g.to(cuda_device()), bc = b.to(cuda_device()), dyc = dy.to(cuda_device());
  GuardedCuda y(xs), rm({C}, &rm0), rv({C}, &rv0), sm({C}), si({C}), dx(xs), dg({C}), db({C});
  ops::batch_norm2d_forward(p, xc, gc, bc, rm.view(), rv.view(), y.view(), sm.view(), si.view());
  ops::batch_norm2d_backward(p, xc, gc, sm.view(), si.view(), &y.view(), dyc, dx.ptr(), dg.ptr(), db.ptr());

  // Statistics accumulate in double on both sides: they differ by float rounding only.
  check_parity(sm.view(), sm_ref, 1e-6, 1e-6, ctx + ": save_mean");
  check_parity(si.view(), si_ref, 1e-6, 1e-5, ctx + ": save_invstd");
  check_parity(rm.view(), rm_ref, 1e-6, 1e-6, ctx + ": running_mean");
  check_parity(rv.view(), rv_ref, 1e-6, 1e-5, ctx + ": running_var");
  // Element-wise float32 arithmetic on values of magnitude <= ~5: a few ulps.
  check_parity(y.view(), y_ref, 1e-5, 1e-5, ctx + ": output");
  // dinp subtracts two channel means from dy (cancellation): a few ulps of |dy| + |xhat|.
  check_parity(dx.view(), dx_ref, 2e-5, 1e-5, ctx + ": dinp");
  // Double sums over M values rounded once to float.
  check_parity(dg.view(), dg_ref, 1e-5, 1e-6, ctx + ": dgamma");
  check_parity(db.view(), db_ref, 1e-5, 1e-6, ctx + ": dbeta");
  for (auto* gdc : {&y, &rm, &rv, &sm, &si, &dx, &dg, &db}) gdc->check_guards(ctx);
  (void)M;

  // Determinism: the same backward again, bit for bit; dinp alone (null dgamma/dbeta).
  GuardedCuda dx2(xs), dg2({C});
  ops::batch_norm2d_backward(p, xc, gc, sm.view(), si.view(), &y.view(), dyc, dx2.ptr(), dg2.ptr(), nullptr);
  check_bitwise_equal(dx2.view(), dx.view(), ctx + ": dinp");
  check_bitwise_equal(dg2.view(), dg.view(), ctx + ": dgamma");
  dx2.check_guards(ctx + ": second backward");
}

}  // namespace

TEST_CASE("cuda parity: batch_norm2d train and eval forward and backward" * doctest::skip(!sad::cuda_available())) {
  const Shape shapes[] = {
      {2, 3, 5, 7},    // odd H and W
      {1, 5, 3, 3},    // batch 1
      {4, 33, 1, 1},   // 1x1 spatial, 33 channels (4 values per channel)
      {3, 64, 9, 11},  // realistic channel count
      {1, 1, 1, 2},    // the smallest training batch: 2 values
      {2, 7, 64, 45},  // long channel sums (5760 values per channel)
  };
  uint64_t seed = 900;
  for (const Shape& s : shapes) {
    batch_norm_parity(s, true, seed += 10);
    batch_norm_parity(s, false, seed += 10);
  }
  // The fused activations (the output's sign decides the slope: near-zero outputs may
  // fall on either side on the two devices, so the shapes stay small and the tolerances
  // the same as above; a sign flip at |v| < 1e-5 changes dinp by |dy|, which they catch).
  for (const Shape& s : {Shape{2, 3, 5, 7}, Shape{3, 64, 9, 11}})
    for (ops::BnAct act : {ops::BnAct::Relu, ops::BnAct::LeakyRelu}) {
      batch_norm_parity(s, true, seed += 10, act);
      batch_norm_parity(s, false, seed += 10, act);
    }
}

TEST_SUITE_END();
