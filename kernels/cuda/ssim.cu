// CUDA kernels of the SSIM map and its backward (reference and formulas:
// kernels/cpu/ssim.cpp): the structural term of L_G and half of the residual evidence r of
// METHOD.md. Per channel plane, with the normalised Gaussian taps g (window k, sigma):
//   the five moment planes mx = G*x, my = G*y, exx = G*(x^2), eyy = G*(y^2), exy = G*(xy),
//   map = ((2 mx my + C1)(2 sxy + C2)) / ((mx^2 + my^2 + C1)(sxx + syy + C2)),
// same_size = true: zero padding k/2 (output H x W); false: valid positions only.
//
// Forward, ssim_moments_kernel<false>: one block per 32 x 16 output tile of one plane.
// It stages the tile's input window, (16 + k - 1) x (32 + k - 1) pixels of x and y with
// zeros outside the image, in shared memory, runs the horizontal pass over all staged rows
// into five shared planes of (16 + k - 1) x 32, then the vertical pass per output pixel,
// and evaluates the map there. Each input pixel is read from global memory ~2.1 times
// (the halo: 26 x 42 staged per 16 x 32 outputs at k = 11) instead of k^2 times.
// Backward, two kernels:
//   1. ssim_moments_kernel<true>: the same tile pass, but at each output pixel it writes
//      dmap times the four point-wise derivatives of the map with respect to the filtered
//      planes (d/dmx, d/dmy, d/dexx = d/deyy, d/dexy; see the reference) to a scratch
//      buffer (planes, 4, Ho, Wo).
//   2. ssim_adjoint_kernel: per 32 x 16 tile of the INPUT grid, stages the window of the
//      four gradient planes that can reach the tile (zeros outside the output grid) and
//      applies the adjoint filter as a gather (horizontal then vertical), then the chain
//      rule through x^2 and xy:
//        dx = G^T(gmx) + 2 x G^T(ge) + y G^T(gexy),  dy = G^T(gmy) + 2 y G^T(ge) + x G^T(gexy).
// Every output is written by one thread from sums in a fixed order: deterministic.
// float32 throughout (the reference computes in double): the moments are sums of k^2
// weighted terms with weights summing to 1, so their error is a few float ulps, but
// sxx = exx - mx^2 cancels and the map divides by mx^2 + my^2 + C1, which can be as small
// as C1 = 4e-4; the parity tests' tolerances are set from that.
// Napkin math (paper preset, 16 x 3 x 256 x 256): forward reads 8 B per pixel and writes 4
// (38 MB, ~9 us of bandwidth) and does 5 x 11 FMAs per pixel in the vertical pass and
// 1.6 times that in the horizontal one (halo rows): ~1 GFLOP, ~15 us at the FP32 rate, so
// it is compute and latency bound at a few tens of us.
// Backward: 1. reads 12 B, writes 16 B per pixel; 2. reads 24 B, writes 8 B: ~5x forward.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "kernels/cuda/cuda_common.cuh"
#include "kernels/cuda/cuda_ops.h"

