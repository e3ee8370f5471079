// CPU reference for batch_norm2d: per-channel normalisation over (N, H, W), PyTorch's
// conventions (biased variance to normalise, unbiased variance in the running estimate,
// r = (1 - momentum) r + momentum * stat), so golden checks against PyTorch match.
// Statistics and gradient sums accumulate in double, over the 16 lanes of
// kernels/cpu/lane_sum.h; channels are independent, so the OpenMP loop over channels does
// not change any summation order. Each channel's loops run on the instruction-set path of
// kernels/cpu/isa.h. A fused relu or leaky ReLU (BatchNormParams::act) is applied as the
// output is written and undone as dout is read, so neither needs a pass of its own.
#include <cmath>

#include "kernels/checks.h"
#include "kernels/cpu/cpu_ops.h"
#include "kernels/cpu/isa.h"
#include "kernels/cpu/lane_sum.h"

// ---- the contract: the checks kernels/ops.h runs before either backend ----------------------

namespace sad::ops::contract {

using namespace detail;

static void check_act(const char* op, const BatchNormParams& p) {
  SAD_CHECK(p.act == BnAct::None || p.act == BnAct::Relu || p.act == BnAct::LeakyRelu, op, ": bad activation");
  SAD_CHECK(p.act != BnAct::LeakyRelu || p.alpha >= 0, op, ": a fused leaky ReLU needs a slope >= 0, got ", p.alpha);
}

const Tensor& batch_norm2d_forward(const BatchNormParams& p, const Tensor& inp, const Tensor& gamma, const Tensor& beta,
                                   Tensor& running_mean, Tensor& running_var, Tensor& out, Tensor& save_mean,
                                   Tensor& save_invstd) {
  const char* op = "batch_norm2d_forward";
  check_call(op, OpId::BatchNorm2d, "input", inp,
             {{"gamma", &gamma},
              {"beta", &beta},
              {"running_mean", &running_mean},
              {"running_var", &running_var},
              {"output", &out},
              {"save_mean", &save_mean},
              {"save_invstd", &save_invstd}});
  check_ndim(op, "input", inp, 4);
  Shape c{inp.dim(1)};
  for (auto [name, t] : {std::pair<const char*, const Tensor*>{"gamma", &gamma},
                         {"beta", &beta},
                         {"running_mean", &running_mean},
                         {"running_var", &running_var},
                         {"save_mean", &save_mean},
                         {"save_invstd", &save_invstd}})
    check_shape(op, name, *t, c);
  check_shape(op, "output", out, inp.shape());
  SAD_CHECK(!p.training || inp.dim(0) * inp.dim(2) * inp.dim(3) > 1, op,
            ": training mode needs more than one value per channel, got input ", shape_str(inp.shape()));
  check_act(op, p);
  return inp;
}

const Tensor& batch_norm2d_backward(const BatchNormParams& p, const Tensor& inp, const Tensor& gamma,
                                    const Tensor& save_mean, const Tensor& save_invstd, const Tensor* out,
                                    const Tensor& dout, Tensor* dinp, Tensor* dgamma, Tensor* dbeta) {
  const char* op = "batch_norm2d_backward";
  check_call(op, OpId::BatchNorm2d, "input", inp,
             {{"gamma", &gamma},
              {"save_mean", &save_mean},
              {"save_invstd", &save_invstd},
              {"output", out},
              {"dout", &dout},
              {"dinp", dinp},
              {"dgamma", dgamma},
              {"dbeta", dbeta}});
  check_ndim(op, "input", inp, 4);
  Shape c{inp.dim(1)};
  check_shape(op, "gamma", gamma, c);
  check_shape(op, "save_mean", save_mean, c);
  check_shape(op, "save_invstd", save_invstd, c);
  check_shape(op, "dout", dout, inp.shape());
  check_act(op, p);
  SAD_CHECK(p.act == BnAct::None || out, op, ": a fused activation needs the forward's output");
  if (out) check_shape(op, "output", *out, inp.shape());
  if (dinp) check_shape(op, "dinp", *dinp, inp.shape());
  if (dgamma) check_shape(op, "dgamma", *dgamma, c);
  if (dbeta) check_shape(op, "dbeta", *dbeta, c);
  return inp;
}

}  // namespace sad::ops::contract

