// binary ops (add, sub, mul with NumPy broadcasting): forward against hand-computed
// values and a naive index-mapping reference written here, backward against a naive
// scatter, gradients by finite differences, and the error path of shapes that do not
// broadcast.
#include <array>
#include <string>

#include "autograd/functions.h"
#include "kernels/ops.h"
#include "test_util.h"

using namespace sad;
using sad::test::check_close;
using sad::test::gradcheck;
using sad::test::random_tensor;

namespace {

// The broadcast pairs the method uses (per-channel bias, per-pixel mask, scalar) plus
// the reversed orders and a shape broadcast on both sides.
const std::vector<std::pair<Shape, Shape>> kPairs = {
    {{2, 3, 5, 7}, {1, 3, 1, 1}}, {{2, 3, 5, 7}, {2, 1, 5, 7}}, {{2, 3, 5, 7}, {3, 1, 1}},
    {{2, 3, 5, 7}, {1}},          {{1}, {2, 3, 5, 7}},          {{3, 1, 1}, {2, 3, 5, 7}},
    {{2, 1, 5, 1}, {1, 3, 1, 7}}, {{2, 3, 5, 7}, {2, 3, 5, 7}}, {{5, 7}, {7}},
    {{1, 1, 1, 1}, {1}}};

const ops::BinaryKind kKinds[] = {ops::BinaryKind::Add, ops::BinaryKind::Sub, ops::BinaryKind::Mul};

double apply_kind(ops::BinaryKind k, double a, double b) {
  return k == ops::BinaryKind::Add ? a + b : k == ops::BinaryKind::Sub ? a - b : a * b;
}

// Index of the element of a tensor of shape s (right-aligned in 4-d) that the output
// element at 4-d index i reads.
int64_t source_index(const Shape& s, const std::array<int64_t, 4>& i) {
  int64_t idx = 0;
  size_t off = 4 - s.size();
  for (size_t d = 0; d < s.size(); ++d) idx = idx * s[d] + (s[d] == 1 ? 0 : i[off + d]);
  return idx;
}

std::array<int64_t, 4> out_dims4(const Shape& out) {
  std::array<int64_t, 4> d{1, 1, 1, 1};
  for (size_t k = 0; k < out.size(); ++k) d[4 - out.size() + k] = out[k];
  return d;
}

// Naive forward and the naive backward (scatter every output gradient to its sources).
struct NaiveBinary {
  std::vector<double> out, da, db;
};
NaiveBinary naive_binary(ops::BinaryKind k, const Tensor& a, const Tensor& b, const Tensor& dout) {
  Shape os = ops::broadcast_shape(a.shape(), b.shape());
  auto od = out_dims4(os);
  auto av = a.to_vector_f64(), bv = b.to_vector_f64(), gv = dout.to_vector_f64();
  NaiveBinary r;
  r.da.assign(av.size(), 0.0);
  r.db.assign(bv.size(), 0.0);
  int64_t flat = 0;
  for (int64_t i0 = 0; i0 < od[0]; ++i0)
    for (int64_t i1 = 0; i1 < od[1]; ++i1)
      for (int64_t i2 = 0; i2 < od[2]; ++i2)
        for (int64_t i3 = 0; i3 < od[3]; ++i3, ++flat) {
          auto ia = static_cast<size_t>(source_index(a.shape(), {i0, i1, i2, i3}));
          auto ib = static_cast<size_t>(source_index(b.shape(), {i0, i1, i2, i3}));
          r.out.push_back(apply_kind(k, av[ia], bv[ib]));
          double g = gv[static_cast<size_t>(flat)];
          r.da[ia] += k == ops::BinaryKind::Mul ? g * bv[ib] : g;
          r.db[ib] += k == ops::BinaryKind::Mul ? g * av[ia] : (k == ops::BinaryKind::Sub ? -g : g);
        }
  return r;
}

}  // namespace

TEST_CASE("binary forward: hand-computed (2 / 3) with (3)") {
  Variable a(Tensor::from_vector_f64({1, 2, 3, 4, 5, 6}, {2, 3}));
  Variable b(Tensor::from_vector_f64({10, 20, 30}, {3}));
  check_close(add(a, b).data().to_vector_f64(), {11, 22, 33, 14, 25, 36}, 0, 0, "add");
  check_close(sub(a, b).data().to_vector_f64(), {-9, -18, -27, -6, -15, -24}, 0, 0, "sub");
  check_close(sub(b, a).data().to_vector_f64(), {9, 18, 27, 6, 15, 24}, 0, 0, "sub reversed");
  check_close(mul(a, b).data().to_vector_f64(), {10, 40, 90, 40, 100, 180}, 0, 0, "mul");
  Variable s(Tensor::from_vector_f64({-2}, {1}));
  check_close(mul(s, a).data().to_vector_f64(), {-2, -4, -6, -8, -10, -12}, 0, 0, "mul by scalar");
  CHECK(mul(s, a).shape() == Shape{2, 3});
}

