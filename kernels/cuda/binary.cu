// CUDA binary element-wise ops (add, sub, mul) with NumPy broadcasting over at most 4
// dimensions, and their backward: the same functions as kernels/cpu/binary.cpp.
//
// Forward: equal shapes run the flat float4 map (elementwise_map.cuh); otherwise a
// grid-stride loop over the output decodes each flat index into 4-D coordinates (32-bit
// division below 2^31 elements) and reads both operands through broadcast strides
// (0 along a broadcast dimension). One float op per element, as the reference: bit-equal.
// Backward: equal shapes are maps again (dout, -dout, dout * other). The gradient of a
// broadcast input is a gather, never an atomic scatter: each input element is a segment
// of segmented_sum.cuh summing dout (times the other operand for mul) over its preimage
// in a fixed order, in double; adjacent broadcast dimensions are merged on the host so
// that e.g. a bias (1, C, 1, 1) against (N, C, H, W) sums N runs of H*W contiguous values.
//
// Napkin math: forward reads |a| + |b| and writes |out| floats (broadcast operands stay
// in cache); backward reads dout once per needed gradient (twice with mul).
#include <array>

#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/elementwise_map.cuh"
#include "kernels/cuda/segmented_sum.cuh"

namespace sad::cuda {

namespace {

using ops::broadcast_strides;  // shared with the other backend (kernels/ops.h)
using ops::Dims4;

__device__ __forceinline__ float binary_value(ops::BinaryKind k, float a, float b) {
  switch (k) {
    case ops::BinaryKind::Add: return a + b;
    case ops::BinaryKind::Sub: return a - b;
    case ops::BinaryKind::Mul: return a * b;
    case ops::BinaryKind::Count: break;
  }
  return 0.0f;
}

struct BinaryOp {
  ops::BinaryKind kind;
  __device__ float operator()(const float (&v)[2]) const { return binary_value(kind, v[0], v[1]); }
};

struct ScaleOp {  // dout * s, s = +-1: an exact copy or negation
  float s;
  __device__ float operator()(const float (&v)[1]) const { return v[0] * s; }
};

struct MulOp {
  __device__ float operator()(const float (&v)[2]) const { return v[0] * v[1]; }
};

struct BroadcastGeometry {
  int64_t od1, od2, od3;   // output dims 1..3 (dim 0 is implied by n)
  int64_t ast[4], bst[4];  // broadcast strides of a and b
};

template <typename I>
__global__ void __launch_bounds__(kBlockSize) binary_broadcast_kernel(ops::BinaryKind kind, BroadcastGeometry g,
                                                                      const float* a, const float* b, float* out, I n) {
  const I d1 = static_cast<I>(g.od1), d2 = static_cast<I>(g.od2), d3 = static_cast<I>(g.od3);
  for (I i = grid_start<I>(); i < n; i += grid_step<I>()) {
    I t = i;
    const int64_t i3 = t % d3;
    t /= d3;
    const int64_t i2 = t % d2;
    t /= d2;
    const int64_t i1 = t % d1;
    const int64_t i0 = t / d1;
    const float x = a[i0 * g.ast[0] + i1 * g.ast[1] + i2 * g.ast[2] + i3 * g.ast[3]];
    const float y = b[i0 * g.bst[0] + i1 * g.bst[1] + i2 * g.bst[2] + i3 * g.bst[3]];
    out[i] = binary_value(kind, x, y);
  }
}

// The gradient of one broadcast operand x as segments: segment s = element s of x, its
// elements r = the output positions that read x[s], in row-major order of the
// broadcast dimensions (the reference's loop order).
struct BroadcastGradSeg {
  const float* dout;   // (output shape)
  const float* other;  // the other operand (read for mul only)
  float* dx;           // (x's shape)
  int64_t xdim[4];     // x's dims, padded to 4
  int64_t xost[4];     // output stride of each x coordinate
  int64_t xoth[4];     // other's stride of each x coordinate
  int nb;              // broadcast dimensions after merging, outermost first
  int64_t bext[4], bost[4], both[4];
  bool mul;
  double sign;  // -1 for the subtrahend