namespace sad::cuda {

namespace {

constexpr int kMaxWindow = 63;           // taps travel by value in the kernel's parameters
constexpr int kTileW = 32, kTileH = 16;  // outputs per block: one warp per row, 16 rows
constexpr int kThreads = 256;
constexpr int kMaxPlanesPerLaunch = 65535;  // gridDim.z limit
constexpr size_t kDefaultSmem = 48 * 1024;  // above this a kernel must opt in

struct Taps {
  float g[kMaxWindow];
};

struct Geometry {
  int h, w;    // input plane
  int ho, wo;  // map plane
  int off;     // output (i, j)'s window starts at input (i - off, j - off): the padding
  int k;       // window
  float c1, c2;
};

// Shared floats: the taps, two staged input windows, five horizontal moment planes.
size_t moments_smem_bytes(int k) {
  const size_t rh = kTileH + k - 1, cw = kTileW + k - 1;
  return sizeof(float) * (k + 2 * rh * cw + 5 * rh * kTileW);
}
// Shared floats: the taps, four staged gradient windows, four horizontal adjoint planes.
size_t adjoint_smem_bytes(int k) {
  const size_t rh = kTileH + k - 1, cw = kTileW + k - 1;
  return sizeof(float) * (k + 4 * rh * cw + 4 * rh * kTileW);
}

// kGrad = false: out = map (P, Ho, Wo).
// kGrad = true:  out = dmap * d map / d(mx, my, exx (= eyy), exy), (P, 4, Ho, Wo).
template <bool kGrad>
__global__ void __launch_bounds__(kThreads) ssim_moments_kernel(Taps taps, Geometry s, int64_t plane0,
                                                                const float* __restrict__ x,     // (P, H, W)
                                                                const float* __restrict__ y,     // (P, H, W)
                                                                const float* __restrict__ dmap,  // (P, Ho, Wo), kGrad
                                                                float* __restrict__ out) {
  extern __shared__ float smem[];
  const int k = s.k, rh = kTileH + k - 1, cw = kTileW + k - 1, hplane = rh * kTileW;
  float* g = smem;           // (k)
  float* sx = g + k;         // (rh, cw)
  float* sy = sx + rh * cw;  // (rh, cw)
  float* hm = sy + rh * cw;  // (5, rh, kTileW): horizontal passes of x, y, x^2, y^2, xy

  const int64_t plane = plane0 + blockIdx.z;
  const int64_t hw = static_cast<int64_t>(s.h) * s.w, howo = static_cast<int64_t>(s.ho) * s.wo;
  const float* xp = x + plane * hw;
  const float* yp = y + plane * hw;
  const int i0 = blockIdx.y * kTileH, j0 = blockIdx.x * kTileW;
  const int tid = threadIdx.x;

  for (int t = tid; t < k; t += kThreads) g[t] = taps.g[t];
  // Stage input rows i0 - off .. i0 - off + rh - 1 and the matching columns (zero padding).
  for (int idx = tid; idx < rh * cw; idx += kThreads) {
    const int rr = idx / cw, cc = idx - rr * cw;
    const int gi = i0 - s.off + rr, gj = j0 - s.off + cc;
    const bool inside = gi >= 0 && gi < s.h && gj >= 0 && gj < s.w;
    const int64_t at = static_cast<int64_t>(gi) * s.w + gj;
    sx[idx] = inside ? xp[at] : 0.0f;
    sy[idx] = inside ? yp[at] : 0.0f;
  }
  __syncthreads();

  // Horizontal pass: staged row rr, output column j0 + jj.
  for (int idx = tid; idx < hplane; idx += kThreads) {
    const int rr = idx / kTileW, jj = idx - rr * kTileW;
    const float* px = sx + rr * cw + jj;
    const float* py = sy + rr * cw + jj;
    float mx = 0.0f, my = 0.0f, exx = 0.0f, eyy = 0.0f, exy = 0.0f;
    for (int v = 0; v < k; ++v) {
      const float gv = g[v], xv = px[v], yv = py[v];
      mx += gv * xv;
      my += gv * yv;
      exx += gv * (xv * xv);
      eyy += gv * (yv * yv);
      exy += gv * (xv * yv);
    }
    hm[0 * hplane + idx] = mx;
    hm[1 * hplane + idx] = my;
    hm[2 * hplane + idx] = exx;
    hm[3 * hplane + idx] = eyy;
    hm[4 * hplane + idx] = exy;
  }
  __syncthreads();

  // Vertical pass and the point-wise map (or its derivatives) at output (i0 + ii, j0 + jj).
  for (int idx = tid; idx < kTileH * kTileW; idx += kThreads) {
    const int ii = idx / kTileW, jj = idx - ii * kTileW;
    const int i = i0 + ii, j = j0 + jj;
    if (i >= s.ho || j >= s.wo) continue;
    float mx = 0.0f, my = 0.0f, exx = 0.0f, eyy = 0.0f, exy = 0.0f;
    for (int u = 0; u < k; ++u) {
      const float gu = g[u];
      const int at = (ii + u) * kTileW + jj;
      mx += gu * hm[0 * hplane + at];
      my += gu * hm[1 * hplane + at];
      exx += gu * hm[2 * hplane + at];
      eyy += gu * hm[3 * hplane + at];
      exy += gu * hm[4 * hplane + at];
    }
    const float sxx = exx - mx * mx, syy = eyy - my * my, sxy = exy - mx * my;
    const float a1 = 2.0f * mx * my + s.c1, a2 = 2.0f * sxy + s.c2;
    const float b1 = mx * mx + my * my + s.c1, b2 = sxx + syy + s.c2;
    const int64_t o = static_cast<int64_t>(i) * s.wo + j;
    if constexpr (!kGrad) {
      out[plane * howo + o] = (a1 * a2) / (b1 * b2);
    } else {
      const float inv = 1.0f / (b1 * b2);
      const float ssim = a1 * a2 * inv, d = dmap[plane * howo + o];
      const float cross = 2.0f * (a2 - a1) * inv, self = 2.0f * ssim * (1.0f / b2 - 1.0f / b1);
      float* gp = out + plane * 4 * howo + o;
      gp[0 * howo] = d * (my * cross + mx * self);  // d/dmx
      gp[1 * howo] = d * (mx * cross + my * self);  // d/dmy
      gp[2 * howo] = d * (-ssim / b2);              // d/dexx = d/deyy
      gp[3 * howo] = d * (2.0f * a1 * inv);         // d/dexy
    }
  }
}

// din(r, c) = sum_{u, v} g[u] g[v] grad(r + off - u, c + off - v) over outputs inside the
// map, per gradient plane, then combined into dx and dy (either may be null).
__global__ void __launch_bounds__(kThreads) ssim_adjoint_kernel(Taps taps, Geometry s, int64_t plane0,
                                                                const float* __restrict__ x,      // (P, H, W)
                                                                const float* __restrict__ y,      // (P, H, W)
                                                                const float* __restrict__ grads,  // (P, 4, Ho, Wo)
                                                                float* __restrict__ dx,           // (P, H, W) or null
                                                                float* __restrict__ dy) {         // (P, H, W) or null
  extern __shared__ float smem[];
  const int k = s.k, rh = kTileH + k - 1, cw = kTileW + k - 1, splane = rh * cw, hplane = rh * kTileW;
  float* g = smem;              // (k)
  float* sg = g + k;            // (4, rh, cw): staged gradient windows
  float* th = sg + 4 * splane;  // (4, rh, kTileW): horizontal adjoint passes

  const int64_t plane = plane0 + blockIdx.z;
  const int64_t hw = static_cast<int64_t>(s.h) * s.w, howo = static_cast<int64_t>(s.ho) * s.wo;
  const float* gp = grads + plane * 4 * howo;
  const int r0 = blockIdx.y * kTileH, c0 = blockIdx.x * kTileW;
  // Input row r is reached by output rows r + off - (k - 1) .. r + off.
  const int base_i = r0 + s.off - (k - 1), base_j = c0 + s.off - (k - 1);
  const int tid = threadIdx.x;

  for (int t = tid; t < k; t += kThreads) g[t] = taps.g[t];
  for (int idx = tid; idx < splane; idx += kThreads) {
    const int rr = idx / cw, cc = idx - rr * cw;
    const int gi = base_i + rr, gj = base_j + cc;
    const bool inside = gi >= 0 && gi < s.ho && gj >= 0 && gj < s.wo;
    const int64_t at = static_cast<int64_t>(gi) * s.wo + gj;
    for (int q = 0; q < 4; ++q) sg[q * splane + idx] = inside ? gp[q * howo + at] : 0.0f;
  }
  __syncthreads();

  // Horizontal adjoint: staged row rr, input column c0 + cc gathers output columns
  // c0 + cc + off - v, i.e. staged column cc + k - 1 - v.
  for (int idx = tid; idx < hplane; idx += kThreads) {
    const int rr = idx / kTileW, cc = idx - rr * kTileW;
    const int base = rr * cw + cc + k - 1;
    float t0 = 0.0f, t1 = 0.0f, t2 = 0.0f, t3 = 0.0f;
    for (int v = 0; v < k; ++v) {
      const float gv = g[v];
      t0 += gv * sg[0 * splane + base - v];
      t1 += gv * sg[1 * splane + base - v];
      t2 += gv * sg[2 * splane + base - v];
      t3 += gv * sg[3 * splane + base - v];
    }
    th[0 * hplane + idx] = t0;
    th[1 * hplane + idx] = t1;
    th[2 * hplane + idx] = t2;
    th[3 * hplane + idx] = t3;
  }
  __syncthreads();

  // Vertical adjoint: input row r0 + rr gathers staged rows rr + k - 1 - u.
  for (int idx = tid; idx < kTileH * kTileW; idx += kThreads) {
    const int rr = idx / kTileW, cc = idx - rr * kTileW;
    const int r = r0 + rr, c = c0 + cc;
    if (r >= s.h || c >= s.w) continue;
    float a_mx = 0.0f, a_my = 0.0f, a_e = 0.0f, a_xy = 0.0f;
    for (int u = 0; u < k; ++u) {
      const float gu = g[u];
      const int at = (rr + k - 1 - u) * kTileW + cc;
      a_mx += gu * th[0 * hplane + at];
      a_my += gu * th[1 * hplane + at];
      a_e += gu * th[2 * hplane + at];
      a_xy += gu * th[3 * hplane + at];
    }
    const int64_t e = plane * hw + static_cast<int64_t>(r) * s.w + c;
    const float xv = x[e], yv = y[e];
    if (dx) dx[e] = a_mx + 2.0f * xv * a_e + yv * a_xy;
    if (dy) dy[e] = a_my + 2.0f * yv * a_e + xv * a_xy;
  }
}

// The reference's taps (ops::gaussian_taps, normalised in double), as floats.
Taps make_taps(int window, float sigma) {
  const std::vector<double> g = ops::gaussian_taps(window, sigma);
  Taps taps{};
  for (int t = 0; t < window; ++t) taps.g[t] = static_cast<float>(g[static_cast<size_t>(t)]);
  return taps;
}

Geometry geometry_of(const ops::SsimParams& p, const Tensor& x) {
  Geometry s;
  s.h = checked_int(x.dim(2), "ssim: image height");
  s.w = checked_int(x.dim(3), "ssim: image width");
  s.k = p.window;
  s.off = p.same_size ? p.window / 2 : 0;
  s.ho = p.same_size ? s.h : s.h - p.window + 1;
  s.wo = p.same_size ? s.w : s.w - p.window + 1;
  s.c1 = static_cast<float>(std::pow(double(p.k1) * p.data_range, 2));
  s.c2 = static_cast<float>(std::pow(double(p.k2) * p.data_range, 2));
  return s;
}

void check_window(const ops::SsimParams& p) {
  SAD_CHECK(p.window <= kMaxWindow, "cuda::ssim: window ", p.window, " exceeds the CUDA kernel's maximum ", kMaxWindow);
}

// Opts a kernel in to more than 48 KB of dynamic shared memory (large windows only).
template <typename Kernel>
void allow_smem(Kernel kernel, size_t bytes) {
  if (bytes > kDefaultSmem)
    SAD_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes)));
}

