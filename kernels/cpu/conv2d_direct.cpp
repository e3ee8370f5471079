// The direct convolution of kernels/cpu/conv2d_direct.h.
//
// One register tile is 8 output channels x V output columns of one output row (V = 16 with
// AVX-512, 8 with AVX2 and on the portable path): 8 vector accumulators, and per tap
// (ci, kh, kw) one load of V input values and 8 broadcast weights. The input rows a band
// of output rows reads are first copied into a zero-padded buffer (pad_rows), so the tile
// loop has no bounds checks; each padded row has 16 values of slack, so a tile that
// overhangs the row's end reads zeros (or the next row) into columns it then does not
// store. The portable tiles are plain loops here; the AVX2 and AVX-512 ones are one
// template body, kernels/cpu/conv2d_direct_tiles.inc.
#include "kernels/cpu/conv2d_direct.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "kernels/cpu/isa.h"
#include "kernels/cpu/lane_sum.h"
#include "tensor/check.h"

#if SPARSEAD_ISA_X86
#include <immintrin.h>
#endif

namespace sad::cpu::conv_direct {

namespace {

constexpr int kCb = static_cast<int>(kCoBlock);
constexpr int64_t kSlack = 16;  // values past each phase of a padded row: the widest tile's overhang
constexpr int64_t kMaxKw = 16;  // kernel widths the direct path takes

int64_t co_padded(int64_t co) { return (co + kCoBlock - 1) / kCoBlock * kCoBlock; }

// One output row of 8 channels: y0 points at channel co0's row, nc <= 8 channels are
// stored (those past Co are computed from zero weights and dropped), wo columns.
struct Row {
  const float* x;  // padded input at (ci 0, the output row's first padded row, column 0)
  int64_t ci_stride, row_stride;
  int64_t tap[kMaxKw];  // where tap j's values for output column 0 start in a padded row
  int64_t ci, kh, kw;
  const float* w;  // packed weight at column co0
  int64_t cop;
  float bias[kCb];
  float* y0;
  int64_t y_cstride;  // between output channels
  int nc;
  int64_t wo;  // columns of this call (a chunk of the output row)
};

// Stores an 8 x V tile (row-major in t) into y, keeping only the valid channels and columns.
template <int V>
void store_tile(const Row& r, int64_t ow0, const float* t) {
  const int64_t n = std::min<int64_t>(V, r.wo - ow0);
  for (int c = 0; c < r.nc; ++c) std::memcpy(r.y0 + c * r.y_cstride + ow0, t + c * V, static_cast<size_t>(n) * 4);
}

void row_portable(const Row& r) {
  constexpr int V = 8;
  for (int64_t ow0 = 0; ow0 < r.wo; ow0 += V) {
    float acc[kCb][V];
    for (int c = 0; c < kCb; ++c)
      for (int p = 0; p < V; ++p) acc[c][p] = r.bias[c];
    const float* wk = r.w;
    for (int64_t ci = 0; ci < r.ci; ++ci)
      for (int64_t i = 0; i < r.kh; ++i) {
        const float* xr = r.x + ci * r.ci_stride + i * r.row_stride + ow0;
        for (int64_t j = 0; j < r.kw; ++j, wk += r.cop)
          for (int c = 0; c < kCb; ++c)
            for (int p = 0; p < V; ++p) acc[c][p] = std::fma(wk[c], xr[r.tap[j] + p], acc[c][p]);
      }
    store_tile<V>(r, ow0, &acc[0][0]);
  }
}

// ---- the weight gradient ----------------------------------------------------------------------
//
// dweight(co, ci, i, j) = sum over the band's output pixels of dy(co, oh, ow) times the
// input the tap (i, j) reads there. One tile is 8 output channels x J <= 3 taps
// (ci, i, j0 .. j0 + J - 1), each sum kept in 16 lanes: lane l adds the products at the
// columns ow = p0 + l, row by row, p0 = 0, 16, ...; columns past Wo add fma(0, x, .),
// which leaves the lane's value as it is. The lanes are then added in a fixed tree
// (weight_grad_rows), so every path gives the same bits.
constexpr int kWc = 8;
constexpr int kLanes = 16;  // lane_tree's width (kernels/cpu/lane_sum.h)

struct WTile {
  const float* dy[kWc];  // each channel's band of dy (Wo-wide rows); a zero band for channels past Co
  const float* x;        // padded input at (ci, the band's padded row i, column 0)
  int64_t x_stride;      // between the padded rows of consecutive output rows
  int64_t tap[3];        // where taps j0 .. j0 + J - 1 start in a padded row
  int64_t rows, wo;
  int nc;        // channels of the tile below Co: lanes of groups past them are not written
  float* lanes;  // (kWc, J, 16) out
};

template <int J>
void wtile_portable(const WTile& t) {
  float acc[kWc][J][kLanes] = {};
  for (int64_t r = 0; r < t.rows; ++r) {
    const float* xr = t.x + r * t.x_stride;
    for (int64_t p0 = 0; p0 < t.wo; p0 += kLanes) {
      float d[kWc][kLanes];
      for (int c = 0; c < kWc; ++c)
        for (int l = 0; l < kLanes; ++l) d[c][l] = p0 + l < t.wo ? t.dy[c][r * t.wo + p0 + l] : 0.0f;
      for (int jj = 0; jj < J; ++jj)
        for (int c = 0; c < kWc; ++c)
          for (int l = 0; l < kLanes; ++l) acc[c][jj][l] = std::fma(d[c][l], xr[t.tap[jj] + p0 + l], acc[c][jj][l]);
    }
  }
  std::memcpy(t.lanes, acc, sizeof(acc));
}

#if SPARSEAD_ISA_X86
// The AVX2 and AVX-512 tiles: kernels/cpu/conv2d_direct_tiles.inc written once over a
// vector type V, included twice, each time in its own namespace with its V (that set's
// intrinsics) and SAD_TILE_TARGET, the target attribute every function of the copy
// carries (GCC and clang both honour it on functions and templates).
#define SAD_TILE_TARGET __attribute__((target("avx2,fma")))
namespace avx2 {
struct V {
  using T = __m256;
  static constexpr int kWidth = 8;
  static constexpr bool kPair = false;  // 16 registers: no room for 16 accumulators
  static constexpr int kWg = 4;
  SAD_TILE_TARGET static T zero() { return _mm256_setzero_ps(); }
  SAD_TILE_TARGET static T set1(float v) { return _mm256_set1_ps(v); }
  SAD_TILE_TARGET static T load(const float* p) { return _mm256_loadu_ps(p); }
  // The first n (0..8) values of p, zeros after them; nothing past them is read.
  SAD_TILE_TARGET static T load_first(const float* p, int64_t n) {
    const __m256i m =
        _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    return _mm256_maskload_ps(p, m);
  }
  SAD_TILE_TARGET static T fma(T a, T b, T c) { return _mm256_fmadd_ps(a, b, c); }
  SAD_TILE_TARGET static void store(float* p, T v) { _mm256_storeu_ps(p, v); }
};
#include "kernels/cpu/conv2d_direct_tiles.inc"
}  // namespace avx2
#undef SAD_TILE_TARGET

#define SAD_TILE_TARGET __attribute__((target("avx512f,fma")))
namespace avx512 {
struct V {
  using T = __m512;
  static constexpr int kWidth = 16;
  static constexpr bool kPair = true;
  static constexpr int kWg = 8;
  SAD_TILE_TARGET static T zero() { return _mm512_setzero_ps(); }
  SAD_TILE_TARGET static T set1(float v) { return _mm512_set1_ps(v); }
  SAD_TILE_TARGET static T load(const float* p) { return _mm512_loadu_ps(p); }
  // The first n (0..16) values of p, zeros after them; nothing past them is read.
  SAD_TILE_TARGET static T load_first(const float* p, int64_t n) {
    return _mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << n) - 1), p);
  }
  SAD_TILE_TARGET static T fma(T a, T b, T c) { return _mm512_fmadd_ps(a, b, c); }
  SAD_TILE_TARGET static void store(float* p, T v) { _mm512_storeu_ps(p, v); }
};
#include "kernels/cpu/conv2d_direct_tiles.inc"
}  // namespace avx512
#undef SAD_TILE_TARGET
#endif