  struct Base {
    int64_t k, ko;  // output and other offsets of r = 0
  };
  __device__ Base at(int64_t s) const {
    Base base{0, 0};
    for (int d = 3; d >= 0; --d) {
      const int64_t j = s % xdim[d];
      s /= xdim[d];
      base.k += j * xost[d];
      base.ko += j * xoth[d];
    }
    return base;
  }
  __device__ double load(const Base& base, int64_t r) const {
    int64_t k = base.k, ko = base.ko;
    for (int b = nb - 1; b > 0; --b) {
      const int64_t q = r % bext[b];
      r /= bext[b];
      k += q * bost[b];
      ko += q * both[b];
    }
    if (nb > 0) {  // the outermost dimension takes the rest of r: no division
      k += r * bost[0];
      ko += r * both[0];
    }
    double g = dout[k];
    if (mul) g *= static_cast<double>(other[ko]);  // exact: a product of two floats fits a double
    return g;
  }
  __device__ void store(int64_t s, double total) const { dx[s] = static_cast<float>(sign * total); }
};

void broadcast_grad(ops::BinaryKind kind, const Dims4& xd, const Dims4& od, const float* dout, const float* other,
                    const Dims4& other_st, double sign, float* dx) {
  BroadcastGradSeg seg{};
  seg.dout = dout;
  seg.other = other;
  seg.dx = dx;
  seg.mul = kind == ops::BinaryKind::Mul;
  seg.sign = sign;
  const Dims4 ost = broadcast_strides(od, od);  // plain row-major strides of the output
  int64_t len = 1;
  for (int d = 0; d < 4; ++d) {
    seg.xdim[d] = xd[d];
    seg.xost[d] = ost[d];
    seg.xoth[d] = other_st[d];
    if (xd[d] == 1 && od[d] != 1) {  // broadcast along d: part of every segment
      len *= od[d];
      const int b = seg.nb;
      // Merge with the previous broadcast dimension when the two are one run in both
      // the output and the other operand (fewer divisions per element).
      if (b > 0 && seg.bost[b - 1] == od[d] * ost[d] && seg.both[b - 1] == od[d] * other_st[d]) {
        seg.bext[b - 1] *= od[d];
        seg.bost[b - 1] = ost[d];
        seg.both[b - 1] = other_st[d];
      } else {
        seg.bext[b] = od[d];
        seg.bost[b] = ost[d];
        seg.both[b] = other_st[d];
        ++seg.nb;
      }
    }
  }
  const int64_t nseg = xd[0] * xd[1] * xd[2] * xd[3];
  // Neighbouring x elements read neighbouring outputs when x is not broadcast along the
  // output's innermost non-trivial dimension.
  bool seg_contiguous = true;
  for (int d = 3; d >= 0; --d)
    if (od[d] > 1) {
      seg_contiguous = xd[d] == od[d];
      break;
    }
  segmented_sum(seg, nseg, len, seg_contiguous);
}

}  // namespace

void binary_forward(const ops::BinaryParams& p, const Tensor& a, const Tensor& b, Tensor& out) {
  const float* ap = device_ptr(a);
  const float* bp = device_ptr(b);
  float* op = device_ptr(out);
  const int64_t n = out.numel();
  if (a.shape() == b.shape()) {
    launch_map<2>({{ap, bp}}, op, n, BinaryOp{p.kind});
    return;
  }
  if (n == 0) return;
  const Dims4 od = ops::pad_to_4d(out.shape());
  BroadcastGeometry g{od[1], od[2], od[3], {}, {}};
  const Dims4 ast = broadcast_strides(ops::pad_to_4d(a.shape()), od),
              bst = broadcast_strides(ops::pad_to_4d(b.shape()), od);
  for (int d = 0; d < 4; ++d) {
    g.ast[d] = ast[d];
    g.bst[d] = bst[d];
  }
  with_index_type(n, [&]<typename I>(I) {
    binary_broadcast_kernel<I>
        <<<grid_stride_blocks(n), kBlockSize, 0, stream()>>>(p.kind, g, ap, bp, op, static_cast<I>(n));
    SAD_CUDA_LAUNCH_CHECK();
  });
}

void binary_backward(const ops::BinaryParams& p, const Tensor& a, const Tensor& b, const Tensor& dout, Tensor* da,
                     Tensor* db) {
  const float* ap = device_ptr(a);
  const float* bp = device_ptr(b);
  const float* g = device_ptr(dout);
  if (a.shape() == b.shape()) {
    const int64_t n = dout.numel();
    const bool mul = p.kind == ops::BinaryKind::Mul;
    if (da) {
      if (mul)
        launch_map<2>({{g, bp}}, device_ptr(*da), n, MulOp{});
      else
        launch_map<1>({{g}}, device_ptr(*da), n, ScaleOp{1.0f});
    }
    if (db) {
      if (mul)
        launch_map<2>({{g, ap}}, device_ptr(*db), n, MulOp{});
      else
        launch_map<1>({{g}}, device_ptr(*db), n, ScaleOp{p.kind == ops::BinaryKind::Sub ? -1.0f : 1.0f});
    }
    return;
  }
  const Dims4 od = ops::pad_to_4d(dout.shape()), ad = ops::pad_to_4d(a.shape()), bd = ops::pad_to_4d(b.shape());
  if (da) broadcast_grad(p.kind, ad, od, g, bp, broadcast_strides(bd, od), 1.0, device_ptr(*da));
  if (db) {
    const double sign = p.kind == ops::BinaryKind::Sub ? -1.0 : 1.0;
    broadcast_grad(p.kind, bd, od, g, ap, broadcast_strides(ad, od), sign, device_ptr(*db));
  }
}

}  // namespace sad::cuda
