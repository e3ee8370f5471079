// CUDA conv2d through cuDNN's convolution API (the legacy cudnnConvolution* calls, still
// part of cuDNN 9): forward, backward-data and backward-filter; the bias gradient is our
// own deterministic per-channel sum.
//
// Algorithms are chosen once per shape (a plan cached by shape, stride, padding and the
// fast-math flag) from cuDNN's heuristics (cudnnGet*Algorithm_v7: no trial runs, so the
// choice itself is deterministic too). By default only algorithms that cuDNN reports as
// DETERMINISTIC are used, with CUDNN_FMA_MATH (plain fp32: no TF32 tensor cores; note
// that CUDNN_DEFAULT_MATH would allow TF32 on Ampere and later). With fast_math() the
// heuristics' first choice is taken whatever its determinism, with CUDNN_DEFAULT_MATH.
// Workspaces come from the shared pool (workspace()), capped at kMaxWorkspace.
#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <vector>

#include "kernels/cuda/channel_sum.cuh"
#include "kernels/cuda/cuda_common.cuh"
#include "kernels/cuda/cuda_ops.h"

namespace sad::cuda {

namespace {

constexpr size_t kMaxWorkspace = size_t{1} << 30;  // 1 GiB: far above what these shapes need

// (N, Ci, H, W, Co, KH, KW, stride_h, stride_w, pad_h, pad_w, fast_math)
using PlanKey = std::array<int64_t, 12>;

template <typename Algo>
struct AlgoChoice {
  bool ready = false;
  Algo algo{};
  size_t workspace = 0;
};

struct ConvPlan {
  cudnnTensorDescriptor_t x = nullptr, y = nullptr, bias = nullptr;
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;
  bool fast = false;
  AlgoChoice<cudnnConvolutionFwdAlgo_t> fwd;
  AlgoChoice<cudnnConvolutionBwdDataAlgo_t> bwd_data;
  AlgoChoice<cudnnConvolutionBwdFilterAlgo_t> bwd_filter;
};

void set_nchw(cudnnTensorDescriptor_t d, int64_t n, int64_t c, int64_t h, int64_t w) {
  SAD_CUDNN_CHECK(cudnnSetTensor4dDescriptor(d, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, checked_int(n, "N"),
                                             checked_int(c, "C"), checked_int(h, "H"), checked_int(w, "W")));
}

// Plans live for the whole process (a network has a handful of conv shapes); like the
// handles they are never destroyed.
ConvPlan& plan_for(const ops::Conv2dParams& p, const Tensor& inp, const Tensor& weight) {
  static auto* plans = new std::map<PlanKey, ConvPlan>;
  const bool fast = fast_math();
  const int64_t N = inp.dim(0), Ci = inp.dim(1), H = inp.dim(2), W = inp.dim(3);
  const int64_t Co = weight.dim(0), KH = weight.dim(2), KW = weight.dim(3);
  PlanKey key{N, Ci, H, W, Co, KH, KW, p.stride_h, p.stride_w, p.pad_h, p.pad_w, fast ? 1 : 0};
  auto it = plans->find(key);
  if (it != plans->end()) return it->second;

  ConvPlan plan;
  plan.fast = fast;
  SAD_CUDNN_CHECK(cudnnCreateTensorDescriptor(&plan.x));
  SAD_CUDNN_CHECK(cudnnCreateTensorDescriptor(&plan.y));
  SAD_CUDNN_CHECK(cudnnCreateTensorDescriptor(&plan.bias));
  SAD_CUDNN_CHECK(cudnnCreateFilterDescriptor(&plan.w));
  SAD_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&plan.conv));
  set_nchw(plan.x, N, Ci, H, W);
  set_nchw(plan.y, N, Co, ops::conv2d_out_size(H, KH, p.stride_h, p.pad_h),
           ops::conv2d_out_size(W, KW, p.stride_w, p.pad_w));
  set_nchw(plan.bias, 1, Co, 1, 1);
  SAD_CUDNN_CHECK(cudnnSetFilter4dDescriptor(plan.w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, checked_int(Co, "Co"),
                                             checked_int(Ci, "Ci"), checked_int(KH, "KH"), checked_int(KW, "KW")));
  // Cross-correlation (no kernel flip): what deep-learning "convolution" means, and
  // what the CPU reference computes.
  SAD_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(plan.conv, p.pad_h, p.pad_w, p.stride_h, p.stride_w, 1, 1,
                                                  CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
  SAD_CUDNN_CHECK(cudnnSetConvolutionMathType(plan.conv, fast ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH));
  return plans->emplace(key, plan).first->second;
}

// SPARSEAD_CUDNN_VERBOSE=1: one stderr line per algorithm choice (once per shape), to
// see on a GPU machine what runs.
void report_choice(const char* what, int algo, size_t workspace, bool fast, bool fallback) {
  static const bool verbose = [] {
    const char* v = std::getenv("SPARSEAD_CUDNN_VERBOSE");
    return v && std::strcmp(v, "1") == 0;
  }();
  if (verbose)
    std::fprintf(stderr, "sparsead: cudnn %s algorithm %d%s, workspace %zu B, %s\n", what, algo,
                 fallback ? " (fallback)" : "", workspace, fast ? "fast math" : "deterministic fp32");
}

// Picks the first of cuDNN's ranked candidates that succeeded, fits the workspace cap,
// is deterministic unless fast, does not require tensor-core math unless fast, and whose
// workspace query with our descriptor (and its math type) succeeds. `fallback` is an
// implicit-GEMM algorithm: deterministic, fp32 FMA, little or no workspace.
template <typename Perf, typename Algo, typename WorkspaceQuery>
AlgoChoice<Algo> choose(const std::vector<Perf>& perf, bool fast, Algo fallback, WorkspaceQuery query,
                        const char* what) {
  for (const Perf& r : perf) {
    if (r.status != CUDNN_STATUS_SUCCESS || r.memory > kMaxWorkspace) continue;
    if (!fast && (r.determinism != CUDNN_DETERMINISTIC || r.mathType == CUDNN_TENSOR_OP_MATH ||
                  r.mathType == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION))
      continue;
    size_t ws = 0;
    if (query(r.algo, &ws) != CUDNN_STATUS_SUCCESS || ws > kMaxWorkspace) continue;
    report_choice(what, static_cast<int>(r.algo), ws, fast, false);
    return {true, r.algo, ws};
  }
  size_t ws = 0;
  cudnnStatus_t st = query(fallback, &ws);
  SAD_CHECK(st == CUDNN_STATUS_SUCCESS, "cudnn: no usable ", what, " algorithm for this convolution (",
            cudnnGetErrorString(st), ")");
  report_choice(what, static_cast<int>(fallback), ws, fast, true);
  return {true, fallback, ws};
}

void ensure_forward(ConvPlan& pl) {
  if (pl.fwd.ready) return;
  cudnnHandle_t h = cudnn_handle();
  std::vector<cudnnConvolutionFwdAlgoPerf_t> perf(CUDNN_CONVOLUTION_FWD_ALGO_COUNT);
  int n = 0;
  SAD_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(h, pl.x, pl.w, pl.conv, pl.y, static_cast<int>(perf.size()),
                                                         &n, perf.data()));
  perf.resize(static_cast<size_t>(n));
  pl.fwd = choose(
      perf, pl.fast, CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM,
      [&](cudnnConvolutionFwdAlgo_t a, size_t* ws) {
        return cudnnGetConvolutionForwardWorkspaceSize(h, pl.x, pl.w, pl.conv, pl.y, a, ws);
      },
      "forward");
}

