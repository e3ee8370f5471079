// CUDA parity of the hand-written element-wise kernels (kernels/cuda/elementwise.cu,
// binary.cu, adam.cu): unary forward/backward of every kind, binary forward/backward
// with broadcasting, axpy, fill and adam_step. The same seeded float32 inputs run on
// the CUDA backend and on the CPU reference in float64; awkward and large (> 1M) sizes;
// every CUDA output is a guarded view, at a 16-byte aligned offset (float4 path) or a
// misaligned one (scalar path); gradients and reductions are also run twice and must
// agree bit for bit. Skipped (reported as such) without a GPU.
#include <iterator>
#include <limits>
#include <string>
#include <vector>

#include "cuda_parity_aligned.h"
#include "kernels/ops.h"

// Selected by gpu-check.sh and compute-sanitizer as --test-suite=cuda.
TEST_SUITE_BEGIN("cuda");

using namespace sad;
using namespace sad::test;

namespace {

std::string ctx_of(const std::string& op, const Shape& s, uint64_t seed, int64_t lead) {
  return op + " " + shape_str(s) + " seed " + std::to_string(seed) + " lead " + std::to_string(lead);
}

// Sizes: scalar, odd, not a multiple of 4 (the float4 tail) or of the block size,
// batch 1, 1x1, and one above 1M elements.
const std::vector<Shape> kSizes = {{1}, {7}, {2, 3, 5, 7}, {1, 1, 1, 1}, {3, 1, 17, 13}, {1, 4, 513, 515}};

}  // namespace

// ---- unary ---------------------------------------------------------------------------------------

TEST_CASE("cuda parity: unary forward / backward and in place / every kind" * doctest::skip(!sad::cuda_available())) {
  uint64_t seed = 2000;
  for (int k = 0; k < static_cast<int>(ops::UnaryKind::Count); ++k) {
    ops::UnaryParams p;
    p.kind = static_cast<ops::UnaryKind>(k);
    p.alpha = p.kind == ops::UnaryKind::LeakyRelu ? 0.2f : -1.5f;
    p.beta = 0.25f;
    const bool transcendental =
        p.kind == ops::UnaryKind::Sigmoid || p.kind == ops::UnaryKind::Tanh || p.kind == ops::UnaryKind::Softplus;
    const bool copy = p.kind == ops::UnaryKind::Relu || p.kind == ops::UnaryKind::Abs;
    const Tol fwd_tol = transcendental ? kTranscendental : (copy ? kExact : kFewRoundings);
    // Backward gets y from the CUDA forward on both sides; only softplus' derivative
    // evaluates a transcendental function (sigmoid(x)) itself.
    const Tol bwd_tol = p.kind == ops::UnaryKind::Softplus ? kTranscendental : kFewRoundings;
    for (size_t si = 0; si < kSizes.size(); ++si) {
      const Shape& s = kSizes[si];
      const int64_t lead = si % 2 ? kLeadMisaligned : kLeadAligned;
      seed += 2;
      const std::string ctx = ctx_of(std::string("unary ") + ops::unary_name(p.kind), s, seed, lead);
      INFO(ctx);
      // [-4, 4]: both sides of every kink and the saturating tails of sigmoid/tanh.
      Tensor x = random_f32(s, seed, -4.0, 4.0), dy = random_f32(s, seed + 1);
      Tensor xc = cuda_input_at(x, lead), dyc = dy.to(cuda_device());

      Tensor y_ref = Tensor::empty(s, DType::F64);
      ops::unary_forward(p, f64(x), y_ref);
      GuardedCudaAt y(s, lead);
      ops::unary_forward(p, xc, y.view());
      check_parity(y.view(), y_ref, fwd_tol, ctx + ": forward");
      y.check_guards(ctx + ": forward");

      Tensor dx_ref = Tensor::empty(s, DType::F64);
      ops::unary_backward(p, f64(x), f64(y.view()), f64(dy), dx_ref);
      GuardedCudaAt dx(s, lead);
      ops::unary_backward(p, xc, y.view(), dyc, dx.view());
      check_parity(dx.view(), dx_ref, bwd_tol, ctx + ": backward");
      dx.check_guards(ctx + ": backward");

      // In place (out == inp) must give the same bits as out of place.
      GuardedCudaAt inplace(s, lead, &x);
      ops::unary_forward(p, inplace.view(), inplace.view());
      check_bitwise_equal(inplace.view(), y.view(), ctx + ": in place");
      inplace.check_guards(ctx + ": in place");
    }
  }
}

