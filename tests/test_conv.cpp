// conv2d: forward and backward of the im2col + GEMM CPU reference against a direct
// (naive) convolution written here, a hand-computed case, float64 finite-difference
// gradients, float32 vs float64, thread-count independence and the bad-shape errors.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "autograd/functions.h"
#include "kernels/cpu/conv2d_direct.h"
#include "kernels/runtime.h"
#include "test_util.h"

using namespace sad;
using sad::test::check_close;
using sad::test::gradcheck;
using sad::test::random_tensor;

namespace {

struct ConvCase {
  const char* name;
  int64_t n, ci, h, w, co, kh, kw;
  int sh, sw, ph, pw;

  ops::Conv2dParams params() const { return {sh, sw, ph, pw}; }
  int64_t ho() const { return ops::conv2d_out_size(h, kh, sh, ph); }
  int64_t wo() const { return ops::conv2d_out_size(w, kw, sw, pw); }
  Shape in_shape() const { return {n, ci, h, w}; }
  Shape w_shape() const { return {co, ci, kh, kw}; }
  Shape out_shape() const { return {n, co, ho(), wo()}; }
};

// The shapes the networks use (3x3 s1/s2 p1, 4x4 s2/s1 p1, 1x1 s1/s2) plus awkward ones:
// batch 1, odd H and W, one input channel, different h/w kernel, stride and padding.
const ConvCase kCases[] = {
    {"3x3 s1 p1", 2, 3, 7, 9, 4, 3, 3, 1, 1, 1, 1},
    {"3x3 s2 p1", 2, 3, 8, 9, 5, 3, 3, 2, 2, 1, 1},
    {"4x4 s2 p1", 2, 2, 9, 8, 3, 4, 4, 2, 2, 1, 1},
    {"4x4 s1 p1", 1, 2, 6, 7, 3, 4, 4, 1, 1, 1, 1},
    {"1x1 s1 p0", 3, 4, 5, 3, 2, 1, 1, 1, 1, 0, 0},
    {"1x1 s2 p0", 2, 3, 7, 5, 4, 1, 1, 2, 2, 0, 0},
    {"3x3 s1 p1, batch 1, one input channel", 1, 1, 5, 5, 2, 3, 3, 1, 1, 1, 1},
    {"3x5 stride (1, 2) pad (2, 0)", 2, 2, 5, 11, 3, 3, 5, 1, 2, 2, 0},
    {"3x3 s3 p2, kernel beyond the image", 1, 2, 4, 5, 2, 3, 3, 3, 3, 2, 2},
};

// Direct convolution in double: out[n,o,y,x] = b[o] + sum_{c,i,j} w[o,c,i,j] in[n,c,y s - p + i, x s - p + j].
std::vector<double> naive_conv_forward(const ConvCase& k, const std::vector<double>& x, const std::vector<double>& w,
                                       const std::vector<double>* b) {
  const int64_t ho = k.ho(), wo = k.wo();
  std::vector<double> y(static_cast<size_t>(k.n * k.co * ho * wo));
  for (int64_t n = 0; n < k.n; ++n)
    for (int64_t o = 0; o < k.co; ++o)
      for (int64_t oy = 0; oy < ho; ++oy)
        for (int64_t ox = 0; ox < wo; ++ox) {
          double s = b ? (*b)[static_cast<size_t>(o)] : 0.0;
          for (int64_t c = 0; c < k.ci; ++c)
            for (int64_t i = 0; i < k.kh; ++i)
              for (int64_t j = 0; j < k.kw; ++j) {
                int64_t iy = oy * k.sh - k.ph + i, ix = ox * k.sw - k.pw + j;
                if (iy < 0 || iy >= k.h || ix < 0 || ix >= k.w) continue;
                s += w[static_cast<size_t>(((o * k.ci + c) * k.kh + i) * k.kw + j)] *
                     x[static_cast<size_t>(((n * k.ci + c) * k.h + iy) * k.w + ix)];
              }
          y[static_cast<size_t>(((n * k.co + o) * ho + oy) * wo + ox)] = s;
        }
  return y;
}

// The same loops, transposed: every product w * x sends dy to both factors' gradients.
void naive_conv_backward(const ConvCase& k, const std::vector<double>& x, const std::vector<double>& w,
                         const std::vector<double>& dy, std::vector<double>& dx, std::vector<double>& dw,
                         std::vector<double>& db) {
  const int64_t ho = k.ho(), wo = k.wo();
  dx.assign(x.size(), 0.0);
  dw.assign(w.size(), 0.0);
  db.assign(static_cast<size_t>(k.co), 0.0);
  for (int64_t n = 0; n < k.n; ++n)
    for (int64_t o = 0; o < k.co; ++o)
      for (int64_t oy = 0; oy < ho; ++oy)
        for (int64_t ox = 0; ox < wo; ++ox) {
          double g = dy[static_cast<size_t>(((n * k.co + o) * ho + oy) * wo + ox)];
          db[static_cast<size_t>(o)] += g;
          for (int64_t c = 0; c < k.ci; ++c)
            for (int64_t i = 0; i < k.kh; ++i)
              for (int64_t j = 0; j < k.kw; ++j) {
                int64_t iy = oy * k.sh - k.ph + i, ix = ox * k.sw - k.pw + j;
                if (iy < 0 || iy >= k.h || ix < 0 || ix >= k.w) continue;
                size_t wi = static_cast<size_t>(((o * k.ci + c) * k.kh + i) * k.kw + j);
                size_t xi = static_cast<size_t>(((n * k.ci + c) * k.h + iy) * k.w + ix);
                dw[wi] += g * x[xi];
                dx[xi] += g * w[wi];
              }
        }
}

// Runs the op's backward with all three gradients requested.
void run_backward(const ConvCase& k, const Tensor& x, const Tensor& w, const Tensor& dy, Tensor& dx, Tensor& dw,
                  Tensor& db) {
  dx = Tensor::empty(x.shape(), x.dtype());
  dw = Tensor::empty(w.shape(), w.dtype());
  db = Tensor::empty({k.co}, w.dtype());
  ops::conv2d_backward(k.params(), x, w, dy, &dx, &dw, &db);
}

}  // namespace

