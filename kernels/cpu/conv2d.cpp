// CPU reference for conv2d (any kernel size, stride and zero padding, separate for h and
// w): im2col and OpenBLAS GEMMs, col2im for the input gradient. In float32, the narrow
// layers that conv_direct::applies names run their forward and weight gradient (and at
// stride 1 their input gradient) as a direct convolution instead
// (kernels/cpu/conv2d_direct.h); float64, the gradient checks' precision, always takes the
// GEMMs. Training G, D and S at 128x128 on two cores needs GEMM speed, so this is the one
// CPU op that is not plain loops; tests/test_conv.cpp checks it against a direct
// convolution.
//
// Layouts (row-major): the column matrix of one image is (K, P) with K = Ci*KH*KW rows
// ordered (ci, kh, kw) like the weight's trailing dimensions, and P = Ho*Wo columns, so
//   out_n (Co, P) = weight (Co, K) @ col_n (K, P)
//   dweight (Co, K) = sum_n dout_n (Co, P) @ col_n^T
//   dcol_n (K, P) = weight^T @ dout_n, scattered back to dinp_n by col2im.
//
// Threads: each GEMM is single-threaded (kernels/cpu/blas.h says why) and the work is
// cut into independent tasks that depend on the shapes only, never on the thread count:
// forward and dweight over (image, band of output rows), which also bounds the im2col
// workspace; dinp over (image, group of input channels), whose col2im writes touch only
// their own channels. dweight sums its tasks into a fixed number of chunk partials
// (consecutive tasks in order), then adds the partials in chunk order, so the results
// are bit-identical for any thread count.
#include <algorithm>
#include <type_traits>
#include <vector>

#include "kernels/checks.h"
#include "kernels/cpu/blas.h"
#include "kernels/cpu/conv2d_direct.h"
#include "kernels/cpu/cpu_ops.h"
#include "kernels/cpu/isa.h"
#include "kernels/cpu/lane_sum.h"

// ---- the contract: the checks kernels/ops.h runs before either backend ----------------------

namespace sad::ops {

int64_t conv2d_out_size(int64_t in, int64_t k, int stride, int pad) {
  SAD_CHECK(stride >= 1 && pad >= 0, "conv2d: stride ", stride, " / padding ", pad, " invalid");
  int64_t span = in + 2 * pad - k;
  SAD_CHECK(span >= 0, "conv2d: kernel ", k, " larger than padded input ", in, " + 2*", pad);
  return span / stride + 1;
}

namespace contract {

using namespace detail;

static Shape conv2d_expected_out(const char* op, const Conv2dParams& p, const Tensor& inp, const Tensor& weight) {
  check_ndim(op, "input", inp, 4);
  check_ndim(op, "weight", weight, 4);
  SAD_CHECK(inp.dim(1) == weight.dim(1), op, ": input ", shape_str(inp.shape()), " has ", inp.dim(1),
            " channels but weight ", shape_str(weight.shape()), " expects ", weight.dim(1));
  return {inp.dim(0), weight.dim(0), conv2d_out_size(inp.dim(2), weight.dim(2), p.stride_h, p.pad_h),
          conv2d_out_size(inp.dim(3), weight.dim(3), p.stride_w, p.pad_w)};
}

const Tensor& conv2d_forward(const Conv2dParams& p, const Tensor& inp, const Tensor& weight, const Tensor* bias,
                             Tensor& out) {
  const char* op = "conv2d_forward";
  check_call(op, OpId::Conv2d, "input", inp, {{"weight", &weight}, {"bias", bias}, {"output", &out}});
  check_shape(op, "output", out, conv2d_expected_out(op, p, inp, weight));
  if (bias) check_shape(op, "bias", *bias, {weight.dim(0)});
  return inp;
}

const Tensor& conv2d_backward(const Conv2dParams& p, const Tensor& inp, const Tensor& weight, const Tensor& dout,
                              Tensor* dinp, Tensor* dweight, Tensor* dbias) {
  const char* op = "conv2d_backward";
  check_call(op, OpId::Conv2d, "input", inp,
             {{"weight", &weight}, {"dout", &dout}, {"dinp", dinp}, {"dweight", dweight}, {"dbias", dbias}});
  check_shape(op, "dout", dout, conv2d_expected_out(op, p, inp, weight));
  if (dinp) check_shape(op, "dinp", *dinp, inp.shape());
  if (dweight) check_shape(op, "dweight", *dweight, weight.shape());
  if (dbias) check_shape(op, "dbias", *dbias, {weight.dim(0)});
  return inp;
}

}  // namespace contract
}  // namespace sad::ops