TEST_CASE("cuda parity: unary sigmoid and softplus stay finite at large |x|" * doctest::skip(!sad::cuda_available())) {
  Tensor x = Tensor::from_vector({-1000.f, -90.f, 0.f, 90.f, 1000.f}, {5}).to(cuda_device());
  Tensor y = Tensor::empty({5}, DType::F32, cuda_device());
  ops::unary_forward({ops::UnaryKind::Sigmoid}, x, y);
  const std::vector<float> s = y.to_vector();
  CHECK(s[0] == 0.0f);
  CHECK(s[2] == 0.5f);
  CHECK(s[4] == 1.0f);
  ops::unary_forward({ops::UnaryKind::Softplus}, x, y);
  const std::vector<float> sp = y.to_vector();
  CHECK(sp[0] == 0.0f);
  CHECK(sp[4] == 1000.0f);
}

// ---- axpy and fill -------------------------------------------------------------------------------

TEST_CASE("cuda parity: axpy accumulates into y" * doctest::skip(!sad::cuda_available())) {
  uint64_t seed = 2100;
  for (size_t si = 0; si < kSizes.size(); ++si) {
    const Shape& s = kSizes[si];
    const int64_t lead = si % 2 ? kLeadMisaligned : kLeadAligned;
    seed += 2;
    const std::string ctx = ctx_of("axpy", s, seed, lead);
    INFO(ctx);
    const float alpha = -0.75f;
    Tensor x = random_f32(s, seed), y0 = random_f32(s, seed + 1);
    Tensor y_ref = f64(y0);
    ops::axpy(alpha, f64(x), y_ref);
    GuardedCudaAt y(s, lead, &y0);
    ops::axpy(alpha, x.to(cuda_device()), y.view());
    check_parity(y.view(), y_ref, kFewRoundings, ctx);
    y.check_guards(ctx);
  }
}

TEST_CASE("cuda parity: fill writes every element and nothing else" * doctest::skip(!sad::cuda_available())) {
  for (size_t si = 0; si < kSizes.size(); ++si) {
    const Shape& s = kSizes[si];
    for (int64_t lead : {kLeadAligned, kLeadMisaligned, kLeadAligned + 2}) {
      const std::string ctx = ctx_of("fill", s, 0, lead);
      GuardedCudaAt t(s, lead);
      ops::fill(t.view(), 0.375f);
      check_parity(t.view(), Tensor::full(s, 0.375, DType::F64), kExact, ctx);
      t.check_guards(ctx);
    }
  }
}

// ---- binary ----------------------------------------------------------------------------------------

namespace {

struct BinaryCase {
  Shape a, b;
};

void binary_parity(ops::BinaryKind kind, const BinaryCase& bc, uint64_t seed, int64_t lead) {
  if (skip_large({bc.a, bc.b})) return;
  const ops::BinaryParams p{kind};
  const Shape out_shape = ops::broadcast_shape(bc.a, bc.b);
  const std::string ctx = std::string("binary ") + ops::binary_name(kind) + " " + shape_str(bc.a) + " with " +
                          shape_str(bc.b) + " seed " + std::to_string(seed) + " lead " + std::to_string(lead);
  INFO(ctx);
  Tensor a = random_f32(bc.a, seed), b = random_f32(bc.b, seed + 1), dy = random_f32(out_shape, seed + 2);
  Tensor ac = cuda_input_at(a, lead), bc_ = b.to(cuda_device()), dyc = dy.to(cuda_device());

  Tensor y_ref = Tensor::empty(out_shape, DType::F64);
  ops::binary_forward(p, f64(a), f64(b), y_ref);
  Tensor da_ref = Tensor::empty(bc.a, DType::F64), db_ref = Tensor::empty(bc.b, DType::F64);
  ops::binary_backward(p, f64(a), f64(b), f64(dy), &da_ref, &db_ref);

  GuardedCudaAt y(out_shape, lead), da(bc.a, lead), db(bc.b, lead);
  ops::binary_forward(p, ac, bc_, y.view());
  ops::binary_backward(p, ac, bc_, dyc, da.ptr(), db.ptr());
  // One float op per element: the exact result rounded once.
  check_parity(y.view(), y_ref, kRoundedOnce, ctx + ": forward");
  // A gradient of a broadcast operand is a double sum rounded once; otherwise a copy,
  // a negation or one product.
  check_parity(da.view(), da_ref, kSummedOnce, ctx + ": da");
  check_parity(db.view(), db_ref, kSummedOnce, ctx + ": db");
  y.check_guards(ctx + ": forward");
  da.check_guards(ctx + ": da");
  db.check_guards(ctx + ": db");

  // Each gradient alone (the other null), bit-identical to the first run.
  GuardedCudaAt da2(bc.a, lead), db2(bc.b, lead);
  ops::binary_backward(p, ac, bc_, dyc, da2.ptr(), nullptr);
  ops::binary_backward(p, ac, bc_, dyc, nullptr, db2.ptr());
  check_bitwise_equal(da2.view(), da.view(), ctx + ": da alone");
  check_bitwise_equal(db2.view(), db.view(), ctx + ": db alone");
  da2.check_guards(ctx + ": da alone");
  db2.check_guards(ctx + ": db alone");
}

}  // namespace