TEST_CASE("conv2d forward: hand-computed 3x3 case") {
  // Input 1..9 in a 3x3 image. Channel 0: a 3x3 box of ones (neighbourhood sums) plus
  // bias 1; channel 1: 2 x the centre tap (2 x the input) minus 1.
  Tensor x = Tensor::from_vector_f64({1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 1, 3, 3});
  std::vector<double> wv(18, 0.0);
  for (int i = 0; i < 9; ++i) wv[static_cast<size_t>(i)] = 1.0;
  wv[9 + 4] = 2.0;
  Variable w(Tensor::from_vector_f64(wv, {2, 1, 3, 3}));
  Variable b(Tensor::from_vector_f64({1, -1}, {2}));

  Variable y = conv2d(Variable(x), w, b, {1, 1, 1, 1});
  REQUIRE(y.shape() == Shape{1, 2, 3, 3});
  check_close(y.data().to_vector_f64(),
              {13, 22, 17, 28, 46, 34, 25, 40, 29,  // box sums + 1
               1, 3, 5, 7, 9, 11, 13, 15, 17},      // 2x - 1
              0, 0, "conv2d 3x3 s1 p1");

  Variable y2 = conv2d(Variable(x), w, Variable(), {2, 2, 1, 1});
  REQUIRE(y2.shape() == Shape{1, 2, 2, 2});
  check_close(y2.data().to_vector_f64(), {12, 16, 24, 28, 2, 6, 14, 18}, 0, 0, "conv2d 3x3 s2 p1, no bias");
}

TEST_CASE("conv2d forward and backward: match a direct convolution (float64)") {
  uint64_t seed = 100;
  for (const ConvCase& k : kCases) {
    for (bool with_bias : {true, false}) {
      ++seed;
      INFO(std::string(k.name));
      CAPTURE(with_bias);
      CAPTURE(seed);
      Tensor x = random_tensor(k.in_shape(), seed);
      Tensor w = random_tensor(k.w_shape(), seed + 1000);
      Tensor b = random_tensor({k.co}, seed + 2000);
      Tensor y = Tensor::empty(k.out_shape(), DType::F64);
      ops::conv2d_forward(k.params(), x, w, with_bias ? &b : nullptr, y);
      std::vector<double> bv = b.to_vector_f64();
      // Sums of at most Ci*KH*KW = 45 products of values in [-1, 1]: rounding ~ 45 * 1e-16.
      check_close(y.to_vector_f64(),
                  naive_conv_forward(k, x.to_vector_f64(), w.to_vector_f64(), with_bias ? &bv : nullptr), 1e-13, 0,
                  std::string("forward ") + k.name);

      Tensor dy = random_tensor(k.out_shape(), seed + 3000);
      Tensor dx, dw, db;
      run_backward(k, x, w, dy, dx, dw, db);
      std::vector<double> edx, edw, edb;
      naive_conv_backward(k, x.to_vector_f64(), w.to_vector_f64(), dy.to_vector_f64(), edx, edw, edb);
      // dweight sums N*Ho*Wo <= 200 products: rounding stays below 1e-13.
      check_close(dx.to_vector_f64(), edx, 1e-13, 0, std::string("dinp ") + k.name);
      check_close(dw.to_vector_f64(), edw, 1e-13, 0, std::string("dweight ") + k.name);
      check_close(db.to_vector_f64(), edb, 1e-13, 0, std::string("dbias ") + k.name);
    }
  }
}