namespace sad::cpu {

namespace {

// Calls f with the fused activation as a functor on the normalised value (the identity
// without one), so that each kind gets its own vector loop. The forms are those of the
// relu and leaky_relu ops (kernels/cpu/unary.cpp), so the bits are theirs.
template <typename T, typename F>
void with_act(const ops::BatchNormParams& p, F&& f) {
  const T alpha = static_cast<T>(p.alpha);
  switch (p.act) {
    case ops::BnAct::None: return f([](T v) { return v; });
    case ops::BnAct::Relu: return f([](T v) { return v > T(0) ? v : T(0); });
    case ops::BnAct::LeakyRelu: return f([alpha](T v) { return v > T(0) ? v : alpha * v; });
  }
}

// Calls f with the gradient through the fused activation, dy_pre(dy, out): dy itself without
// one, else dy where out > 0 and 0 (relu) or alpha dy (leaky) elsewhere, like the ops'
// backward.
template <typename T, typename F>
void with_act_grad(const ops::BatchNormParams& p, F&& f) {
  const T alpha = static_cast<T>(p.alpha);
  switch (p.act) {
    case ops::BnAct::None: return f([](T g, T) { return g; });
    case ops::BnAct::Relu: return f([](T g, T o) { return o > T(0) ? g : T(0); });
    case ops::BnAct::LeakyRelu: return f([alpha](T g, T o) { return o > T(0) ? g : alpha * g; });
  }
}

}  // namespace

void batch_norm2d_forward(const ops::BatchNormParams& p, const Tensor& inp, const Tensor& gamma, const Tensor& beta,
                          Tensor& running_mean, Tensor& running_var, Tensor& out, Tensor& save_mean,
                          Tensor& save_invstd) {
  const int64_t N = inp.dim(0), C = inp.dim(1), HW = inp.dim(2) * inp.dim(3);
  const int64_t M = N * HW;  // values per channel
  dispatch_float(inp.dtype(), [&]<typename T>(TypeTag<T>) {
    const T* x = inp.data<T>();  // (N, C, HW)
    const T* g = gamma.data<T>();
    const T* b = beta.data<T>();
    T* rm = running_mean.data<T>();
    T* rv = running_var.data<T>();
    T* y = out.data<T>();  // (N, C, HW)
    T* sm = save_mean.data<T>();
    T* si = save_invstd.data<T>();
    const double momentum = p.momentum, eps = p.eps;
#pragma omp parallel for schedule(static) if (N * C * HW > 32768)
    for (int64_t c = 0; c < C; ++c)
      isa_run([&] {
        double mean, var;
        if (p.training) {
          LaneSum s;
          for (int64_t n = 0; n < N; ++n) {
            const T* xr = x + (n * C + c) * HW;
            s.add(HW, [xr](int64_t i) { return static_cast<double>(xr[i]); });
          }
          mean = s.total() / static_cast<double>(M);
          // Two passes: sum (x - mean)^2 does not cancel catastrophically like E[x^2] - mean^2.
          LaneSum ss;
          for (int64_t n = 0; n < N; ++n) {
            const T* xr = x + (n * C + c) * HW;
            ss.add(HW, [xr, mean](int64_t i) {
              const double d = xr[i] - mean;
              return d * d;
            });
          }
          const double sum_sq = ss.total();
          var = sum_sq / static_cast<double>(M);  // biased: used to normalise
          const double unbiased = sum_sq / static_cast<double>(M - 1);
          rm[c] = static_cast<T>((1 - momentum) * rm[c] + momentum * mean);
          rv[c] = static_cast<T>((1 - momentum) * rv[c] + momentum * unbiased);
        } else {
          mean = rm[c];
          var = rv[c];
        }
        const double invstd = 1.0 / std::sqrt(var + eps);
        const double scale = g[c] * invstd, shift = b[c];
        with_act<T>(p, [&](auto act) {
          for (int64_t n = 0; n < N; ++n) {
            const T* xr = x + (n * C + c) * HW;
            T* yr = y + (n * C + c) * HW;
            for (int64_t i = 0; i < HW; ++i) yr[i] = act(static_cast<T>((xr[i] - mean) * scale + shift));
          }
        });
        sm[c] = static_cast<T>(mean);
        si[c] = static_cast<T>(invstd);
      });
  });
}

void batch_norm2d_backward(const ops::BatchNormParams& p, const Tensor& inp, const Tensor& gamma,
                           const Tensor& save_mean, const Tensor& save_invstd, const Tensor* out, const Tensor& dout,
                           Tensor* dinp, Tensor* dgamma, Tensor* dbeta) {
  const int64_t N = inp.dim(0), C = inp.dim(1), HW = inp.dim(2) * inp.dim(3);
  const double M = static_cast<double>(N * HW);
  dispatch_float(inp.dtype(), [&]<typename T>(TypeTag<T>) {
    const T* x = inp.data<T>();    // (N, C, HW)
    const T* dy = dout.data<T>();  // (N, C, HW)
    // Without an activation dy is passed for out: it is never read as out then.
    const T* o = p.act == ops::BnAct::None ? dy : out->data<T>();  // (N, C, HW)
    const T* g = gamma.data<T>();
    const T* sm = save_mean.data<T>();
    const T* si = save_invstd.data<T>();
    T* dx = dinp ? dinp->data<T>() : nullptr;  // (N, C, HW)
    T* dg = dgamma ? dgamma->data<T>() : nullptr;
    T* db = dbeta ? dbeta->data<T>() : nullptr;
#pragma omp parallel for schedule(static) if (N * C * HW > 32768)
    for (int64_t c = 0; c < C; ++c)
      isa_run([&] {
        with_act_grad<T>(p, [&](auto dpre) {
          const double mean = sm[c], invstd = si[c];
          // sum dy and sum dy * xhat, with xhat = (x - mean) invstd (dy: the gradient of
          // the normalised value, through the fused activation).
          LaneSum s_dy, s_dyx;
          for (int64_t n = 0; n < N; ++n) {
            const T* xr = x + (n * C + c) * HW;
            const T* dyr = dy + (n * C + c) * HW;
            const T* orow = o + (n * C + c) * HW;
            s_dy.add(HW, [=](int64_t i) { return static_cast<double>(dpre(dyr[i], orow[i])); });
            s_dyx.add(HW, [=](int64_t i) { return dpre(dyr[i], orow[i]) * ((xr[i] - mean) * invstd); });
          }
          const double sdy = s_dy.total(), sdyx = s_dyx.total();
          if (db) db[c] = static_cast<T>(sdy);
          if (dg) dg[c] = static_cast<T>(sdyx);
          if (!dx) return;
          const double scale = g[c] * invstd;
          // Training: mean and variance depend on every x of the channel, which adds
          // -mean(dy) - xhat mean(dy xhat) to dy. Eval: the statistics are constants.
          const double mdy = p.training ? sdy / M : 0.0, mdyx = p.training ? sdyx / M : 0.0;
          for (int64_t n = 0; n < N; ++n) {
            const T* xr = x + (n * C + c) * HW;
            const T* dyr = dy + (n * C + c) * HW;
            const T* orow = o + (n * C + c) * HW;
            T* dxr = dx + (n * C + c) * HW;
            for (int64_t i = 0; i < HW; ++i) {
              const double xhat = (xr[i] - mean) * invstd;
              dxr[i] = static_cast<T>(scale * (dpre(dyr[i], orow[i]) - mdy - xhat * mdyx));
            }
          }
        });
      });
  });
}

}  // namespace sad::cpu