TEST_CASE("cuda parity: binary add / sub / mul forward and backward with broadcasting" *
          doctest::skip(!sad::cuda_available())) {
  const BinaryCase cases[] = {
      {{2, 3, 5, 7}, {2, 3, 5, 7}},            // same shape: the float4 map
      {{2, 3, 5, 7}, {1, 3, 1, 1}},            // a per-channel bias
      {{2, 3, 5, 7}, {2, 1, 5, 7}},            // a one-channel mask over channels
      {{5, 7}, {2, 3, 5, 7}},                  // lower rank on the left
      {{2, 1, 5, 1}, {1, 3, 1, 7}},            // both operands broadcast
      {{1}, {4, 6}},                           // a scalar
      {{1, 1, 1, 1}, {1, 1, 1, 1}},            // 1x1
      {{3, 1}, {1, 4}},                        // an outer product
      {{7, 1, 1}, {7, 9, 17}},                 // short rows (16 < len: the row layout)
      {{4, 16, 129, 129}, {4, 16, 129, 129}},  // > 1M, same shape
      {{4, 16, 129, 129}, {1, 16, 1, 1}},      // > 1M, bias gradient: 66564-term sums, chunked
      {{4, 16, 129, 129}, {4, 1, 129, 129}},   // > 1M, mask gradient: column layout
      {{1}, {2, 8, 257, 255}},                 // > 1M, a scalar's gradient: one chunked segment
      {{1, 1, 100, 33}, {5, 9, 100, 33}},      // column layout, each sum split in 2 chunks
  };
  uint64_t seed = 2200;
  for (int k = 0; k < static_cast<int>(ops::BinaryKind::Count); ++k)
    for (size_t ci = 0; ci < std::size(cases); ++ci)
      binary_parity(static_cast<ops::BinaryKind>(k), cases[ci], seed += 3, ci % 2 ? kLeadMisaligned : kLeadAligned);
}

TEST_CASE("cuda parity: binary refuses operands on different devices" * doctest::skip(!sad::cuda_available())) {
  Tensor a = random_f32({2, 3}, 1), b = random_f32({2, 3}, 2).to(cuda_device());
  Tensor out = Tensor::empty({2, 3}, DType::F32, cuda_device());
  CHECK_THROWS_AS(ops::binary_forward({ops::BinaryKind::Add}, a, b, out), Error);
  // And a CUDA output of the wrong shape.
  Tensor bad = Tensor::empty({3, 2}, DType::F32, cuda_device());
  CHECK_THROWS_AS(ops::binary_forward({ops::BinaryKind::Add}, b, b, bad), Error);
}

// ---- adam ------------------------------------------------------------------------------------------

