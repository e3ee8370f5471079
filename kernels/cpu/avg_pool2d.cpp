// CPU reference for 2-D average pooling (a k x k box filter with stride and zero
// padding; PyTorch's F.avg_pool2d with ceil_mode = False) and its backward. The image
// score of METHOD.md smooths the map with it, where count_include_pad = false makes a
// border pixel the mean of the window's pixels inside the image rather than a mean
// diluted by padding zeros.
//
// Backward scatters each output gradient over its window, per plane in a fixed order
// into a double buffer, so the result does not depend on the thread count.
#include <algorithm>
#include <vector>

#include "kernels/checks.h"
#include "kernels/cpu/cpu_ops.h"

// ---- the contract: the checks kernels/ops.h runs before either backend ----------------------

namespace sad::ops::contract {

using namespace detail;

static Shape avg_pool_out(const char* op, const AvgPoolParams& p, const Tensor& inp) {
  check_ndim(op, "input", inp, 4);
  SAD_CHECK(p.kernel >= 1 && p.stride >= 1 && p.pad >= 0 && p.pad <= p.kernel / 2, op, ": kernel ", p.kernel,
            ", stride ", p.stride, ", padding ", p.pad, " invalid (padding at most kernel/2)");
  return {inp.dim(0), inp.dim(1), conv2d_out_size(inp.dim(2), p.kernel, p.stride, p.pad),
          conv2d_out_size(inp.dim(3), p.kernel, p.stride, p.pad)};
}

const Tensor& avg_pool2d_forward(const AvgPoolParams& p, const Tensor& inp, Tensor& out) {
  const char* op = "avg_pool2d_forward";
  check_call(op, OpId::AvgPool2d, "input", inp, {{"output", &out}});
  check_shape(op, "output", out, avg_pool_out(op, p, inp));
  return inp;
}

const Tensor& avg_pool2d_backward(const AvgPoolParams& p, const Tensor& dout, Tensor& dinp) {
  const char* op = "avg_pool2d_backward";
  check_call(op, OpId::AvgPool2d, "dout", dout, {{"dinp", &dinp}});
  check_shape(op, "dout", dout, avg_pool_out(op, p, dinp));
  return dout;
}

}  // namespace sad::ops::contract

namespace sad::cpu {

namespace {

// The window of output index o along one axis, clipped to the image [0, n), and its
// divisor's factor along that axis. Dispatch guarantees pad <= kernel / 2 and floor
// mode, so the unclipped window never leaves the padded image.
struct Window {
  int64_t begin, end;  // clipped to the image
  int64_t size;        // counted for the divisor
};

Window window_at(const ops::AvgPoolParams& p, int64_t o, int64_t n) {
  int64_t b = o * p.stride - p.pad;
  int64_t e = b + p.kernel;
  Window w{std::max<int64_t>(b, 0), std::min<int64_t>(e, n), 0};
  w.size = p.count_include_pad ? e - b : w.end - w.begin;
  return w;
}

}  // namespace

void avg_pool2d_forward(const ops::AvgPoolParams& p, const Tensor& inp, Tensor& out) {
  dispatch_float(inp.dtype(), [&]<typename T>(TypeTag<T>) {
    const int64_t planes = inp.dim(0) * inp.dim(1), h = inp.dim(2), w = inp.dim(3);
    const int64_t ho = out.dim(2), wo = out.dim(3);
    const T* x = inp.data<T>();  // (N, C, H, W)
    T* y = out.data<T>();        // (N, C, Ho, Wo)
#pragma omp parallel for schedule(static) if (out.numel() * p.kernel * p.kernel > 65536)
    for (int64_t pl = 0; pl < planes; ++pl) {
      const T* xp = x + pl * h * w;
      T* yp = y + pl * ho * wo;
      for (int64_t oy = 0; oy < ho; ++oy) {
        const Window wy = window_at(p, oy, h);
        for (int64_t ox = 0; ox < wo; ++ox) {
          const Window wx = window_at(p, ox, w);
          double acc = 0.0;
          for (int64_t iy = wy.begin; iy < wy.end; ++iy)
            for (int64_t ix = wx.begin; ix < wx.end; ++ix) acc += static_cast<double>(xp[iy * w + ix]);
          // An empty window (only possible for an empty image) averages to 0.
          const int64_t count = wy.size * wx.size;
          yp[oy * wo + ox] = static_cast<T>(count > 0 ? acc / static_cast<double>(count) : 0.0);
        }
      }
    }
  });
}

void avg_pool2d_backward(const ops::AvgPoolParams& p, const Tensor& dout, Tensor& dinp) {
  dispatch_float(dout.dtype(), [&]<typename T>(TypeTag<T>) {
    const int64_t planes = dinp.dim(0) * dinp.dim(1), h = dinp.dim(2), w = dinp.dim(3);
    const int64_t ho = dout.dim(2), wo = dout.dim(3);
    const T* dy = dout.data<T>();  // (N, C, Ho, Wo)
    T* dx = dinp.data<T>();        // (N, C, H, W)
#pragma omp parallel for schedule(static) if (dout.numel() * p.kernel * p.kernel > 65536)
    for (int64_t pl = 0; pl < planes; ++pl) {
      std::vector<double> acc(static_cast<size_t>(h * w), 0.0);
      const T* dyp = dy + pl * ho * wo;
      for (int64_t oy = 0; oy < ho; ++oy) {
        const Window wy = window_at(p, oy, h);
        for (int64_t ox = 0; ox < wo; ++ox) {
          const Window wx = window_at(p, ox, w);
          const int64_t count = wy.size * wx.size;
          if (count == 0) continue;
          const double g = static_cast<double>(dyp[oy * wo + ox]) / static_cast<double>(count);
          for (int64_t iy = wy.begin; iy < wy.end; ++iy)
            for (int64_t ix = wx.begin; ix < wx.end; ++ix) acc[static_cast<size_t>(iy * w + ix)] += g;
        }
      }
      T* dxp = dx + pl * h * w;
      for (int64_t i = 0; i < h * w; ++i) dxp[i] = static_cast<T>(acc[static_cast<size_t>(i)]);
    }
  });
}

}  // namespace sad::cpu