void ensure_backward_data(ConvPlan& pl) {
  if (pl.bwd_data.ready) return;
  cudnnHandle_t h = cudnn_handle();
  std::vector<cudnnConvolutionBwdDataAlgoPerf_t> perf(CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT);
  int n = 0;
  SAD_CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(h, pl.w, pl.y, pl.conv, pl.x,
                                                              static_cast<int>(perf.size()), &n, perf.data()));
  perf.resize(static_cast<size_t>(n));
  pl.bwd_data = choose(
      perf, pl.fast, CUDNN_CONVOLUTION_BWD_DATA_ALGO_1,
      [&](cudnnConvolutionBwdDataAlgo_t a, size_t* ws) {
        return cudnnGetConvolutionBackwardDataWorkspaceSize(h, pl.w, pl.y, pl.conv, pl.x, a, ws);
      },
      "backward-data");
}

void ensure_backward_filter(ConvPlan& pl) {
  if (pl.bwd_filter.ready) return;
  cudnnHandle_t h = cudnn_handle();
  std::vector<cudnnConvolutionBwdFilterAlgoPerf_t> perf(CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT);
  int n = 0;
  SAD_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, pl.x, pl.y, pl.conv, pl.w,
                                                                static_cast<int>(perf.size()), &n, perf.data()));
  perf.resize(static_cast<size_t>(n));
  pl.bwd_filter = choose(
      perf, pl.fast, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1,
      [&](cudnnConvolutionBwdFilterAlgo_t a, size_t* ws) {
        return cudnnGetConvolutionBackwardFilterWorkspaceSize(h, pl.x, pl.y, pl.conv, pl.w, a, ws);
      },
      "backward-filter");
}