TEST_CASE("cuda parity: adam_step / one fused update per step" * doctest::skip(!sad::cuda_available())) {
  const Shape sizes[] = {{1}, {5}, {1031}, {(1 << 20) + 3}};
  uint64_t seed = 2400;
  for (size_t si = 0; si < std::size(sizes); ++si)
    for (float wd : {0.0f, 1e-2f}) {
      const Shape& s = sizes[si];
      const int64_t lead = si % 2 ? kLeadMisaligned : kLeadAligned;
      seed += 5;
      ops::AdamParams p;
      p.lr = 2e-4f;
      p.beta1 = 0.5f;
      p.beta2 = 0.999f;
      p.eps = 1e-8f;
      p.weight_decay = wd;
      Tensor w0 = random_f32(s, seed), m0 = random_f32(s, seed + 1, -1e-2, 1e-2);
      Tensor v0 = random_f32(s, seed + 2, 0.0, 1e-3);
      GuardedCudaAt w(s, lead, &w0), m(s, lead, &m0), v(s, lead, &v0);
      // Steps 1, 2, 3 and a late one; each compared from the same state (the CUDA state
      // before the step), so float32 rounding of m and v does not compound.
      for (int64_t step : {1, 2, 3, 1000}) {
        p.step = step;
        const std::string ctx =
            ctx_of("adam_step (wd " + std::to_string(wd) + ", t " + std::to_string(step) + ")", s, seed, lead);
        INFO(ctx);
        Tensor g = random_f32(s, seed + 10 + static_cast<uint64_t>(step));
        Tensor w_ref = f64(w.view()), m_ref = f64(m.view()), v_ref = f64(v.view());
        ops::adam_step(p, w_ref, f64(g), m_ref, v_ref, Tensor());
        // A clear skip flag (flag_nonfinite's, read on the device) changes nothing.
        ops::adam_step(p, w.view(), cuda_input_at(g, lead), m.view(), v.view(),
                       Tensor::zeros({1}, DType::F32, cuda_device()));
        // Every element is computed in double on both sides and rounded once.
        check_parity(w.view(), w_ref, kRoundedOnce, ctx + ": param");
        check_parity(m.view(), m_ref, kRoundedOnce, ctx + ": m");
        check_parity(v.view(), v_ref, kRoundedOnce, ctx + ": v");
        w.check_guards(ctx + ": param");
        m.check_guards(ctx + ": m");
        v.check_guards(ctx + ": v");
      }
    }
}

TEST_CASE("cuda parity: flag_nonfinite sets the flag and a set flag makes adam_step a no-op" *
          doctest::skip(!sad::cuda_available())) {
  // Sizes on both sides of 2^20 with the bad value first, last and absent; the flag is sticky.
  for (int64_t n : {int64_t{1}, int64_t{4099}, int64_t{(1 << 20) + 3}}) {
    for (int where : {-1, 0, 1}) {
      std::vector<float> x(static_cast<size_t>(n), 0.5f);
      if (where == 0) x.front() = std::numeric_limits<float>::quiet_NaN();
      if (where == 1) x.back() = -std::numeric_limits<float>::infinity();
      Tensor xc = Tensor::from_vector(x, {n}).to(cuda_device()), xh = Tensor::from_vector(x, {n});
      Tensor fc = Tensor::zeros({1}, DType::F32, cuda_device()), fh = Tensor::zeros({1});
      ops::flag_nonfinite(xc, fc);
      ops::flag_nonfinite(xh, fh);
      const std::string ctx = "n " + std::to_string(n) + ", bad value " + std::to_string(where);
      CHECK_MESSAGE(fc.item() == fh.item(), ctx);
      CHECK_MESSAGE(fh.item() == (where < 0 ? 0.0 : 1.0), ctx);
      ops::flag_nonfinite(Tensor::from_vector(std::vector<float>(3, 1.0f), {3}).to(cuda_device()), fc);
      const std::string again = ctx + ": a finite tensor leaves the flag as it was";
      CHECK_MESSAGE(fc.item() == fh.item(), again);
    }
  }
  Tensor w = random_f32({1031}, 2500).to(cuda_device()), g = random_f32({1031}, 2501).to(cuda_device());
  Tensor m = Tensor::zeros({1031}, DType::F32, cuda_device()), v = Tensor::zeros({1031}, DType::F32, cuda_device());
  const std::vector<float> before = w.to_vector();
  ops::adam_step(ops::AdamParams{}, w, g, m, v, Tensor::full({1}, 1.0, DType::F32, cuda_device()));
  CHECK(w.to_vector() == before);
  CHECK(m.to_vector() == std::vector<float>(1031, 0.0f));
}

TEST_SUITE_END();
