// CPU reference for bilinear resizing with PyTorch's F.interpolate(mode='bilinear',
// antialias=False) semantics, and its backward. Used to bring maps to another size
// (M back to the image's size, maps to the mask's size), up or down.
//
// Source coordinate of output index d along an axis of input size `in`, output `out`:
//   align_corners = false: s = (d + 0.5) * in / out - 0.5, clamped at 0 below
//   align_corners = true:  s = d * (in - 1) / (out - 1)   (0 when out == 1)
// The neighbours are i0 = floor(s) and i1 = min(i0 + 1, in - 1), with weights
// 1 - (s - i0) and s - i0. Coordinates and weights are computed in double.
//
// Backward scatters each output gradient onto its four neighbours. To stay
// deterministic it loops over a plane's output pixels in a fixed order into a double
// buffer; only the (N * C) planes run in parallel.
#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/checks.h"
#include "kernels/cpu/cpu_ops.h"

// ---- the contract: the checks kernels/ops.h runs before either backend ----------------------

namespace sad::ops::contract {

using namespace detail;

static void check_nchw_pair(const char* op, const Tensor& small_or_in, const Tensor& other) {
  check_ndim(op, "input", small_or_in, 4);
  check_ndim(op, "output", other, 4);
  SAD_CHECK(small_or_in.dim(0) == other.dim(0) && small_or_in.dim(1) == other.dim(1), op, ": ",
            shape_str(small_or_in.shape()), " and ", shape_str(other.shape()), " differ in N or C");
}

const Tensor& resize_bilinear_forward(const ResizeParams& p, const Tensor& inp, Tensor& out) {
  const char* op = "resize_bilinear_forward";
  check_call(op, OpId::ResizeBilinear, "input", inp, {{"output", &out}});
  check_nchw_pair(op, inp, out);
  SAD_CHECK(inp.dim(2) > 0 && inp.dim(3) > 0 && out.dim(2) > 0 && out.dim(3) > 0, op, ": empty image");
  return inp;
}

const Tensor& resize_bilinear_backward(const ResizeParams& p, const Tensor& dout, Tensor& dinp) {
  const char* op = "resize_bilinear_backward";
  check_call(op, OpId::ResizeBilinear, "dout", dout, {{"dinp", &dinp}});
  check_nchw_pair(op, dinp, dout);
  return dout;
}

}  // namespace sad::ops::contract