TEST_CASE("conv2d forward and backward: shapes cut into several tasks match a direct convolution (float64)") {
  // The kernel splits work into bands of ~1024 output positions, groups of ~64 column
  // rows (whole input channels) and at most 8 dweight chunks; these shapes cross every
  // boundary. Each optional gradient is computed alone.
  const ConvCase cases[] = {
      {"11 images: 8 chunks, some of two tasks", 11, 8, 16, 16, 8, 3, 3, 1, 1, 1, 1},
      {"two bands per image, five channel groups", 2, 32, 40, 38, 3, 3, 3, 1, 1, 1, 1},
      {"1x1: two bands, two channel groups", 1, 70, 35, 35, 3, 1, 1, 1, 1, 0, 0},
      {"4x4 s2: bands of odd height", 1, 3, 90, 61, 2, 4, 4, 2, 2, 1, 1},
  };
  uint64_t seed = 7;
  for (const ConvCase& k : cases) {
    INFO(std::string(k.name));
    seed += 10;
    Tensor x = random_tensor(k.in_shape(), seed);
    Tensor w = random_tensor(k.w_shape(), seed + 1);
    Tensor b = random_tensor({k.co}, seed + 2);
    Tensor dy = random_tensor(k.out_shape(), seed + 3);
    Tensor y = Tensor::empty(k.out_shape(), DType::F64);
    ops::conv2d_forward(k.params(), x, w, &b, y);
    std::vector<double> bv = b.to_vector_f64(), edx, edw, edb;
    naive_conv_backward(k, x.to_vector_f64(), w.to_vector_f64(), dy.to_vector_f64(), edx, edw, edb);
    Tensor dx = Tensor::empty(x.shape(), DType::F64), dw = Tensor::empty(w.shape(), DType::F64),
           db = Tensor::empty({k.co}, DType::F64);
    ops::conv2d_backward(k.params(), x, w, dy, &dx, nullptr, nullptr);
    ops::conv2d_backward(k.params(), x, w, dy, nullptr, &dw, nullptr);
    ops::conv2d_backward(k.params(), x, w, dy, nullptr, nullptr, &db);
    // Sums of up to ~3000 products of values in [-1, 1] in double: rounding below 1e-12.
    check_close(y.to_vector_f64(), naive_conv_forward(k, x.to_vector_f64(), w.to_vector_f64(), &bv), 1e-12, 0,
                "forward");
    check_close(dx.to_vector_f64(), edx, 1e-12, 0, "dinp alone");
    check_close(dw.to_vector_f64(), edw, 1e-12, 0, "dweight alone");
    check_close(db.to_vector_f64(), edb, 1e-12, 0, "dbias alone");
  }
}

TEST_CASE("conv2d gradients: finite differences (float64)") {
  uint64_t seed = 300;
  for (const ConvCase& k : kCases) {
    ++seed;
    INFO(std::string(k.name));
    Tensor x = random_tensor(k.in_shape(), seed);
    Tensor w = random_tensor(k.w_shape(), seed + 1000);
    Tensor b = random_tensor({k.co}, seed + 2000);
    ops::Conv2dParams p = k.params();
    gradcheck(std::string("conv2d ") + k.name, [p](auto& v) { return conv2d(v[0], v[1], v[2], p); }, {x, w, b},
              {true, true, true}, {.seed = seed});
  }
  // No bias (undefined Variable): gradients of input and weight only.
  const ConvCase& k = kCases[0];
  ops::Conv2dParams p = k.params();
  gradcheck("conv2d without bias", [p](auto& v) { return conv2d(v[0], v[1], Variable(), p); },
            {random_tensor(k.in_shape(), 1), random_tensor(k.w_shape(), 2)}, {true, true});
}