using RowFn = void (*)(const Row&);

RowFn row_fn() {
#if SPARSEAD_ISA_X86
  switch (cpu_isa()) {
    case Isa::Avx512: return avx512::row;
    case Isa::Avx2: return avx2::row;
    case Isa::Portable: break;
  }
#endif
  return row_portable;
}

using WTileFn = void (*)(const WTile&);

// The tile functions for J = 1, 2, 3 on the path in use.
struct WTileFns {
  WTileFn fn[3];
};

WTileFns wtile_fns() {
#if SPARSEAD_ISA_X86
  switch (cpu_isa()) {
    case Isa::Avx512: return {{avx512::wtile<1>, avx512::wtile<2>, avx512::wtile<3>}};
    case Isa::Avx2: return {{avx2::wtile<1>, avx2::wtile<2>, avx2::wtile<3>}};
    case Isa::Portable: break;
  }
#endif
  return {{wtile_portable<1>, wtile_portable<2>, wtile_portable<3>}};
}

// The padded copy of the input rows a band of output rows reads: (Ci, rows, sw, wq).
// Padded row r is input row oh0 * sh - ph + r. A padded row's columns (input column
// q - pw at q, zero outside the input) are split into sw phases of wq values each,
// q = idx * sw + phase, so that a tap reads consecutive values for consecutive output
// columns at any column stride: tap j of output column ow reads q = ow * sw + j, i.e.
// phase j % sw, index ow + j / sw.
struct PadLayout {
  float* base;         // the first padded row, 64-byte aligned
  int64_t rows;        // padded rows
  int64_t wq;          // values per phase: a multiple of 16, so that every row starts on a cache line
  int64_t row_stride;  // sw * wq
  // Where tap j's value for output column 0 lies within a padded row.
  int64_t tap(const Geom& g, int64_t j) const { return (j % g.sw) * wq + j / g.sw; }
};