namespace sad::cpu {

namespace {

// Neighbours and weights of every output index along one axis.
struct AxisTaps {
  std::vector<int64_t> i0, i1;
  std::vector<double> w0, w1;
};

AxisTaps axis_taps(int64_t in, int64_t out, bool align_corners) {
  AxisTaps t;
  t.i0.resize(static_cast<size_t>(out));
  t.i1.resize(static_cast<size_t>(out));
  t.w0.resize(static_cast<size_t>(out));
  t.w1.resize(static_cast<size_t>(out));
  double scale;
  if (align_corners)
    scale = out > 1 ? static_cast<double>(in - 1) / static_cast<double>(out - 1) : 0.0;
  else
    scale = static_cast<double>(in) / static_cast<double>(out);
  for (int64_t d = 0; d < out; ++d) {
    double s = align_corners ? scale * static_cast<double>(d) : scale * (static_cast<double>(d) + 0.5) - 0.5;
    if (s < 0) s = 0;
    // Beyond the last pixel (upsampling without align_corners) both taps are that pixel.
    int64_t i0 = std::min(static_cast<int64_t>(std::floor(s)), in - 1);
    double frac = std::clamp(s - static_cast<double>(i0), 0.0, 1.0);
    auto k = static_cast<size_t>(d);
    t.i0[k] = i0;
    t.i1[k] = std::min(i0 + 1, in - 1);
    t.w0[k] = 1.0 - frac;
    t.w1[k] = frac;
  }
  return t;
}

}  // namespace

void resize_bilinear_forward(const ops::ResizeParams& p, const Tensor& inp, Tensor& out) {
  dispatch_float(inp.dtype(), [&]<typename T>(TypeTag<T>) {
    const int64_t planes = inp.dim(0) * inp.dim(1), h = inp.dim(2), w = inp.dim(3);
    const int64_t ho = out.dim(2), wo = out.dim(3);
    const AxisTaps ty = axis_taps(h, ho, p.align_corners), tx = axis_taps(w, wo, p.align_corners);
    const T* x = inp.data<T>();  // (N, C, H, W)
    T* y = out.data<T>();        // (N, C, Ho, Wo)
#pragma omp parallel for schedule(static) if (out.numel() > 16384)
    for (int64_t pl = 0; pl < planes; ++pl) {
      const T* xp = x + pl * h * w;
      T* yp = y + pl * ho * wo;
      for (int64_t oy = 0; oy < ho; ++oy) {
        auto ky = static_cast<size_t>(oy);
        const T* r0 = xp + ty.i0[ky] * w;
        const T* r1 = xp + ty.i1[ky] * w;
        for (int64_t ox = 0; ox < wo; ++ox) {
          auto kx = static_cast<size_t>(ox);
          double top = tx.w0[kx] * static_cast<double>(r0[tx.i0[kx]]) + tx.w1[kx] * static_cast<double>(r0[tx.i1[kx]]);
          double bot = tx.w0[kx] * static_cast<double>(r1[tx.i0[kx]]) + tx.w1[kx] * static_cast<double>(r1[tx.i1[kx]]);
          yp[oy * wo + ox] = static_cast<T>(ty.w0[ky] * top + ty.w1[ky] * bot);
        }
      }
    }
  });
}

void resize_bilinear_backward(const ops::ResizeParams& p, const Tensor& dout, Tensor& dinp) {
  dispatch_float(dout.dtype(), [&]<typename T>(TypeTag<T>) {
    const int64_t planes = dinp.dim(0) * dinp.dim(1), h = dinp.dim(2), w = dinp.dim(3);
    const int64_t ho = dout.dim(2), wo = dout.dim(3);
    // An empty input image has no gradient to write (and no pixel to clamp to).
    if (h == 0 || w == 0) return;
    const AxisTaps ty = axis_taps(h, ho, p.align_corners), tx = axis_taps(w, wo, p.align_corners);
    const T* dy = dout.data<T>();  // (N, C, Ho, Wo)
    T* dx = dinp.data<T>();        // (N, C, H, W)
#pragma omp parallel for schedule(static) if (dout.numel() > 16384)
    for (int64_t pl = 0; pl < planes; ++pl) {
      std::vector<double> acc(static_cast<size_t>(h * w), 0.0);
      const T* dyp = dy + pl * ho * wo;
      for (int64_t oy = 0; oy < ho; ++oy) {
        auto ky = static_cast<size_t>(oy);
        double* r0 = acc.data() + ty.i0[ky] * w;
        double* r1 = acc.data() + ty.i1[ky] * w;
        for (int64_t ox = 0; ox < wo; ++ox) {
          auto kx = static_cast<size_t>(ox);
          double g = static_cast<double>(dyp[oy * wo + ox]);
          r0[tx.i0[kx]] += ty.w0[ky] * tx.w0[kx] * g;
          r0[tx.i1[kx]] += ty.w0[ky] * tx.w1[kx] * g;
          r1[tx.i0[kx]] += ty.w1[ky] * tx.w0[kx] * g;
          r1[tx.i1[kx]] += ty.w1[ky] * tx.w1[kx] * g;
        }
      }
      T* dxp = dx + pl * h * w;
      for (int64_t i = 0; i < h * w; ++i) dxp[i] = static_cast<T>(acc[static_cast<size_t>(i)]);
    }
  });
}

}  // namespace sad::cpu