void zero(Tensor* t) {
  if (t && t->numel() > 0) SAD_CUDA_CHECK(cudaMemsetAsync(device_ptr(*t), 0, t->nbytes(), stream()));
}

// N, Ci or Co of zero: cuDNN rejects empty descriptors, and the answer is plain: the
// output is the bias (or zero), every gradient is zero.
bool degenerate(const Tensor& inp, const Tensor& weight) {
  return inp.dim(0) == 0 || inp.dim(1) == 0 || weight.dim(0) == 0;
}

}  // namespace

void conv2d_forward(const ops::Conv2dParams& p, const Tensor& inp, const Tensor& weight, const Tensor* bias,
                    Tensor& out) {
  const float one = 1.0f, zero_f = 0.0f;
  if (degenerate(inp, weight)) {
    zero(&out);
    if (bias && out.numel() > 0) {
      cudnnTensorDescriptor_t bd = nullptr, yd = nullptr;
      SAD_CUDNN_CHECK(cudnnCreateTensorDescriptor(&bd));
      SAD_CUDNN_CHECK(cudnnCreateTensorDescriptor(&yd));
      set_nchw(bd, 1, out.dim(1), 1, 1);
      set_nchw(yd, out.dim(0), out.dim(1), out.dim(2), out.dim(3));
      cudnnStatus_t st = cudnnAddTensor(cudnn_handle(), &one, bd, device_ptr(*bias), &one, yd, device_ptr(out));
      cudnnDestroyTensorDescriptor(bd);
      cudnnDestroyTensorDescriptor(yd);
      SAD_CUDNN_CHECK(st);
    }
    return;
  }
  ConvPlan& pl = plan_for(p, inp, weight);
  ensure_forward(pl);
  cudnnHandle_t h = cudnn_handle();
  SAD_CUDNN_CHECK(cudnnConvolutionForward(h, &one, pl.x, device_ptr(inp), pl.w, device_ptr(weight), pl.conv,
                                          pl.fwd.algo, workspace(pl.fwd.workspace), pl.fwd.workspace, &zero_f, pl.y,
                                          device_ptr(out)));
  if (bias) SAD_CUDNN_CHECK(cudnnAddTensor(h, &one, pl.bias, device_ptr(*bias), &one, pl.y, device_ptr(out)));
}

void conv2d_backward(const ops::Conv2dParams& p, const Tensor& inp, const Tensor& weight, const Tensor& dout,
                     Tensor* dinp, Tensor* dweight, Tensor* dbias) {
  const float one = 1.0f, zero_f = 0.0f;
  if (dbias) {
    const int64_t N = dout.dim(0), Co = dout.dim(1), HW = dout.dim(2) * dout.dim(3);
    if (Co > 0) {
      // dbias[c] = sum over (n, i) of dy[n, c, i]: deterministic per-channel sums, several
      // blocks per channel (channel_sum.cuh), rounded to float once.
      channel_sums({.kind = ChannelSumKind::Dy,
                    .dy = device_ptr(dout),
                    .C = Co,
                    .HW = HW,
                    .M = N * HW,
                    .out_f = device_ptr(*dbias)});
    }
  }
  if (degenerate(inp, weight)) {
    zero(dinp);
    zero(dweight);
    return;
  }
  ConvPlan& pl = plan_for(p, inp, weight);
  cudnnHandle_t h = cudnn_handle();
  if (dinp) {
    ensure_backward_data(pl);
    SAD_CUDNN_CHECK(cudnnConvolutionBackwardData(h, &one, pl.w, device_ptr(weight), pl.y, device_ptr(dout), pl.conv,
                                                 pl.bwd_data.algo, workspace(pl.bwd_data.workspace),
                                                 pl.bwd_data.workspace, &zero_f, pl.x, device_ptr(*dinp)));
  }
  if (dweight) {
    ensure_backward_filter(pl);
    SAD_CUDNN_CHECK(cudnnConvolutionBackwardFilter(h, &one, pl.x, device_ptr(inp), pl.y, device_ptr(dout), pl.conv,
                                                   pl.bwd_filter.algo, workspace(pl.bwd_filter.workspace),
                                                   pl.bwd_filter.workspace, &zero_f, pl.w, device_ptr(*dweight)));
  }
}

}  // namespace sad::cuda
