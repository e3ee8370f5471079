// A float32 convolution without lowering (issue "CPU speed", item 1): register tiles of
// 8 output channels x one vector of output columns, accumulated tap by tap straight from a
// zero-padded copy of the input rows (split into column phases for stride 2). Private to kernels/cpu/conv2d.cpp.
//
// Why: im2col writes K = Ci*KH*KW copies of the input, and OpenBLAS then packs that
// column matrix again; at the model's narrow layers (16-48 channels) the two copies cost
// as much as the multiply-adds, and those layers ran at 35-40 GFLOP/s. Tiles that read
// the input in place run them at 2-2.5x that (docs/BENCHMARKS.md).
//
// Every output value is bias + sum over (ci, kh, kw), in that order, one fused
// multiply-add per tap (std::fma on the portable path, which rounds the same way as the
// vector FMAs), so the AVX-512, AVX2 and portable paths give the same bits, and the
// result does not depend on how rows are split between threads.
#pragma once

#include <cstdint>
#include <vector>

namespace sad::cpu::conv_direct {

constexpr int64_t kCoBlock = 8;  // output channels per register tile

struct Geom {
  int64_t ci, h, w;    // input (one image)
  int64_t co, kh, kw;  // weight
  int64_t ph, pw;      // zero padding
  int64_t ho, wo;      // output
  int64_t sh, sw;      // stride, 1 or 2
};

// Whether the direct path runs this convolution's forward and weight gradient in float32.
// A decision on the shapes only, the same on every instruction-set path:
// - strides 1 or 2, an output at least 16 columns wide, a kernel at most 16 wide;
// - a kernel larger than 1x1 (a 1x1 convolution is a GEMM on the input itself, with
//   nothing to lower, and OpenBLAS runs it faster);
// - at least 8 input channels (below that, as for the 3-channel image layers, the padded
//   copy and the per-tap overhead outweigh the lowering);
// - at most 64 output channels (wider layers are where OpenBLAS's packing pays for itself:
//   at S256w32 the 256-channel layers ran 1.2-1.6x slower on tiles).
bool applies(const Geom& g);

// Bytes of input one chunk of the forward may read: three quarters of the core's L1 data
// cache (24 KiB of AMD Zen's 32, 36 KiB of a recent Intel core's 48), 24 KiB where the size
// is unknown; SPARSEAD_CONV_L1_BUDGET (bytes) overrides it, for tuning. A chunk only splits
// the columns of an output row, so the values are the same bits for every budget (a test
// checks it). set_l1_budget: tests and benchmarks (0: back to the default).
int64_t l1_budget();
void set_l1_budget(int64_t bytes);

// The weight (Co, Ci, KH, KW) packed as (Ci*KH*KW, CoP), output channel fastest, CoP = Co
// rounded up to kCoBlock, zeros in the padding.
std::vector<float> pack_weight(const float* w, int64_t co, int64_t ci, int64_t kh, int64_t kw);

// For the input gradient of a stride-1 convolution, which is the stride-1 convolution
// of dout with the weight transposed (Ci <-> Co) and flipped (kh, kw reversed), at
// padding KH-1-ph, KW-1-pw: that weight, packed as pack_weight packs, and its geometry.
std::vector<float> pack_weight_for_input_grad(const float* w, int64_t co, int64_t ci, int64_t kh, int64_t kw);
Geom input_grad_geom(const Geom& g);  // requires ph <= KH-1 and pw <= KW-1

// The input gradient takes this path at stride 1 only (at stride 2 it is not a
// convolution), with ph <= KH - 1 and pw <= KW - 1.
bool applies_input_grad(const Geom& g);

// Per-thread buffers of forward_rows and weight_grad_rows.
struct Workspace {
  std::vector<float> pad, zeros;
};

// Output rows [oh0, oh1) of one image: y (Co, Ho, Wo) = bias + conv(x (Ci, H, W)), bias
// may be null. Overwrites those rows.
void forward_rows(const Geom& g, const float* x, const float* wpack, const float* bias, int64_t oh0, int64_t oh1,
                  float* y, Workspace& ws);

// The weight gradient's share of output rows [oh0, oh1) of one image: dw (Co, Ci*KH*KW) =
// sum over those rows' pixels of dy(co, pixel) times the input each tap reads there.
// Overwrites dw. Each sum runs in 16 lanes added in a fixed tree (conv2d_direct.cpp).
void weight_grad_rows(const Geom& g, const float* x, const float* dy, int64_t oh0, int64_t oh1, float* dw,
                      Workspace& ws);

}  // namespace sad::cpu::conv_direct