TEST_CASE("conv2d float32 matches float64") {
  // The first case (Wo 6) and the last (5 input channels) take im2col + GEMM in both
  // precisions; the others (kernel larger than 1x1, strides 1 or 2, at least 8 input
  // channels and 16 columns out) take the direct convolution in float32 (at stride 2 for
  // the forward and dweight only) (kernels/cpu/conv2d_direct.h),
  // with tails: Wo not a multiple of 8 or 16, Co not a multiple of 8, a kernel width the
  // tiles do not unroll (5), and (pad 3 > KH - 1)
  // a forward on the direct path whose input gradient falls back to col2im.
  const ConvCase cases[] = {{"3x3 s2 p1", 3, 16, 13, 11, 12, 3, 3, 2, 2, 1, 1},
                            {"3x3 s1 p1 direct, Wo 37, Co 11", 2, 9, 19, 37, 11, 3, 3, 1, 1, 1, 1},
                            {"5x3 s1 pad (2, 0) direct, Co 3", 1, 8, 9, 22, 3, 5, 3, 1, 1, 2, 0},
                            {"3x3 s1 p3 direct forward, GEMM input gradient", 1, 8, 6, 17, 9, 3, 3, 1, 1, 3, 3},
                            {"1x3 s1 p(0, 1) direct, Co 20", 2, 10, 5, 16, 20, 1, 3, 1, 1, 0, 1},
                            {"4x4 s2 p1 direct forward and dweight, Wo 20", 2, 8, 14, 40, 9, 4, 4, 2, 2, 1, 1},
                            {"3x3 stride (2, 1) p1 direct forward and dweight", 1, 12, 9, 21, 5, 3, 3, 2, 1, 1, 1},
                            {"3x5 s1 p(1, 2) direct, taps not unrolled, Wo 33", 1, 8, 7, 33, 10, 3, 5, 1, 1, 1, 2},
                            {"3x3 s1 p1, 5 input channels: GEMM", 1, 5, 6, 20, 4, 3, 3, 1, 1, 1, 1}};
  for (const ConvCase& k : cases) {
    INFO(std::string(k.name));
    const uint64_t seed = 21;
    Tensor x = random_tensor(k.in_shape(), seed), w = random_tensor(k.w_shape(), seed + 1),
           b = random_tensor({k.co}, seed + 2), dy = random_tensor(k.out_shape(), seed + 3);
    Tensor y64 = Tensor::empty(k.out_shape(), DType::F64), y32 = Tensor::empty(k.out_shape(), DType::F32);
    ops::conv2d_forward(k.params(), x, w, &b, y64);
    Tensor b32 = b.to(DType::F32);
    ops::conv2d_forward(k.params(), x.to(DType::F32), w.to(DType::F32), &b32, y32);
    // Tolerances from each sum's length, so that the first case keeps its 2e-5. A sum of K
    // products of values in [-1, 1] rounds in float32 (6e-8 relative per operation, inputs
    // rounded too) by at most ~K * 1.4e-7: 2e-5 at K = 144 (the first case), 2.7e-5 at 192.
    const auto linear = [](int64_t terms) { return std::max(2e-5, 1.4e-7 * static_cast<double>(terms)); };
    check_close(y32, y64, linear(k.ci * k.kh * k.kw), 0, "forward f32 vs f64");

    Tensor dx64, dw64, db64, dx32, dw32, db32;
    run_backward(k, x, w, dy, dx64, dw64, db64);
    run_backward(k, x.to(DType::F32), w.to(DType::F32), dy.to(DType::F32), dx32, dw32, db32);
    // dinp sums at most Co*KH*KW products. dweight and dbias sum N*Ho*Wo products of random
    // sign, whose partial sums grow like sqrt(N*Ho*Wo): 1.1e-6 * sqrt(n) (2e-5 at the first
    // case's 126, 4.1e-5 at the largest case's 1406).
    const int64_t pixels = k.n * k.ho() * k.wo();
    const double tol_w = std::max(2e-5, 1.1e-6 * std::sqrt(static_cast<double>(pixels)));
    check_close(dx32, dx64, linear(k.co * k.kh * k.kw), 0, "dinp f32 vs f64");
    check_close(dw32, dw64, tol_w, 0, "dweight f32 vs f64");
    check_close(db32, db64, tol_w, 0, "dbias f32 vs f64");
  }
}