PadLayout pad_rows(const Geom& g, const float* x, int64_t oh0, int64_t oh1, std::vector<float>& pad) {
  PadLayout l{};
  l.rows = (oh1 - oh0 - 1) * g.sh + g.kh;
  l.wq = ((g.w + 2 * g.pw + g.sw - 1) / g.sw + kSlack + 15) / 16 * 16;
  l.row_stride = g.sw * l.wq;
  // At stride 1 every value is written once: zeros for rows outside the image and for
  // the padding and slack columns, the input elsewhere (not the whole buffer zero-filled
  // and then mostly overwritten).
  // 16 values more than the rows take, so that the base can move up to a cache line: a
  // tile's first tap then loads aligned vectors, never two cache lines at once.
  pad.resize(static_cast<size_t>(g.ci * l.rows * l.row_stride + 16));
  l.base = pad.data() + (16 - reinterpret_cast<std::uintptr_t>(pad.data()) / sizeof(float) % 16) % 16;
  for (int64_t c = 0; c < g.ci; ++c)
    for (int64_t r = 0; r < l.rows; ++r) {
      const int64_t ih = oh0 * g.sh - g.ph + r;
      float* pr = l.base + (c * l.rows + r) * l.row_stride;
      if (ih < 0 || ih >= g.h) {
        std::fill(pr, pr + l.row_stride, 0.0f);
        continue;
      }
      const float* xr = x + (c * g.h + ih) * g.w;
      if (g.sw == 1) {
        std::fill(pr, pr + g.pw, 0.0f);
        std::memcpy(pr + g.pw, xr, static_cast<size_t>(g.w) * 4);
        std::fill(pr + g.pw + g.w, pr + l.row_stride, 0.0f);
        continue;
      }
      // Padded column q = iw + pw goes to phase q % sw at q / sw: per phase ph, the
      // columns j with iw = ph + sw j - pw inside [0, w) are a strided gather, zeros
      // before and after (each value written once, no division per value).
      for (int64_t ph = 0; ph < g.sw; ++ph) {
        float* dst = pr + ph * l.wq;
        const int64_t j0 = std::clamp<int64_t>((g.pw - ph + g.sw - 1) / g.sw, 0, l.wq);
        const int64_t j1 = std::clamp<int64_t>((g.w + g.pw - ph + g.sw - 1) / g.sw, j0, l.wq);
        std::fill(dst, dst + j0, 0.0f);
        const float* src = xr + ph + g.sw * j0 - g.pw;
        if (g.sw == 2)
          for (int64_t j = j0; j < j1; ++j) dst[j] = src[2 * (j - j0)];
        else
          for (int64_t j = j0; j < j1; ++j) dst[j] = src[g.sw * (j - j0)];
        std::fill(dst + j1, dst + l.wq, 0.0f);
      }
    }
  return l;
}

