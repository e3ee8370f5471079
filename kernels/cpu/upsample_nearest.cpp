// CPU reference for nearest-neighbour upsampling by an integer factor s (the decoder's
// "Upsample x2") and its backward: each input pixel owns an s x s block of the output,
// so the gradient of a pixel is the sum of its block (double accumulator, fixed order).
#include <algorithm>

#include "kernels/checks.h"
#include "kernels/cpu/cpu_ops.h"
#include "kernels/cpu/isa.h"

// ---- the contract: the checks kernels/ops.h runs before either backend ----------------------

namespace sad::ops::contract {

using namespace detail;

static Shape upsample_out(const char* op, const UpsampleParams& p, const Tensor& inp) {
  SAD_CHECK(p.scale >= 1, op, ": scale ", p.scale);
  check_ndim(op, "input", inp, 4);
  return {inp.dim(0), inp.dim(1), inp.dim(2) * p.scale, inp.dim(3) * p.scale};
}

const Tensor& upsample_nearest_forward(const UpsampleParams& p, const Tensor& inp, Tensor& out) {
  const char* op = "upsample_nearest_forward";
  check_call(op, OpId::UpsampleNearest, "input", inp, {{"output", &out}});
  check_shape(op, "output", out, upsample_out(op, p, inp));
  return inp;
}

const Tensor& upsample_nearest_backward(const UpsampleParams& p, const Tensor& dout, Tensor& dinp) {
  const char* op = "upsample_nearest_backward";
  check_call(op, OpId::UpsampleNearest, "dout", dout, {{"dinp", &dinp}});
  check_shape(op, "dout", dout, upsample_out(op, p, dinp));
  return dout;
}

}  // namespace sad::ops::contract

namespace sad::cpu {

namespace {

// One plane, scale S known at compile time (the models use 2) or, with S == 0, the
// runtime scale s. The first output row of each input row is written element by element
// (a constant S lets GCC vectorise it), the other S - 1 rows are copies of it: no division
// per output element.
template <int S, typename T>
void upsample_plane(const T* x, T* y, int64_t h, int64_t w, int64_t s) {
  const int64_t sc = S ? S : s, wo = w * sc;
  for (int64_t iy = 0; iy < h; ++iy) {
    const T* xr = x + iy * w;
    T* y0 = y + iy * sc * wo;
    for (int64_t ix = 0; ix < w; ++ix)
      for (int64_t kx = 0; kx < sc; ++kx) y0[ix * sc + kx] = xr[ix];
    for (int64_t ky = 1; ky < sc; ++ky) std::copy(y0, y0 + wo, y0 + ky * wo);
  }
}

// dx (H, W) of one plane: each value the sum, in double, of its S x S block of dy, rows
// then columns (the same order for every S).
template <int S, typename T>
void upsample_plane_backward(const T* dy, T* dx, int64_t h, int64_t w, int64_t s) {
  const int64_t sc = S ? S : s, wo = w * sc;
  for (int64_t iy = 0; iy < h; ++iy) {
    T* dxr = dx + iy * w;
    const T* block = dy + iy * sc * wo;
    for (int64_t ix = 0; ix < w; ++ix) {
      double acc = 0.0;
      for (int64_t ky = 0; ky < sc; ++ky)
        for (int64_t kx = 0; kx < sc; ++kx) acc += static_cast<double>(block[ky * wo + ix * sc + kx]);
      dxr[ix] = static_cast<T>(acc);
    }
  }
}

}  // namespace

void upsample_nearest_forward(const ops::UpsampleParams& p, const Tensor& inp, Tensor& out) {
  dispatch_float(inp.dtype(), [&]<typename T>(TypeTag<T>) {
    const int64_t planes = inp.dim(0) * inp.dim(1), h = inp.dim(2), w = inp.dim(3);
    const int64_t s = p.scale, plane_out = h * s * w * s;
    const T* x = inp.data<T>();  // (N, C, H, W)
    T* y = out.data<T>();        // (N, C, sH, sW)
#pragma omp parallel for schedule(static) if (out.numel() > 32768)
    for (int64_t pl = 0; pl < planes; ++pl)
      isa_run([&] {
        if (s == 2)
          upsample_plane<2>(x + pl * h * w, y + pl * plane_out, h, w, s);
        else
          upsample_plane<0>(x + pl * h * w, y + pl * plane_out, h, w, s);
      });
  });
}

void upsample_nearest_backward(const ops::UpsampleParams& p, const Tensor& dout, Tensor& dinp) {
  dispatch_float(dout.dtype(), [&]<typename T>(TypeTag<T>) {
    const int64_t planes = dinp.dim(0) * dinp.dim(1), h = dinp.dim(2), w = dinp.dim(3);
    const int64_t s = p.scale, plane_out = h * s * w * s;
    const T* dy = dout.data<T>();  // (N, C, sH, sW)
    T* dx = dinp.data<T>();        // (N, C, H, W)
#pragma omp parallel for schedule(static) if (dout.numel() > 32768)
    for (int64_t pl = 0; pl < planes; ++pl)
      isa_run([&] {
        if (s == 2)
          upsample_plane_backward<2>(dy + pl * plane_out, dx + pl * h * w, h, w, s);
        else
          upsample_plane_backward<0>(dy + pl * plane_out, dx + pl * h * w, h, w, s);
      });
  });
}

}  // namespace sad::cpu
