// CPU reference for nearest-neighbour upsampling by an integer factor s (the decoder's
// "Upsample x2") and its backward: each input pixel owns an s x s block of the output,
// so the gradient of a pixel is the sum of its block (double accumulator, fixed order).
#include "kernels/checks.h"
#include "kernels/cpu/cpu_ops.h"

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

void upsample_nearest_forward(const ops::UpsampleParams& p, const Tensor& inp, Tensor& out) {
  dispatch_float(inp.dtype(), [&]<typename T>(TypeTag<T>) {
    const int64_t planes = inp.dim(0) * inp.dim(1), h = inp.dim(2), w = inp.dim(3);
    const int64_t s = p.scale, ho = h * s, wo = w * s;
    const T* x = inp.data<T>();  // (N, C, H, W)
    T* y = out.data<T>();        // (N, C, sH, sW)
#pragma omp parallel for schedule(static) if (out.numel() > 32768)
    for (int64_t pl = 0; pl < planes; ++pl) {
      const T* xp = x + pl * h * w;
      T* yp = y + pl * ho * wo;
      for (int64_t oy = 0; oy < ho; ++oy)
        for (int64_t ox = 0; ox < wo; ++ox) yp[oy * wo + ox] = xp[(oy / s) * w + ox / s];
    }
  });
}

void upsample_nearest_backward(const ops::UpsampleParams& p, const Tensor& dout, Tensor& dinp) {
  dispatch_float(dout.dtype(), [&]<typename T>(TypeTag<T>) {
    const int64_t planes = dinp.dim(0) * dinp.dim(1), h = dinp.dim(2), w = dinp.dim(3);
    const int64_t s = p.scale, wo = w * s;
    const T* dy = dout.data<T>();  // (N, C, sH, sW)
    T* dx = dinp.data<T>();        // (N, C, H, W)
#pragma omp parallel for schedule(static) if (dout.numel() > 32768)
    for (int64_t pl = 0; pl < planes; ++pl) {
      const T* dyp = dy + pl * h * s * wo;
      T* dxp = dx + pl * h * w;
      for (int64_t iy = 0; iy < h; ++iy)
        for (int64_t ix = 0; ix < w; ++ix) {
          double acc = 0.0;
          for (int64_t ky = 0; ky < s; ++ky)
            for (int64_t kx = 0; kx < s; ++kx) acc += static_cast<double>(dyp[(iy * s + ky) * wo + ix * s + kx]);
          dxp[iy * w + ix] = static_cast<T>(acc);
        }
    }
  });
}

}  // namespace sad::cpu
