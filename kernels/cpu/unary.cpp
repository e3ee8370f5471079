// CPU reference for the unary element-wise ops (relu, leaky_relu, sigmoid, tanh, abs,
// affine, softplus) and their backward.
#include <cmath>

#include "kernels/cpu/cpu_ops.h"

namespace sad::cpu {

namespace {

template <typename T>
T unary_value(const ops::UnaryParams& p, T x) {
  switch (p.kind) {
    case ops::UnaryKind::Relu: return x > T(0) ? x : T(0);
    case ops::UnaryKind::LeakyRelu: return x > T(0) ? x : T(p.alpha) * x;
    case ops::UnaryKind::Sigmoid:
      // Two branches so that exp never overflows.
      if (x >= T(0)) return T(1) / (T(1) + std::exp(-x));
      else {
        T e = std::exp(x);
        return e / (T(1) + e);
      }
    case ops::UnaryKind::Tanh: return std::tanh(x);
    case ops::UnaryKind::Abs: return std::abs(x);
    case ops::UnaryKind::Affine: return T(p.alpha) * x + T(p.beta);
    case ops::UnaryKind::Softplus: return std::max(x, T(0)) + std::log1p(std::exp(-std::abs(x)));
    case ops::UnaryKind::Count: break;
  }
  return T(0);
}

// d out / d in, from the input x and the output y.
template <typename T>
T unary_derivative(const ops::UnaryParams& p, T x, T y) {
  switch (p.kind) {
    case ops::UnaryKind::Relu: return x > T(0) ? T(1) : T(0);
    case ops::UnaryKind::LeakyRelu: return x > T(0) ? T(1) : T(p.alpha);
    case ops::UnaryKind::Sigmoid: return y * (T(1) - y);
    case ops::UnaryKind::Tanh: return T(1) - y * y;
    case ops::UnaryKind::Abs: return x > T(0) ? T(1) : (x < T(0) ? T(-1) : T(0));
    case ops::UnaryKind::Affine: return T(p.alpha);
    case ops::UnaryKind::Softplus: return unary_value<T>({ops::UnaryKind::Sigmoid}, x);
    case ops::UnaryKind::Count: break;
  }
  return T(0);
}

}  // namespace

void unary_forward(const ops::UnaryParams& p, const Tensor& inp, Tensor& out) {
  dispatch_float(inp.dtype(), [&]<typename T>(TypeTag<T>) {
    const T* x = inp.data<T>();
    T* y = out.data<T>();
    int64_t n = inp.numel();
#pragma omp parallel for schedule(static) if (n > 32768)
    for (int64_t i = 0; i < n; ++i) y[i] = unary_value<T>(p, x[i]);
  });
}

void unary_backward(const ops::UnaryParams& p, const Tensor& inp, const Tensor& out, const Tensor& dout,
                    Tensor& dinp) {
  dispatch_float(inp.dtype(), [&]<typename T>(TypeTag<T>) {
    const T* x = inp.data<T>();
    const T* y = out.data<T>();
    const T* dy = dout.data<T>();
    T* dx = dinp.data<T>();
    int64_t n = inp.numel();
#pragma omp parallel for schedule(static) if (n > 32768)
    for (int64_t i = 0; i < n; ++i) dx[i] = dy[i] * unary_derivative<T>(p, x[i], y[i]);
  });
}

}  // namespace sad::cpu