namespace sad::cpu {

namespace {

// Below this many multiply-adds per call, starting threads costs more than it saves.
constexpr int64_t kParallelMacs = int64_t(1) << 18;
// Output positions per forward/dweight task: wide enough for an efficient GEMM, narrow
// enough that the (K, band) im2col workspace stays small (K = 2304: 9 MiB in float32).
constexpr int64_t kBandCols = 1024;
// Column-matrix rows per dinp task (a group of whole input channels).
constexpr int64_t kGroupRows = 64;
// dweight partial sums: at most this many chunks of consecutive tasks. A constant (not
// the thread count) keeps the summation order fixed; 8 keeps up to 8 threads busy at a
// cost of 8 * Co * K extra values.
constexpr int64_t kWeightChunks = 8;

struct ConvGeom {
  int64_t n, ci, h, w;  // input
  int64_t co, kh, kw;   // weight
  int64_t ho, wo;       // output
  int64_t sh, sw, ph, pw;

  int64_t rows() const { return ci * kh * kw; }  // K
  int64_t cols() const { return ho * wo; }       // P
  int64_t macs() const { return n * co * rows() * cols(); }
  // A 1x1 convolution with stride 1 and no padding: the column matrix IS the image.
  bool col_is_input() const { return kh == 1 && kw == 1 && sh == 1 && sw == 1 && ph == 0 && pw == 0; }
  // Bands of output rows per image (forward, dweight) and channel groups (dinp).
  int64_t bands() const { return (ho + band_rows() - 1) / band_rows(); }
  int64_t band_rows() const { return std::max<int64_t>(1, kBandCols / wo); }
  int64_t groups() const {
    int64_t per_group = std::max<int64_t>(1, kGroupRows / (kh * kw));
    return (ci + per_group - 1) / per_group;
  }
};

ConvGeom conv_geom(const ops::Conv2dParams& p, const Tensor& inp, const Tensor& weight) {
  ConvGeom g{};
  g.n = inp.dim(0), g.ci = inp.dim(1), g.h = inp.dim(2), g.w = inp.dim(3);
  g.co = weight.dim(0), g.kh = weight.dim(2), g.kw = weight.dim(3);
  g.sh = p.stride_h, g.sw = p.stride_w, g.ph = p.pad_h, g.pw = p.pad_w;
  g.ho = ops::conv2d_out_size(g.h, g.kh, p.stride_h, p.pad_h);
  g.wo = ops::conv2d_out_size(g.w, g.kw, p.stride_w, p.pad_w);
  return g;
}

conv_direct::Geom direct_geom(const ConvGeom& g) {
  return conv_direct::Geom{g.ci, g.h, g.w, g.co, g.kh, g.kw, g.ph, g.pw, g.ho, g.wo, g.sh, g.sw};
}

// Rows per task of the direct convolution (at least 16 columns wide): about 4096 output
// pixels, so that a batch of one still splits between threads while the padded copy of a
// band's input rows (KH - 1 rows more than the band) stays a small overhead.
int64_t direct_band_rows(int64_t wo) { return std::max<int64_t>(1, 4096 / wo); }
// The weight gradient's tasks are longer (about 8192 pixels): each ends with a tree over
// 16 lanes per weight, and the training batches give enough tasks.
int64_t direct_weight_band_rows(int64_t wo) { return std::max<int64_t>(1, 8192 / wo); }

// The direct convolution of one batch: out (N, Co, Ho, Wo) = bias + conv(x (N, Ci, H, W)),
// tasks over (image, band of output rows), each output value computed in one task.
void direct_batch(const conv_direct::Geom& d, int64_t n_images, const float* x, const std::vector<float>& wpack,
                  const float* bias, float* out, bool parallel) {
  const int64_t rows = direct_band_rows(d.wo), bands = (d.ho + rows - 1) / rows;
#pragma omp parallel if (parallel)
  {
    conv_direct::Workspace ws;  // per thread
#pragma omp for schedule(static)
    for (int64_t t = 0; t < n_images * bands; ++t) {
      const int64_t n = t / bands, band = t % bands;
      const int64_t oh0 = band * rows, oh1 = std::min(d.ho, oh0 + rows);
      conv_direct::forward_rows(d, x + n * d.ci * d.h * d.w, wpack.data(), bias, oh0, oh1, out + n * d.co * d.ho * d.wo,
                                ws);
    }
  }
}

// Smallest o in [0, limit] with o * s + off >= 0: where a row of output positions,
// reading input index o * s + off, first lands at or past index 0 (or, with off shifted
// by the input size, past the end).
int64_t first_at_or_past(int64_t off, int64_t s, int64_t limit) {
  if (off >= 0) return 0;
  return std::min(limit, (-off + s - 1) / s);
}

// col (K, B) <- the window values of output rows [oh0, oh1) of image x (Ci, H, W),
// B = (oh1 - oh0) * Wo, zeros where the window reads padding.
template <typename T>
void im2col(const ConvGeom& g, const T* x, int64_t oh0, int64_t oh1, T* col) {
  const int64_t B = (oh1 - oh0) * g.wo;
  for (int64_t c = 0; c < g.ci; ++c)
    for (int64_t i = 0; i < g.kh; ++i)
      for (int64_t j = 0; j < g.kw; ++j) {
        T* row = col + ((c * g.kh + i) * g.kw + j) * B;
        const T* xc = x + c * g.h * g.w;
        // Output columns whose input column iw = ow * sw - pw + j is inside [0, W).
        const int64_t ow0 = first_at_or_past(j - g.pw, g.sw, g.wo);
        const int64_t ow1 = std::max(ow0, first_at_or_past(j - g.pw - g.w, g.sw, g.wo));
        for (int64_t oh = oh0; oh < oh1; ++oh) {
          T* r = row + (oh - oh0) * g.wo;
          const int64_t ih = oh * g.sh - g.ph + i;
          if (ih < 0 || ih >= g.h) {
            std::fill(r, r + g.wo, T(0));
            continue;
          }
          const T* xr = xc + ih * g.w;
          const int64_t off = j - g.pw;  // output column ow reads input column ow * sw + off
          std::fill(r, r + ow0, T(0));
          if (g.sw == 1)  // the common case: a contiguous copy
            std::copy(xr + ow0 + off, xr + ow1 + off, r + ow0);
          else
            for (int64_t ow = ow0; ow < ow1; ++ow) r[ow] = xr[ow * g.sw + off];
          std::fill(r + ow1, r + g.wo, T(0));
        }
      }
}

// Channels [c0, c1) of dx (Ci, H, W) <- the adjoint of im2col applied to dcol
// ((c1 - c0) * KH * KW, P): each pixel gets the sum over the windows that read it.
// Overwrites those channels.
template <typename T>
void col2im(const ConvGeom& g, const T* dcol, int64_t c0, int64_t c1, T* dx) {
  const int64_t P = g.cols();
  std::fill(dx + c0 * g.h * g.w, dx + c1 * g.h * g.w, T(0));
  for (int64_t c = c0; c < c1; ++c)
    for (int64_t i = 0; i < g.kh; ++i)
      for (int64_t j = 0; j < g.kw; ++j) {
        const T* row = dcol + (((c - c0) * g.kh + i) * g.kw + j) * P;
        T* dxc = dx + c * g.h * g.w;
        const int64_t ow0 = first_at_or_past(j - g.pw, g.sw, g.wo);
        const int64_t ow1 = std::max(ow0, first_at_or_past(j - g.pw - g.w, g.sw, g.wo));
        for (int64_t oh = 0; oh < g.ho; ++oh) {
          const int64_t ih = oh * g.sh - g.ph + i;
          if (ih < 0 || ih >= g.h) continue;
          const T* __restrict r = row + oh * g.wo;
          T* __restrict dxr = dxc + ih * g.w;
          const int64_t off = j - g.pw;  // output column ow read input column ow * sw + off
          if (g.sw == 1)
            for (int64_t ow = ow0; ow < ow1; ++ow) dxr[ow + off] += r[ow];
          else
            for (int64_t ow = ow0; ow < ow1; ++ow) dxr[ow * g.sw + off] += r[ow];
        }
      }
}

}  // namespace

void conv2d_forward(const ops::Conv2dParams& p, const Tensor& inp, const Tensor& weight, const Tensor* bias,
                    Tensor& out) {
  const ConvGeom g = conv_geom(p, inp, weight);
  dispatch_float(inp.dtype(), [&]<typename T>(TypeTag<T>) {
    const T* x = inp.data<T>();      // (N, Ci, H, W)
    const T* wt = weight.data<T>();  // (Co, K)
    const T* b = bias ? bias->data<T>() : nullptr;
    T* y = out.data<T>();  // (N, Co, P)
    if constexpr (std::is_same_v<T, float>) {
      if (const conv_direct::Geom d = direct_geom(g); conv_direct::applies(d)) {
        const std::vector<float> wpack = conv_direct::pack_weight(wt, g.co, g.ci, g.kh, g.kw);
        direct_batch(d, g.n, x, wpack, b, y, g.macs() > kParallelMacs);
        return;
      }
    }
    const int64_t K = g.rows(), P = g.cols(), bands = g.bands();
    const bool direct = g.col_is_input();
#pragma omp parallel if (g.macs() > kParallelMacs)
    {
      // Per-thread workspace: one band's column matrix (K, <= band_rows * Wo).
      std::vector<T> col(direct ? 0 : static_cast<size_t>(K * g.band_rows() * g.wo));
#pragma omp for schedule(static)
      for (int64_t t = 0; t < g.n * bands; ++t) {
        const int64_t n = t / bands, band = t % bands;
        const int64_t oh0 = blas::part_begin(band, bands, g.ho), oh1 = blas::part_begin(band + 1, bands, g.ho);
        const int64_t p0 = oh0 * g.wo, B = (oh1 - oh0) * g.wo;
        const T* xn = x + n * g.ci * g.h * g.w;
        T* yb = y + n * g.co * P + p0;  // (Co, B) with row stride P
        const T* cb = xn + p0;          // (K, B) with row stride ldc
        int64_t ldc = P;
        if (!direct) {
          im2col(g, xn, oh0, oh1, col.data());
          cb = col.data();
          ldc = B;
        }
        // The bias goes in first so that the GEMM adds onto it (beta = 1).
        if (b)
          for (int64_t o = 0; o < g.co; ++o) std::fill(yb + o * P, yb + o * P + B, b[o]);
        blas::gemm(false, false, g.co, B, K, T(1), wt, K, cb, ldc, b ? T(1) : T(0), yb, P);
      }
    }
  });
}

void conv2d_backward(const ops::Conv2dParams& p, const Tensor& inp, const Tensor& weight, const Tensor& dout,
                     Tensor* dinp, Tensor* dweight, Tensor* dbias) {
  const ConvGeom g = conv_geom(p, inp, weight);
  dispatch_float(inp.dtype(), [&]<typename T>(TypeTag<T>) {
    const T* x = inp.data<T>();      // (N, Ci, H, W)
    const T* wt = weight.data<T>();  // (Co, K)
    const T* dy = dout.data<T>();    // (N, Co, P)
    const int64_t K = g.rows(), P = g.cols();
    const bool direct = g.col_is_input();
    const conv_direct::Geom dgeom = direct_geom(g);

    if (dweight) {
      // Tasks (image, band) in order, cut into `chunks` runs of consecutive tasks; each
      // run accumulates into its own partial (Co, K).
      // float32 layers of the direct path: each task's share by its kernel (conv2d_direct.h),
      // added to its chunk's partial in task order; otherwise im2col + GEMM.
      const bool by_tiles = std::is_same_v<T, float> && conv_direct::applies(dgeom);
      const int64_t bands =
          by_tiles ? (g.ho + direct_weight_band_rows(g.wo) - 1) / direct_weight_band_rows(g.wo) : g.bands();
      const int64_t tasks = g.n * bands, chunks = std::min(tasks, kWeightChunks);
      std::vector<T> partial(static_cast<size_t>(chunks * g.co * K));
#pragma omp parallel if (g.macs() > kParallelMacs)
      {
        std::vector<T> col(direct || by_tiles ? 0 : static_cast<size_t>(K * g.band_rows() * g.wo));
        std::vector<T> task_dw(by_tiles ? static_cast<size_t>(g.co * K) : 0);
        conv_direct::Workspace ws;
#pragma omp for schedule(static)
        for (int64_t c = 0; c < chunks; ++c) {
          const int64_t t0 = blas::part_begin(c, chunks, tasks), t1 = blas::part_begin(c + 1, chunks, tasks);
          for (int64_t t = t0; t < t1; ++t) {
            const int64_t n = t / bands, band = t % bands;
            const int64_t oh0 = blas::part_begin(band, bands, g.ho), oh1 = blas::part_begin(band + 1, bands, g.ho);
            const int64_t p0 = oh0 * g.wo, B = (oh1 - oh0) * g.wo;
            const T* xn = x + n * g.ci * g.h * g.w;
            if constexpr (std::is_same_v<T, float>) {
              if (by_tiles) {
                T* pc = partial.data() + c * g.co * K;
                conv_direct::weight_grad_rows(dgeom, xn, dy + n * g.co * P, oh0, oh1, t == t0 ? pc : task_dw.data(),
                                              ws);
                if (t != t0)
                  for (int64_t i = 0; i < g.co * K; ++i) pc[i] += task_dw[static_cast<size_t>(i)];
                continue;
              }
            }
            const T* cb = xn + p0;
            int64_t ldc = P;
            if (!direct) {
              im2col(g, xn, oh0, oh1, col.data());
              cb = col.data();
              ldc = B;
            }
            // partial_c += dout_n[:, band] (Co, B) @ col_band^T (B, K); the run's first task overwrites.
            blas::gemm(false, true, g.co, K, B, T(1), dy + n * g.co * P + p0, P, cb, ldc, t == t0 ? T(0) : T(1),
                       partial.data() + c * g.co * K, K);
          }
        }
      }
      T* dw = dweight->data<T>();  // (Co, K)
      const int64_t m = g.co * K;
#pragma omp parallel for schedule(static) if (m * chunks > 65536)
      for (int64_t i = 0; i < m; ++i) {
        double s = 0;
        for (int64_t c = 0; c < chunks; ++c) s += partial[static_cast<size_t>(c * m + i)];
        dw[i] = static_cast<T>(s);
      }
    }

    // The input gradient of a stride-1 convolution is itself one (conv2d_direct.h): float32
    // layers of the direct path take it; the others scatter a GEMM's dcol with col2im.
    const bool dinp_by_tiles = std::is_same_v<T, float> && conv_direct::applies_input_grad(dgeom);
    if (dinp && dinp_by_tiles) {
      if constexpr (std::is_same_v<T, float>) {
        const std::vector<float> wpack = conv_direct::pack_weight_for_input_grad(wt, g.co, g.ci, g.kh, g.kw);
        direct_batch(conv_direct::input_grad_geom(dgeom), g.n, dy, wpack, nullptr, dinp->data<float>(),
                     g.macs() > kParallelMacs);
      }
    } else if (dinp) {
      T* dx = dinp->data<T>();  // (N, Ci, H, W)
      const int64_t groups = g.groups(), khw = g.kh * g.kw;
#pragma omp parallel if (g.macs() > kParallelMacs)
      {
        // Per-thread workspace: one channel group's rows of dcol (<= kGroupRows or khw, P).
        const int64_t max_rows = (g.ci + groups - 1) / groups * khw;
        std::vector<T> dcol(direct ? 0 : static_cast<size_t>(max_rows * P));
#pragma omp for schedule(static)
        for (int64_t t = 0; t < g.n * groups; ++t) {
          const int64_t n = t / groups, grp = t % groups;
          const int64_t c0 = blas::part_begin(grp, groups, g.ci), c1 = blas::part_begin(grp + 1, groups, g.ci);
          const int64_t r0 = c0 * khw, R = (c1 - c0) * khw;
          T* dxn = dx + n * g.ci * g.h * g.w;
          // dcol rows [r0, r0 + R) (R, P) = weight[:, r0:r0+R]^T (R, Co) @ dout_n (Co, P).
          T* target = direct ? dxn + r0 * P : dcol.data();
          blas::gemm(true, false, R, P, g.co, T(1), wt + r0, K, dy + n * g.co * P, P, T(0), target, P);
          if (!direct) col2im(g, dcol.data(), c0, c1, dxn);
        }
      }
    }

    if (dbias) {
      T* db = dbias->data<T>();  // (Co)
#pragma omp parallel for schedule(static) if (g.n * g.co * P > 65536)
      for (int64_t o = 0; o < g.co; ++o)
        isa_run([&] {
          LaneSum s;  // kernels/cpu/lane_sum.h: 16 lanes, not one chain of dependent adds
          for (int64_t n = 0; n < g.n; ++n) {
            const T* r = dy + (n * g.co + o) * P;
            s.add(P, [r](int64_t i) { return static_cast<double>(r[i]); });
          }
          db[o] = static_cast<T>(s.total());
        });
    }
  });
}

}  // namespace sad::cpu