TEST_CASE("conv2d forward and backward: identical with 1 and 2 OpenMP threads") {
  // Bit-for-bit: the fixed task decomposition and dweight chunks must not let the thread
  // count change any summation order (OpenBLAS's own threading would: it stays off).
  // The cases are big enough for the parallel path, with one or several images.
  const ConvCase cases[] = {{"11 images", 11, 8, 16, 16, 8, 3, 3, 1, 1, 1, 1},
                            {"4 images, 4x4 s2", 4, 8, 17, 15, 16, 4, 4, 2, 2, 1, 1},
                            {"1 image, 1x1, 3 bands, 2 channel groups", 1, 96, 48, 50, 48, 1, 1, 1, 1, 0, 0},
                            {"1 image, 3x3, 2 bands, 5 channel groups", 1, 32, 40, 36, 32, 3, 3, 1, 1, 1, 1}};
  const int saved = num_threads();
  for (const ConvCase& k : cases) {
    INFO(std::string(k.name));
    Tensor x = random_tensor(k.in_shape(), 1, -1, 1, DType::F32), w = random_tensor(k.w_shape(), 2, -1, 1, DType::F32),
           b = random_tensor({k.co}, 3, -1, 1, DType::F32), dy = random_tensor(k.out_shape(), 4, -1, 1, DType::F32);
    Tensor y[2], dx[2], dw[2], db[2];
    for (int t = 0; t < 2; ++t) {
      set_num_threads(t + 1);
      y[t] = Tensor::empty(k.out_shape());
      ops::conv2d_forward(k.params(), x, w, &b, y[t]);
      run_backward(k, x, w, dy, dx[t], dw[t], db[t]);
    }
    set_num_threads(saved);
    const std::pair<const char*, Tensor*> results[] = {{"forward", y}, {"dinp", dx}, {"dweight", dw}, {"dbias", db}};
    for (auto [what, pair] : results)
      CHECK_MESSAGE(std::memcmp(pair[0].raw(), pair[1].raw(), pair[0].nbytes()) == 0, (std::string(what) + " differs"));
  }
}

TEST_CASE("conv2d float32: the direct path's column chunk (its L1 budget) changes no bit") {
  // 64 columns out and 16 input channels: a 4 KiB budget cuts each output row into chunks
  // of 16 columns (tiles of one vector), 64 KiB takes the row whole (two-vector tiles on
  // AVX-512), so the tiles and the chunk edges differ while every value's sum must not.
  const ConvCase k{"3x3 s1 p1, 64 columns", 2, 16, 6, 64, 12, 3, 3, 1, 1, 1, 1};
  Tensor x = random_tensor(k.in_shape(), 5, -1, 1, DType::F32), w = random_tensor(k.w_shape(), 6, -1, 1, DType::F32),
         b = random_tensor({k.co}, 7, -1, 1, DType::F32), dy = random_tensor(k.out_shape(), 8, -1, 1, DType::F32);
  Tensor y[2], dx[2], dw[2], db[2];
  const int64_t budgets[2] = {4096, 65536};
  for (int t = 0; t < 2; ++t) {
    cpu::conv_direct::set_l1_budget(budgets[t]);
    REQUIRE(cpu::conv_direct::l1_budget() == budgets[t]);
    y[t] = Tensor::empty(k.out_shape());
    ops::conv2d_forward(k.params(), x, w, &b, y[t]);
    run_backward(k, x, w, dy, dx[t], dw[t], db[t]);
  }
  cpu::conv_direct::set_l1_budget(0);
  const std::pair<const char*, Tensor*> results[] = {{"forward", y}, {"dinp", dx}, {"dweight", dw}, {"dbias", db}};
  for (auto [what, pair] : results)
    CHECK_MESSAGE(std::memcmp(pair[0].raw(), pair[1].raw(), pair[0].nbytes()) == 0, (std::string(what) + " differs"));
}

TEST_CASE("conv2d: bad shapes are refused with both shapes named") {
  Variable x(Tensor::zeros({1, 3, 5, 5}));
  Variable w(Tensor::zeros({4, 2, 3, 3}));
  try {
    conv2d(x, w, Variable(), {1, 1, 1, 1});
    FAIL("a channel mismatch was accepted");
  } catch (const Error& e) {
    std::string msg = e.what();
    CHECK_MESSAGE(msg.find("(1, 3, 5, 5)") != std::string::npos, msg);
    CHECK_MESSAGE(msg.find("(4, 2, 3, 3)") != std::string::npos, msg);
  }
  // Wrong bias length, kernel larger than the padded input, wrong dinp shape.
  CHECK_THROWS_AS(conv2d(x, Variable(Tensor::zeros({4, 3, 3, 3})), Variable(Tensor::zeros({3})), {}), Error);
  CHECK_THROWS_AS(conv2d(x, Variable(Tensor::zeros({4, 3, 7, 7})), Variable(), {}), Error);
  Tensor dx = Tensor::zeros({1, 3, 5, 4});
  CHECK_THROWS_AS(ops::conv2d_backward({1, 1, 1, 1}, x.data(), Tensor::zeros({4, 3, 3, 3}), Tensor::zeros({1, 4, 5, 5}),
                                       &dx, nullptr, nullptr),
                  Error);
}