int64_t default_l1_budget() {
  if (const char* e = std::getenv("SPARSEAD_CONV_L1_BUDGET"); e && *e) {
    char* end = nullptr;
    const long long v = std::strtoll(e, &end, 10);
    SAD_CHECK(*end == '\0' && v >= 4096 && v <= (1 << 22),
              "SPARSEAD_CONV_L1_BUDGET: expected a number of bytes from 4096 to 4194304, got '", e, "'");
    return static_cast<int64_t>(v);
  }
  const long l1 = sysconf(_SC_LEVEL1_DCACHE_SIZE);
  return l1 >= (16 << 10) && l1 <= (1 << 20) ? static_cast<int64_t>(l1) / 4 * 3 : int64_t{24 << 10};
}

std::atomic<int64_t> g_l1_budget{0};  // 0: default_l1_budget()

}  // namespace

int64_t l1_budget() {
  static const int64_t fallback = default_l1_budget();
  const int64_t b = g_l1_budget.load(std::memory_order_relaxed);
  return b > 0 ? b : fallback;
}

void set_l1_budget(int64_t bytes) { g_l1_budget.store(std::max<int64_t>(bytes, 0), std::memory_order_relaxed); }

bool applies(const Geom& g) {
  return g.sh <= 2 && g.sw <= 2 && g.wo >= 16 && g.kh * g.kw > 1 && g.kw <= kMaxKw && g.ci >= 8 && g.co <= 64;
}

std::vector<float> pack_weight(const float* w, int64_t co, int64_t ci, int64_t kh, int64_t kw) {
  const int64_t K = ci * kh * kw, cop = co_padded(co);
  std::vector<float> p(static_cast<size_t>(K * cop), 0.0f);
  for (int64_t o = 0; o < co; ++o)
    for (int64_t k = 0; k < K; ++k) p[static_cast<size_t>(k * cop + o)] = w[o * K + k];
  return p;
}

std::vector<float> pack_weight_for_input_grad(const float* w, int64_t co, int64_t ci, int64_t kh, int64_t kw) {
  // The transposed, flipped weight w'(ci, co, i, j) = w(co, ci, KH-1-i, KW-1-j), packed with
  // its rows ordered (co, i, j) and its output channels ci fastest.
  const int64_t cip = co_padded(ci);
  std::vector<float> p(static_cast<size_t>(co * kh * kw * cip), 0.0f);
  for (int64_t o = 0; o < co; ++o)
    for (int64_t i = 0; i < kh; ++i)
      for (int64_t j = 0; j < kw; ++j)
        for (int64_t c = 0; c < ci; ++c)
          p[static_cast<size_t>(((o * kh + i) * kw + j) * cip + c)] =
              w[((o * ci + c) * kh + (kh - 1 - i)) * kw + (kw - 1 - j)];
  return p;
}

bool applies_input_grad(const Geom& g) { return applies(g) && g.sh == 1 && g.sw == 1 && g.ph < g.kh && g.pw < g.kw; }

Geom input_grad_geom(const Geom& g) {
  return Geom{g.co, g.ho, g.wo, g.ci, g.kh, g.kw, g.kh - 1 - g.ph, g.kw - 1 - g.pw, g.h, g.w, 1, 1};
}

