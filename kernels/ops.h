// The op interface: one typed params struct and one entry point per op (forward and
// backward). Entry points validate shapes, dtypes and devices once (SAD_CHECK), then
// call the CPU reference (kernels/cpu) or the CUDA version (kernels/cuda) of the op.
// Nothing above kernels/ knows which device runs.
//
// Conventions
// - Every tensor is contiguous NCHW. Outputs are allocated by the caller with the
//   right shape, dtype and device; all tensors of one call share dtype and device.
// - Backward entry points OVERWRITE their gradient outputs (never accumulate); an
//   optional gradient output is a pointer that may be null ("not needed").
// - Losses reduce to a one-element tensor of shape (1); their backward takes the
//   upstream gradient as a one-element tensor `dloss` of shape (1), which lives on the
//   device, so a training step never waits on the host.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>

#include "tensor/tensor.h"

namespace sad::ops {

// ---- The op list, written once (ggml-style): every op has an id and a name; ---------------
// ---- supports_op answers "not supported" instead of crashing. ------------------------------
// tests/op_table.cpp must give every op its cases (a test fails otherwise).
#define SAD_OP_LIST(X)                   \
  X(Conv2d, "conv2d")                    \
  X(Gemm, "gemm")                        \
  X(BatchNorm2d, "batch_norm2d")         \
  X(Unary, "unary")                      \
  X(Binary, "binary")                    \
  X(Concat, "concat")                    \
  X(Split, "split")                      \
  X(UpsampleNearest, "upsample_nearest") \
  X(ResizeBilinear, "resize_bilinear")   \
  X(AvgPool2d, "avg_pool2d")             \
  X(Reduce, "reduce")                    \
  X(PointwiseLoss, "pointwise_loss")     \
  X(BceWithLogits, "bce_with_logits")    \
  X(Ssim, "ssim")                        \
  X(FocalLoss, "focal_loss")             \
  X(Fusion, "fusion")                    \
  X(KlSparsity, "kl_sparsity")           \
  X(Adam, "adam")                        \
  X(Axpy, "axpy")                        \
  X(Fill, "fill")                        \
  X(FlagNonfinite, "flag_nonfinite")     \
  X(ScaleByInverse, "scale_by_inverse")

enum class OpId : int {
#define SAD_OP_ID(id, name) id,
  SAD_OP_LIST(SAD_OP_ID)
#undef SAD_OP_ID
      Count
};
inline constexpr const char* kOpNames[] = {
#define SAD_OP_NAME(id, name) name,
    SAD_OP_LIST(SAD_OP_NAME)
#undef SAD_OP_NAME
};
static_assert(sizeof(kOpNames) / sizeof(kOpNames[0]) == static_cast<size_t>(OpId::Count),
              "kOpNames must name every OpId");
inline const char* op_name(OpId id) { return kOpNames[static_cast<int>(id)]; }

// Whether `device` can run `op` on `dtype` in this build (CUDA: float32 only, and only
// when the backend was built and a GPU is present).
bool supports_op(OpId op, Device device, DType dtype);

// ---- Entry points ----------------------------------------------------------------------
// Each op's section lists its entry points once, as SAD_<OP>_ENTRIES(X) with
// X(name, (parameters), (arguments)), and expands the list with SAD_DECLARE_ENTRY into:
// - ops::name, the entry point: it runs contract::name, then the CPU or the CUDA version
//   (kernels/dispatch.cpp, generated from the list);
// - contract::name, the op's checks of shapes, dtypes and devices, which returns the tensor
//   whose device runs the op (written beside the CPU reference, kernels/cpu/<op>.cpp).
// Comments inside a list are /* */: a // comment would swallow the line continuation.
#define SAD_DECLARE_ENTRY(name, params, args) \
  void name params;                           \
  namespace contract {                        \
  const Tensor& name params;                  \
  }

// ---- conv2d -------------------------------------------------------------------------
struct Conv2dParams {
  int stride_h = 1, stride_w = 1;
  int pad_h = 0, pad_w = 0;
};
// Output spatial size of a convolution: (in + 2 pad - k) / stride + 1.
int64_t conv2d_out_size(int64_t in, int64_t k, int stride, int pad);
#define SAD_CONV2D_ENTRIES(X)                                                                                   \
  X(conv2d_forward,                                                                                             \
    (const Conv2dParams& p, const Tensor& inp /* (N, Ci, H, W) */, const Tensor& weight /* (Co, Ci, KH, KW) */, \
     const Tensor* bias /* (Co) or null */, Tensor& out /* (N, Co, Ho, Wo) */),                                 \
    (p, inp, weight, bias, out))                                                                                \
  X(conv2d_backward,                                                                                            \
    (const Conv2dParams& p, const Tensor& inp, const Tensor& weight, const Tensor& dout /* (N, Co, Ho, Wo) */,  \
     Tensor* dinp /* like inp, or null */, Tensor* dweight /* like weight, or null */,                          \
     Tensor* dbias /* (Co) or null */),                                                                         \
    (p, inp, weight, dout, dinp, dweight, dbias))
SAD_CONV2D_ENTRIES(SAD_DECLARE_ENTRY)

// ---- gemm: C = alpha * op(A) @ op(B) + beta * C --------------------------------------
struct GemmParams {
  bool trans_a = false, trans_b = false;
  float alpha = 1.0f, beta = 0.0f;
};
#define SAD_GEMM_ENTRIES(X)                                                         \
  X(gemm,                                                                           \
    (const GemmParams& p, const Tensor& a /* (M, K), or (K, M) when trans_a */,     \
     const Tensor& b /* (K, N), or (N, K) when trans_b */, Tensor& c /* (M, N) */), \
    (p, a, b, c))
SAD_GEMM_ENTRIES(SAD_DECLARE_ENTRY)

// ---- batch_norm2d ----------------------------------------------------------------------
// Training: normalise with the batch statistics, write them (mean, 1/sqrt(var + eps),
// biased var) to save_mean/save_invstd for backward, and update the running statistics
// in place with the unbiased variance: r = (1 - momentum) r + momentum * stat
// (PyTorch's convention). Eval: normalise with the running statistics; save_* are
// filled with them so that backward works in both modes.
// An activation fused onto the output (issue "CPU speed", item 2): out = act(normalised),
// in one pass instead of two, and without the normalised tensor kept for backward. Backward
// reads the fused output `out` for act's slope (out > 0 exactly where its input was, for
// alpha >= 0) and is given dout for the activated output. The values are the same bits as
// batch_norm2d followed by the relu or leaky_relu op.
enum class BnAct : int { None, Relu, LeakyRelu };
struct BatchNormParams {
  bool training = true;
  float momentum = 0.1f;
  float eps = 1e-5f;
  BnAct act = BnAct::None;
  float alpha = 0.0f;  // LeakyRelu's slope for negative inputs, >= 0
};
// Shapes: inp, out, dout, dinp (N, C, H, W); every other tensor (C); running_* are updated
// in training; a null gradient output is not computed. Backward's `out` (the forward's
// output) is read only with an activation, and may be null without one.
#define SAD_BATCH_NORM2D_ENTRIES(X)                                                                                  \
  X(batch_norm2d_forward,                                                                                            \
    (const BatchNormParams& p, const Tensor& inp, const Tensor& gamma, const Tensor& beta, Tensor& running_mean,     \
     Tensor& running_var, Tensor& out, Tensor& save_mean, Tensor& save_invstd),                                      \
    (p, inp, gamma, beta, running_mean, running_var, out, save_mean, save_invstd))                                   \
  X(batch_norm2d_backward,                                                                                           \
    (const BatchNormParams& p, const Tensor& inp, const Tensor& gamma, const Tensor& save_mean,                      \
     const Tensor& save_invstd, const Tensor* out, const Tensor& dout, Tensor* dinp, Tensor* dgamma, Tensor* dbeta), \
    (p, inp, gamma, save_mean, save_invstd, out, dout, dinp, dgamma, dbeta))
SAD_BATCH_NORM2D_ENTRIES(SAD_DECLARE_ENTRY)

// ---- unary element-wise ---------------------------------------------------------------
enum class UnaryKind : int {
  Relu,       // max(x, 0)
  LeakyRelu,  // x > 0 ? x : alpha x
  Sigmoid,
  Tanh,
  Abs,       // backward: sign(x), 0 at 0
  Affine,    // alpha x + beta
  Softplus,  // log(1 + e^x), stable
  Count
};
const char* unary_name(UnaryKind k);
struct UnaryParams {
  UnaryKind kind = UnaryKind::Relu;
  float alpha = 0.0f;  // LeakyRelu slope, Affine scale
  float beta = 0.0f;   // Affine shift
};
// out may alias inp (in-place); shapes are equal. Backward gets both the input and the
// forward output (sigmoid and tanh use the output).
#define SAD_UNARY_ENTRIES(X)                                                                                        \
  X(unary_forward, (const UnaryParams& p, const Tensor& inp, Tensor& out), (p, inp, out))                           \
  X(unary_backward, (const UnaryParams& p, const Tensor& inp, const Tensor& out, const Tensor& dout, Tensor& dinp), \
    (p, inp, out, dout, dinp))
SAD_UNARY_ENTRIES(SAD_DECLARE_ENTRY)

// ---- binary element-wise with broadcasting ----------------------------------------------
// NumPy broadcasting over at most 4 dimensions: shapes are right-aligned and a
// dimension of size 1 (or a missing one) broadcasts.
enum class BinaryKind : int { Add, Sub, Mul, Count };
const char* binary_name(BinaryKind k);
struct BinaryParams {
  BinaryKind kind = BinaryKind::Add;
};
Shape broadcast_shape(const Shape& a, const Shape& b);  // throws naming both shapes
// Helpers the backends share for broadcasting: a shape right-aligned into 4 dimensions
// (missing leading ones are 1), and its row-major strides with 0 where it is broadcast
// against `out`.
using Dims4 = std::array<int64_t, 4>;
Dims4 pad_to_4d(const Shape& s);
Dims4 broadcast_strides(const Dims4& d, const Dims4& out);
// da/db have the shapes of a/b: the gradient is summed over broadcast dimensions.
#define SAD_BINARY_ENTRIES(X)                                                                               \
  X(binary_forward, (const BinaryParams& p, const Tensor& a, const Tensor& b, Tensor& out), (p, a, b, out)) \
  X(binary_backward,                                                                                        \
    (const BinaryParams& p, const Tensor& a, const Tensor& b, const Tensor& dout, Tensor* da, Tensor* db),  \
    (p, a, b, dout, da, db))
SAD_BINARY_ENTRIES(SAD_DECLARE_ENTRY)

// ---- concat / split along one axis ------------------------------------------------------
struct ConcatParams {
  int axis = 1;  // 0: batch, 1: channels; any axis works
};
// split is the inverse of concat: the outputs' sizes along the axis say where to cut.
#define SAD_CONCAT_ENTRIES(X)                                                                       \
  X(concat, (const ConcatParams& p, std::span<const Tensor> inputs, Tensor& out), (p, inputs, out)) \
  X(split, (const ConcatParams& p, const Tensor& inp, std::span<Tensor> outputs), (p, inp, outputs))
SAD_CONCAT_ENTRIES(SAD_DECLARE_ENTRY)

// ---- nearest upsampling by an integer factor ---------------------------------------------
struct UpsampleParams {
  int scale = 2;
};
#define SAD_UPSAMPLE_NEAREST_ENTRIES(X)                                                                                \
  X(upsample_nearest_forward, (const UpsampleParams& p, const Tensor& inp /*(N,C,H,W)*/, Tensor& out /*(N,C,sH,sW)*/), \
    (p, inp, out))                                                                                                     \
  X(upsample_nearest_backward,                                                                                         \
    (const UpsampleParams& p, const Tensor& dout /*(N,C,sH,sW)*/, Tensor& dinp /*(N,C,H,W)*/), (p, dout, dinp))
SAD_UPSAMPLE_NEAREST_ENTRIES(SAD_DECLARE_ENTRY)

// ---- bilinear resize (PyTorch's align_corners=False, no antialias) ----------------------
struct ResizeParams {
  bool align_corners = false;
};
#define SAD_RESIZE_BILINEAR_ENTRIES(X)                                                                                 \
  X(resize_bilinear_forward, (const ResizeParams& p, const Tensor& inp /*(N,C,H,W)*/, Tensor& out /*(N,C,Ho,Wo)*/),    \
    (p, inp, out))                                                                                                     \
  X(resize_bilinear_backward, (const ResizeParams& p, const Tensor& dout /*(N,C,Ho,Wo)*/, Tensor& dinp /*(N,C,H,W)*/), \
    (p, dout, dinp))
SAD_RESIZE_BILINEAR_ENTRIES(SAD_DECLARE_ENTRY)

// ---- average pooling (box filter) ---------------------------------------------------------
// count_include_pad = false averages only the window's pixels inside the image (the
// image score's border rule in METHOD.md).
struct AvgPoolParams {
  int kernel = 3;
  int stride = 1;
  int pad = 1;
  bool count_include_pad = false;
};
#define SAD_AVG_POOL2D_ENTRIES(X)                                                                                  \
  X(avg_pool2d_forward, (const AvgPoolParams& p, const Tensor& inp /*(N,C,H,W)*/, Tensor& out /*(N,C,Ho,Wo)*/),    \
    (p, inp, out))                                                                                                 \
  X(avg_pool2d_backward, (const AvgPoolParams& p, const Tensor& dout /*(N,C,Ho,Wo)*/, Tensor& dinp /*(N,C,H,W)*/), \
    (p, dout, dinp))
SAD_AVG_POOL2D_ENTRIES(SAD_DECLARE_ENTRY)

// ---- reductions ---------------------------------------------------------------------------
// axis < 0: reduce everything to shape (1). axis >= 0: reduce that axis, keeping it with
// size 1 (e.g. mean over channels: (N,C,H,W) -> (N,1,H,W)). Accumulates in double.
enum class ReduceKind : int { Sum, Mean };
struct ReduceParams {
  ReduceKind kind = ReduceKind::Sum;
  int axis = -1;
};
Shape reduce_shape(const ReduceParams& p, const Shape& in);
// Backward broadcasts dout back over the reduced elements.
#define SAD_REDUCE_ENTRIES(X)                                                               \
  X(reduce_forward, (const ReduceParams& p, const Tensor& inp, Tensor& out), (p, inp, out)) \
  X(reduce_backward, (const ReduceParams& p, const Tensor& dout, Tensor& dinp), (p, dout, dinp))
SAD_REDUCE_ENTRIES(SAD_DECLARE_ENTRY)

// ---- MSE and L1 (mean over all elements) --------------------------------------------------
enum class PointwiseLossKind : int { Mse, L1 };
struct PointwiseLossParams {
  PointwiseLossKind kind = PointwiseLossKind::Mse;
};
#define SAD_POINTWISE_LOSS_ENTRIES(X)                                                                               \
  X(pointwise_loss_forward, (const PointwiseLossParams& p, const Tensor& a, const Tensor& b, Tensor& loss /*(1)*/), \
    (p, a, b, loss))                                                                                                \
  X(pointwise_loss_backward,                                                                                        \
    (const PointwiseLossParams& p, const Tensor& a, const Tensor& b, const Tensor& dloss /*(1)*/, Tensor* da,       \
     Tensor* db),                                                                                                   \
    (p, a, b, dloss, da, db))
SAD_POINTWISE_LOSS_ENTRIES(SAD_DECLARE_ENTRY)

// ---- BCE with logits (mean), targets in [0, 1], stable log-sum-exp form -----------------
#define SAD_BCE_WITH_LOGITS_ENTRIES(X)                                                           \
  X(bce_with_logits_forward, (const Tensor& logits, const Tensor& target, Tensor& loss /*(1)*/), \
    (logits, target, loss))                                                                      \
  X(bce_with_logits_backward,                                                                    \
    (const Tensor& logits, const Tensor& target, const Tensor& dloss /*(1)*/, Tensor& dlogits),  \
    (logits, target, dloss, dlogits))
SAD_BCE_WITH_LOGITS_ENTRIES(SAD_DECLARE_ENTRY)

// ---- SSIM map ---------------------------------------------------------------------------
// Gaussian window (window, sigma), per channel, C1 = (k1 L)^2, C2 = (k2 L)^2.
// same_size = true: zero padding window/2 (the residual map of METHOD.md, output H x W);
// false: valid positions only (output (H-window+1) x (W-window+1)).
struct SsimParams {
  int window = 11;
  float sigma = 1.5f;
  float k1 = 0.01f, k2 = 0.03f;
  float data_range = 2.0f;  // L: images live in [-1, 1]
  bool same_size = true;
};
Shape ssim_map_shape(const SsimParams& p, const Shape& in);
// Normalised 1-D Gaussian taps g[0 .. window), g[t] proportional to exp(-d^2 / (2 sigma^2))
// with d = t - window/2, summing to 1 (in double). The one tap builder: the SSIM window on
// both devices (its 2-D window is the outer product g g^T) and the anomaly-map blur.
std::vector<double> gaussian_taps(int window, double sigma);
#define SAD_SSIM_ENTRIES(X)                                                                                           \
  X(ssim_forward,                                                                                                     \
    (const SsimParams& p, const Tensor& x /*(N,C,H,W)*/, const Tensor& y /*(N,C,H,W)*/, Tensor& map /*(N,C,Ho,Wo)*/), \
    (p, x, y, map))                                                                                                   \
  X(ssim_backward,                                                                                                    \
    (const SsimParams& p, const Tensor& x, const Tensor& y, const Tensor& dmap, Tensor* dx, Tensor* dy),              \
    (p, x, y, dmap, dx, dy))
SAD_SSIM_ENTRIES(SAD_DECLARE_ENTRY)

// ---- binary focal loss on logits (mean) -------------------------------------------------
// FL = -[t (1-p)^gamma log p + (1-t) p^gamma log(1-p)], p = sigmoid(logit); with
// alpha >= 0 the positive term is weighted alpha and the negative 1 - alpha.
struct FocalParams {
  float gamma = 2.0f;
  float alpha = -1.0f;  // < 0: no class weighting
};
#define SAD_FOCAL_LOSS_ENTRIES(X)                                                                                 \
  X(focal_loss_forward, (const FocalParams& p, const Tensor& logits, const Tensor& target, Tensor& loss /*(1)*/), \
    (p, logits, target, loss))                                                                                    \
  X(focal_loss_backward,                                                                                          \
    (const FocalParams& p, const Tensor& logits, const Tensor& target, const Tensor& dloss, Tensor& dlogits),     \
    (p, logits, target, dloss, dlogits))
SAD_FOCAL_LOSS_ENTRIES(SAD_DECLARE_ENTRY)

// ---- fusion: out = [a, b, |a - b|] along channels ---------------------------------------
// d|a-b|/da = sign(a - b), 0 where a == b.
#define SAD_FUSION_ENTRIES(X)                                                                                       \
  X(fusion_forward, (const Tensor& a /*(N,C,H,W)*/, const Tensor& b /*(N,C,H,W)*/, Tensor& out /*(N,3C,H,W)*/),     \
    (a, b, out))                                                                                                    \
  X(fusion_backward, (const Tensor& a, const Tensor& b, const Tensor& dout /*(N,3C,H,W)*/, Tensor* da, Tensor* db), \
    (a, b, dout, da, db))
SAD_FUSION_ENTRIES(SAD_DECLARE_ENTRY)

// ---- kl_sparsity: the sparsity-prior loss L_S of METHOD.md, on logits ---------------------
// weak_labels = true:  L = mean_b [ y_b (beta_kl KL(rho||rho^_b) + lambda_fit mean_ij (1-M) r)
//                                   + (1 - y_b) mean_ij -log(1 - M) ]
// weak_labels = false: L = mean_bij (1-M) r + beta_kl KL(rho || mean_bij M)
// with M = sigmoid(l), rho^ clamped to [1e-6, 1 - 1e-6] (zero gradient where clamped).
struct KlSparsityParams {
  float rho = 0.03f;
  float beta_kl = 1.0f;
  float lambda_fit = 1.0f;
  bool weak_labels = true;
};
// stats: per-image diagnostics (B, 4) = [rho^_b, KL_b, fit_b, neg_b]; with
// weak_labels = false every row holds the batch-level rho^ and KL and the image's fit.
// Shapes: logits, residual (no gradient) and dlogits (B, 1, H, W); labels (B), weak labels in
// {0, 1}; loss and dloss (1); stats (B, 4), written by forward and read by backward.
#define SAD_KL_SPARSITY_ENTRIES(X)                                                                                \
  X(kl_sparsity_forward,                                                                                          \
    (const KlSparsityParams& p, const Tensor& logits, const Tensor& residual, const Tensor& labels, Tensor& loss, \
     Tensor& stats),                                                                                              \
    (p, logits, residual, labels, loss, stats))                                                                   \
  X(kl_sparsity_backward,                                                                                         \
    (const KlSparsityParams& p, const Tensor& logits, const Tensor& residual, const Tensor& labels,               \
     const Tensor& stats, const Tensor& dloss, Tensor& dlogits),                                                  \
    (p, logits, residual, labels, stats, dloss, dlogits))
SAD_KL_SPARSITY_ENTRIES(SAD_DECLARE_ENTRY)

// ---- Adam over one flat arena (in place) --------------------------------------------------
// m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
// param -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)   (PyTorch's Adam)
// The hyper-parameters are double, like PyTorch's Python floats: 1 - beta2 from a float
// 0.999f would be 0.00099998713, 1.3e-5 off the 0.001 the user asked for.
struct AdamParams {
  double lr = 1e-3;
  double beta1 = 0.9, beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;  // L2 added to the gradient, PyTorch's Adam convention
  int64_t step = 1;           // t, 1-based, for bias correction
};
// param, grad, m and v have one shape. skip: undefined, or a one-element tensor on param's
// device (flag_nonfinite's flag): when it holds a non-zero value the step changes nothing.
// The device reads it, so a guarded step never waits on the host.
#define SAD_ADAM_ENTRIES(X)                                                                                        \
  X(adam_step, (const AdamParams& p, Tensor& param, const Tensor& grad, Tensor& m, Tensor& v, const Tensor& skip), \
    (p, param, grad, m, v, skip))
SAD_ADAM_ENTRIES(SAD_DECLARE_ENTRY)

// ---- small utilities ------------------------------------------------------------------
// axpy: y += alpha x (same shapes); fill: every element of t = value; flag_nonfinite:
// flag (one element, x's device and dtype) = 1 when any element of x is NaN or infinite,
// else left as it was (a sticky flag: it is never cleared here).
#define SAD_FILL_ENTRIES(X)                                         \
  X(axpy, (float alpha, const Tensor& x, Tensor& y), (alpha, x, y)) \
  X(fill, (Tensor & t, float value), (t, value))                    \
  X(flag_nonfinite, (const Tensor& x, Tensor& flag), (x, flag))
SAD_FILL_ENTRIES(SAD_DECLARE_ENTRY)

// scale_by_inverse: out = x * s with s = 1 / (d + eps) for the one element d of `denom`,
// computed in double and rounded to x's dtype once: a normalisation by a statistic the
// device computed, without the host reading it. x and out may be the same tensor.
#define SAD_SCALE_BY_INVERSE_ENTRIES(X) \
  X(scale_by_inverse, (const Tensor& x, const Tensor& denom, double eps, Tensor& out), (x, denom, eps, out))
SAD_SCALE_BY_INVERSE_ENTRIES(SAD_DECLARE_ENTRY)

// A new tensor filled with value by the fill op: on a GPU one kernel, where Tensor::full
// would copy a host buffer and wait for the device.
inline Tensor full(const Shape& shape, float value, DType dtype, Device device) {
  Tensor t = Tensor::empty(shape, dtype, device);
  fill(t, value);
  return t;
}

// ---- Every entry point, for the code generated from them: the backends' declarations ------
// ---- (kernels/cpu/cpu_ops.h, kernels/cuda/cuda_ops.h) and the entry points themselves -----
// ---- (kernels/dispatch.cpp). A new op's SAD_<OP>_ENTRIES goes here too. --------------------
#define SAD_OP_ENTRIES(X)         \
  SAD_CONV2D_ENTRIES(X)           \
  SAD_GEMM_ENTRIES(X)             \
  SAD_BATCH_NORM2D_ENTRIES(X)     \
  SAD_UNARY_ENTRIES(X)            \
  SAD_BINARY_ENTRIES(X)           \
  SAD_CONCAT_ENTRIES(X)           \
  SAD_UPSAMPLE_NEAREST_ENTRIES(X) \
  SAD_RESIZE_BILINEAR_ENTRIES(X)  \
  SAD_AVG_POOL2D_ENTRIES(X)       \
  SAD_REDUCE_ENTRIES(X)           \
  SAD_POINTWISE_LOSS_ENTRIES(X)   \
  SAD_BCE_WITH_LOGITS_ENTRIES(X)  \
  SAD_SSIM_ENTRIES(X)             \
  SAD_FOCAL_LOSS_ENTRIES(X)       \
  SAD_FUSION_ENTRIES(X)           \
  SAD_KL_SPARSITY_ENTRIES(X)      \
  SAD_ADAM_ENTRIES(X)             \
  SAD_FILL_ENTRIES(X)             \
  SAD_SCALE_BY_INVERSE_ENTRIES(X)

// A backend's version of an entry point: the same name and parameters, in its namespace
// (sad::cpu, sad::cuda), trusting its inputs.
#define SAD_DECLARE_BACKEND_ENTRY(name, params, args) void name params;

}  // namespace sad::ops