// One launch per chunk of at most 65535 planes (gridDim.z), tiles of (rows, cols) in x, y.
template <typename Launch>
void for_plane_chunks(int64_t planes, Launch launch) {
  for (int64_t p0 = 0; p0 < planes; p0 += kMaxPlanesPerLaunch)
    launch(p0, static_cast<unsigned>(std::min<int64_t>(kMaxPlanesPerLaunch, planes - p0)));
}

dim3 tile_grid(int rows, int cols, unsigned planes) {
  return dim3(static_cast<unsigned>((cols + kTileW - 1) / kTileW), static_cast<unsigned>((rows + kTileH - 1) / kTileH),
              planes);
}

}  // namespace

void ssim_forward(const ops::SsimParams& p, const Tensor& x, const Tensor& y, Tensor& map) {
  check_window(p);
  const Geometry s = geometry_of(p, x);
  const Taps taps = make_taps(p.window, p.sigma);
  const size_t smem = moments_smem_bytes(p.window);
  allow_smem(ssim_moments_kernel<false>, smem);
  const float *px = device_ptr(x), *py = device_ptr(y);
  float* pm = device_ptr(map);
  for_plane_chunks(x.dim(0) * x.dim(1), [&](int64_t p0, unsigned np) {
    ssim_moments_kernel<false>
        <<<tile_grid(s.ho, s.wo, np), kThreads, smem, stream()>>>(taps, s, p0, px, py, nullptr, pm);
    SAD_CUDA_LAUNCH_CHECK();
  });
}