TEST_CASE("binary backward: hand-computed sums over broadcast dimensions") {
  // a (2, 3), b (3): db sums dout over rows; for mul da = dout * b, db = sum_rows dout * a.
  Tensor a = Tensor::from_vector_f64({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor b = Tensor::from_vector_f64({10, 20, 30}, {3});
  Tensor g = Tensor::from_vector_f64({1, -1, 2, 0.5, 3, -2}, {2, 3});
  Tensor da = Tensor::empty({2, 3}, DType::F64), db = Tensor::empty({3}, DType::F64);
  ops::binary_backward({ops::BinaryKind::Add}, a, b, g, &da, &db);
  check_close(da.to_vector_f64(), g.to_vector_f64(), 0, 0, "add da");
  check_close(db.to_vector_f64(), {1.5, 2, 0}, 0, 0, "add db");
  ops::binary_backward({ops::BinaryKind::Sub}, a, b, g, &da, &db);
  check_close(db.to_vector_f64(), {-1.5, -2, 0}, 0, 0, "sub db");
  ops::binary_backward({ops::BinaryKind::Mul}, a, b, g, &da, &db);
  check_close(da.to_vector_f64(), {10, -20, 60, 5, 60, -60}, 0, 0, "mul da");
  check_close(db.to_vector_f64(), {1 + 2, -2 + 15, 6 - 12}, 0, 0, "mul db");
  // Optional outputs: only db, and it is overwritten, not accumulated.
  Tensor db2 = Tensor::full({3}, 99.0, DType::F64);
  ops::binary_backward({ops::BinaryKind::Mul}, a, b, g, nullptr, &db2);
  check_close(db2.to_vector_f64(), {3, 13, -6}, 0, 0, "mul db only");
}

TEST_CASE("binary: forward and backward match a naive reference for every broadcast pair") {
  uint64_t seed = 100;
  for (auto& [sa, sb] : kPairs)
    for (ops::BinaryKind k : kKinds) {
      ++seed;
      Tensor a = random_tensor(sa, seed), b = random_tensor(sb, seed + 1000);
      Shape os = ops::broadcast_shape(sa, sb);
      Tensor g = random_tensor(os, seed + 2000);
      NaiveBinary ref = naive_binary(k, a, b, g);
      std::string ctx = std::string(ops::binary_name(k)) + " " + shape_str(sa) + " with " + shape_str(sb) + " seed " +
                        std::to_string(seed);
      Tensor out = Tensor::empty(os, DType::F64);
      ops::binary_forward({k}, a, b, out);
      // One operation per element, as in the reference: bit-exact.
      check_close(out.to_vector_f64(), ref.out, 0, 0, ctx + " forward");
      Tensor da = Tensor::empty(sa, DType::F64), db = Tensor::empty(sb, DType::F64);
      ops::binary_backward({k}, a, b, g, &da, &db);
      // Sums of up to 210 terms in another association than the scatter: rounding only.
      check_close(da.to_vector_f64(), ref.da, 1e-13, 1e-13, ctx + " da");
      check_close(db.to_vector_f64(), ref.db, 1e-13, 1e-13, ctx + " db");

      // float32 runs the same code; its result is the float64 one rounded (and sums of
      // up to 210 terms accumulated in double), so 1e-6 relative covers it.
      Tensor a32 = a.to(DType::F32), b32 = b.to(DType::F32), g32 = g.to(DType::F32);
      Tensor out32 = Tensor::empty(os), db32 = Tensor::empty(sb);
      ops::binary_forward({k}, a32, b32, out32);
      ops::binary_backward({k}, a32, b32, g32, nullptr, &db32);
      check_close(out32.to_vector_f64(), ref.out, 1e-6, 1e-6, ctx + " forward f32");
      check_close(db32.to_vector_f64(), ref.db, 1e-5, 1e-6, ctx + " db f32");
    }
}

TEST_CASE("binary gradients: finite differences (float64)") {
  uint64_t seed = 7;
  for (auto& [sa, sb] : kPairs) {
    ++seed;
    Tensor a = random_tensor(sa, seed), b = random_tensor(sb, seed + 500);
    std::string shapes = shape_str(sa) + " with " + shape_str(sb);
    gradcheck("add " + shapes, [](auto& v) { return add(v[0], v[1]); }, {a, b}, {true, true});
    gradcheck("sub " + shapes, [](auto& v) { return sub(v[0], v[1]); }, {a, b}, {true, true});
    gradcheck("mul " + shapes, [](auto& v) { return mul(v[0], v[1]); }, {a, b}, {true, true});
    // Only one input needing a gradient takes the optional-output path.
    gradcheck("mul (b only) " + shapes, [](auto& v) { return mul(v[0], v[1]); }, {a, b}, {false, true});
  }
  // The same variable on both sides (x * x, x - x): gradients from both edges add up.
  Tensor x = random_tensor({2, 3, 5, 7}, 31);
  gradcheck("mul x*x", [](auto& v) { return mul(v[0], v[0]); }, {x}, {true});
  gradcheck("add x+x", [](auto& v) { return add(v[0], v[0]); }, {x}, {true});
}

TEST_CASE("binary: shapes that do not broadcast throw / naming both shapes") {
  Variable a(Tensor::zeros({2, 3, 5, 7}, DType::F64)), b(Tensor::zeros({2, 5, 1}, DType::F64));
  CHECK_THROWS_AS(add(a, b), sad::Error);
  try {
    mul(a, b);
    FAIL("mul of (2, 3, 5, 7) and (2, 5, 1) did not throw");
  } catch (const sad::Error& e) {
    std::string msg = e.what();
    CHECK_MESSAGE(msg.find("(2, 3, 5, 7)") != std::string::npos, msg);
    CHECK_MESSAGE(msg.find("(2, 5, 1)") != std::string::npos, msg);
  }
  // More than 4 dimensions is outside the contract.
  Variable c(Tensor::zeros({1, 2, 1, 1, 1}, DType::F64));
  CHECK_THROWS_AS(sub(c, c), sad::Error);
  // A gradient output of the wrong shape is refused.
  Tensor da = Tensor::empty({2, 3, 5, 1}, DType::F64);
  CHECK_THROWS_AS(ops::binary_backward({ops::BinaryKind::Add}, a.data(), a.data(), a.data(), &da, nullptr), sad::Error);
  // Mixed dtypes are refused.
  Variable f32(Tensor::zeros({2, 3, 5, 7}, DType::F32));
  CHECK_THROWS_AS(add(a, f32), sad::Error);
}
