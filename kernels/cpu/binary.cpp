// CPU reference for the binary element-wise ops (add, sub, mul) with NumPy broadcasting
// over at most 4 dimensions, and their backward, which sums the upstream gradient over
// the broadcast dimensions.
//
// Every shape is right-aligned and padded on the left with 1s to 4 dimensions, so one
// set of four nested loops serves every rank. The gradient of a broadcast input gathers
// its preimage in row-major order with a double accumulator: one output element per
// loop iteration, so the result does not depend on the number of threads.
#include <array>

#include "kernels/checks.h"
#include "kernels/cpu/cpu_ops.h"

// ---- the contract: the checks kernels/ops.h runs before either backend ----------------------

namespace sad::ops {

const char* binary_name(BinaryKind k) {
  static constexpr const char* names[] = {"add", "sub", "mul"};
  static_assert(sizeof(names) / sizeof(names[0]) == static_cast<size_t>(BinaryKind::Count));
  return names[static_cast<int>(k)];
}

Shape broadcast_shape(const Shape& a, const Shape& b) {
  SAD_CHECK(a.size() <= 4 && b.size() <= 4, "broadcast: at most 4 dimensions, got ", shape_str(a), " and ",
            shape_str(b));
  size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    SAD_CHECK(da == db || da == 1 || db == 1, "shapes ", shape_str(a), " and ", shape_str(b),
              " cannot be broadcast together");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

Dims4 pad_to_4d(const Shape& s) {
  SAD_CHECK(s.size() <= 4, "broadcast: at most 4 dimensions, got ", shape_str(s));
  Dims4 d{1, 1, 1, 1};
  const size_t off = 4 - s.size();
  for (size_t i = 0; i < s.size(); ++i) d[off + i] = s[i];
  return d;
}

Dims4 broadcast_strides(const Dims4& d, const Dims4& out) {
  Dims4 st{};
  int64_t s = 1;
  for (int i = 3; i >= 0; --i) {
    st[static_cast<size_t>(i)] = (d[static_cast<size_t>(i)] == 1 && out[static_cast<size_t>(i)] != 1) ? 0 : s;
    s *= d[static_cast<size_t>(i)];
  }
  return st;
}

namespace contract {

using namespace detail;

const Tensor& binary_forward(const BinaryParams& p, const Tensor& a, const Tensor& b, Tensor& out) {
  const char* op = binary_name(p.kind);
  check_call(op, OpId::Binary, "a", a, {{"b", &b}, {"output", &out}});
  check_shape(op, "output", out, broadcast_shape(a.shape(), b.shape()));
  return a;
}

const Tensor& binary_backward(const BinaryParams& p, const Tensor& a, const Tensor& b, const Tensor& dout, Tensor* da,
                              Tensor* db) {
  const char* op = binary_name(p.kind);
  check_call(op, OpId::Binary, "a", a, {{"b", &b}, {"dout", &dout}, {"da", da}, {"db", db}});
  check_shape(op, "dout", dout, broadcast_shape(a.shape(), b.shape()));
  if (da) check_shape(op, "da", *da, a.shape());
  if (db) check_shape(op, "db", *db, b.shape());
  return a;
}

}  // namespace contract
}  // namespace sad::ops

namespace sad::cpu {

namespace {

using ops::broadcast_strides;  // shared with the other backend (kernels/ops.h)
using ops::Dims4;

template <typename T>
T binary_value(ops::BinaryKind k, T a, T b) {
  switch (k) {
    case ops::BinaryKind::Add: return a + b;
    case ops::BinaryKind::Sub: return a - b;
    case ops::BinaryKind::Mul: return a * b;
    case ops::BinaryKind::Count: break;
  }
  return T(0);
}

// Gradient of one input `x` (shape xd) of the op: dx[j] = sum over the output elements k
// that read x[j] of dout[k] * d(out[k])/d(x[j]). `other` is the other operand (its value
// is the derivative of a product); `sign` is -1 for the subtrahend.
template <typename T>
void binary_input_grad(ops::BinaryKind kind, const Dims4& xd, const Dims4& od, const T* dout, const T* other,
                       const Dims4& other_st, double sign, T* dx) {
  const Dims4 ost = broadcast_strides(od, od);  // plain row-major strides of the output
  const int64_t n = xd[0] * xd[1] * xd[2] * xd[3];
  // The range of output indices that read element j along each dimension: all of them
  // where x is broadcast, else just j's own index.
  auto range = [&](int d, int64_t j) -> std::pair<int64_t, int64_t> {
    return (xd[d] == 1 && od[d] != 1) ? std::pair<int64_t, int64_t>{0, od[d]} : std::pair<int64_t, int64_t>{j, j + 1};
  };
#pragma omp parallel for schedule(static) if (n > 4096)
  for (int64_t j = 0; j < n; ++j) {
    int64_t j3 = j % xd[3], j2 = (j / xd[3]) % xd[2], j1 = (j / (xd[3] * xd[2])) % xd[1],
            j0 = j / (xd[3] * xd[2] * xd[1]);
    auto [a0, b0] = range(0, j0);
    auto [a1, b1] = range(1, j1);
    auto [a2, b2] = range(2, j2);
    auto [a3, b3] = range(3, j3);
    double acc = 0.0;
    for (int64_t k0 = a0; k0 < b0; ++k0)
      for (int64_t k1 = a1; k1 < b1; ++k1)
        for (int64_t k2 = a2; k2 < b2; ++k2)
          for (int64_t k3 = a3; k3 < b3; ++k3) {
            int64_t k = k0 * ost[0] + k1 * ost[1] + k2 * ost[2] + k3 * ost[3];
            double g = static_cast<double>(dout[k]);
            if (kind == ops::BinaryKind::Mul)
              g *=
                  static_cast<double>(other[k0 * other_st[0] + k1 * other_st[1] + k2 * other_st[2] + k3 * other_st[3]]);
            acc += g;
          }
    dx[j] = static_cast<T>(sign * acc);
  }
}

}  // namespace

void binary_forward(const ops::BinaryParams& p, const Tensor& a, const Tensor& b, Tensor& out) {
  dispatch_float(a.dtype(), [&]<typename T>(TypeTag<T>) {
    const T* ap = a.data<T>();
    const T* bp = b.data<T>();
    T* op = out.data<T>();
    if (a.shape() == b.shape()) {  // the common case: no index arithmetic
      int64_t n = out.numel();
#pragma omp parallel for schedule(static) if (n > 32768)
      for (int64_t i = 0; i < n; ++i) op[i] = binary_value<T>(p.kind, ap[i], bp[i]);
      return;
    }
    const Dims4 od = ops::pad_to_4d(out.shape());
    const Dims4 ast = broadcast_strides(ops::pad_to_4d(a.shape()), od);
    const Dims4 bst = broadcast_strides(ops::pad_to_4d(b.shape()), od);
    const int64_t planes = od[0] * od[1];
#pragma omp parallel for schedule(static) if (out.numel() > 32768)
    for (int64_t pl = 0; pl < planes; ++pl) {
      int64_t i0 = pl / od[1], i1 = pl % od[1];
      T* o = op + pl * od[2] * od[3];
      for (int64_t i2 = 0; i2 < od[2]; ++i2)
        for (int64_t i3 = 0; i3 < od[3]; ++i3) {
          T x = ap[i0 * ast[0] + i1 * ast[1] + i2 * ast[2] + i3 * ast[3]];
          T y = bp[i0 * bst[0] + i1 * bst[1] + i2 * bst[2] + i3 * bst[3]];
          o[i2 * od[3] + i3] = binary_value<T>(p.kind, x, y);
        }
    }
  });
}

void binary_backward(const ops::BinaryParams& p, const Tensor& a, const Tensor& b, const Tensor& dout, Tensor* da,
                     Tensor* db) {
  dispatch_float(a.dtype(), [&]<typename T>(TypeTag<T>) {
    const T* ap = a.data<T>();
    const T* bp = b.data<T>();
    const T* g = dout.data<T>();
    if (a.shape() == b.shape()) {  // no broadcasting: element-wise
      int64_t n = dout.numel();
      T* dap = da ? da->data<T>() : nullptr;
      T* dbp = db ? db->data<T>() : nullptr;
#pragma omp parallel for schedule(static) if (n > 32768)
      for (int64_t i = 0; i < n; ++i) {
        switch (p.kind) {
          case ops::BinaryKind::Add:
            if (dap) dap[i] = g[i];
            if (dbp) dbp[i] = g[i];
            break;
          case ops::BinaryKind::Sub:
            if (dap) dap[i] = g[i];
            if (dbp) dbp[i] = -g[i];
            break;
          case ops::BinaryKind::Mul:
            if (dap) dap[i] = g[i] * bp[i];
            if (dbp) dbp[i] = g[i] * ap[i];
            break;
          case ops::BinaryKind::Count: break;
        }
      }
      return;
    }
    const Dims4 od = ops::pad_to_4d(dout.shape());
    const Dims4 ad = ops::pad_to_4d(a.shape()), bd = ops::pad_to_4d(b.shape());
    if (da) binary_input_grad<T>(p.kind, ad, od, g, bp, broadcast_strides(bd, od), 1.0, da->data<T>());
    if (db) {
      double sign = p.kind == ops::BinaryKind::Sub ? -1.0 : 1.0;
      binary_input_grad<T>(p.kind, bd, od, g, ap, broadcast_strides(ad, od), sign, db->data<T>());
    }
  });
}

}  // namespace sad::cpu