void ssim_backward(const ops::SsimParams& p, const Tensor& x, const Tensor& y, const Tensor& dmap, Tensor* dx,
                   Tensor* dy) {
  if (!dx && !dy) return;
  check_window(p);
  const Geometry s = geometry_of(p, x);
  const Taps taps = make_taps(p.window, p.sigma);
  const int64_t planes = x.dim(0) * x.dim(1);
  // (planes, 4, Ho, Wo) point-wise gradients with respect to the filtered planes.
  DeviceBuffer grads(static_cast<size_t>(planes) * 4 * s.ho * s.wo * sizeof(float));
  const size_t smem_m = moments_smem_bytes(p.window), smem_a = adjoint_smem_bytes(p.window);
  allow_smem(ssim_moments_kernel<true>, smem_m);
  allow_smem(ssim_adjoint_kernel, smem_a);
  const float *px = device_ptr(x), *py = device_ptr(y), *pdm = device_ptr(dmap);
  float *pg = grads.get<float>(), *pdx = device_ptr(dx), *pdy = device_ptr(dy);
  for_plane_chunks(planes, [&](int64_t p0, unsigned np) {
    ssim_moments_kernel<true><<<tile_grid(s.ho, s.wo, np), kThreads, smem_m, stream()>>>(taps, s, p0, px, py, pdm, pg);
    SAD_CUDA_LAUNCH_CHECK();
    ssim_adjoint_kernel<<<tile_grid(s.h, s.w, np), kThreads, smem_a, stream()>>>(taps, s, p0, px, py, pg, pdx, pdy);
    SAD_CUDA_LAUNCH_CHECK();
  });
}

}  // namespace sad::cuda