void forward_rows(const Geom& g, const float* x, const float* wpack, const float* bias, int64_t oh0, int64_t oh1,
                  float* y, Workspace& ws) {
  const PadLayout l = pad_rows(g, x, oh0, oh1, ws.pad);
  const RowFn fn = row_fn();
  Row row{};
  row.ci_stride = l.rows * l.row_stride, row.row_stride = l.row_stride;
  for (int64_t j = 0; j < g.kw; ++j) row.tap[j] = l.tap(g, j);
  row.ci = g.ci, row.kh = g.kh, row.kw = g.kw;
  row.cop = co_padded(g.co);
  row.y_cstride = g.ho * g.wo;
  // Output row, then a chunk of its columns, then the channel blocks: the values one
  // chunk reads (Ci x KH rows of about chunk + KW columns) stay in L1 for every block.
  // Whole rows did not once an image was 256 wide with 32 channels (105 KB per output
  // row), and the tiles ran at half the speed, from L2.
  const int64_t chunk =
      std::max<int64_t>(16, l1_budget() / (g.ci * g.kh * g.sw * static_cast<int64_t>(sizeof(float))) / 16 * 16);
  for (int64_t oh = oh0; oh < oh1; ++oh)
    for (int64_t c0 = 0; c0 < g.wo; c0 += chunk) {
      row.x = l.base + (oh - oh0) * g.sh * l.row_stride + c0;
      row.wo = std::min(chunk, g.wo - c0);
      for (int64_t co0 = 0; co0 < g.co; co0 += kCoBlock) {
        row.w = wpack + co0;
        row.nc = static_cast<int>(std::min(kCoBlock, g.co - co0));
        for (int c = 0; c < kCb; ++c) row.bias[c] = bias && c < row.nc ? bias[co0 + c] : 0.0f;
        row.y0 = y + co0 * g.ho * g.wo + oh * g.wo + c0;
        fn(row);
      }
    }
}

void weight_grad_rows(const Geom& g, const float* x, const float* dy, int64_t oh0, int64_t oh1, float* dw,
                      Workspace& ws) {
  const int64_t rows = oh1 - oh0;
  const PadLayout l = pad_rows(g, x, oh0, oh1, ws.pad);
  const int64_t K = g.ci * g.kh * g.kw, plane = g.ho * g.wo;
  // The rows read for channels past Co: only ever zeros, so grown, never refilled.
  if (g.co % kWc != 0 && ws.zeros.size() < static_cast<size_t>(rows * g.wo))
    ws.zeros.assign(static_cast<size_t>(rows * g.wo), 0.0f);
  const WTileFns fns = wtile_fns();
  float lanes[kWc * 3 * kLanes];
  WTile t{};
  t.x_stride = g.sh * l.row_stride, t.rows = rows, t.wo = g.wo, t.lanes = lanes;
  for (int64_t co0 = 0; co0 < g.co; co0 += kWc) {
    const int nc = static_cast<int>(std::min<int64_t>(kWc, g.co - co0));
    t.nc = nc;
    for (int c = 0; c < kWc; ++c) t.dy[c] = c < nc ? dy + (co0 + c) * plane + oh0 * g.wo : ws.zeros.data();
    for (int64_t ci = 0; ci < g.ci; ++ci)
      for (int64_t i = 0; i < g.kh; ++i)
        for (int64_t j0 = 0; j0 < g.kw; j0 += 3) {
          const int J = static_cast<int>(std::min<int64_t>(3, g.kw - j0));
          t.x = l.base + (ci * l.rows + i) * l.row_stride;
          for (int jj = 0; jj < J; ++jj) t.tap[jj] = l.tap(g, j0 + jj);
          fns.fn[J - 1](t);
          for (int c = 0; c < nc; ++c)
            for (int jj = 0; jj < J; ++jj)
              dw[(co0 + c) * K + (ci * g.kh + i) * g.kw + j0 + jj] = lane_tree(lanes + (c * J + jj) * kLanes);
        }
  }
}

}  // namespace sad::cpu::conv_direct
