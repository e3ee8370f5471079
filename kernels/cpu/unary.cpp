// CPU reference for the unary element-wise ops (relu, leaky_relu, sigmoid, tanh, abs,
// affine, softplus) and their backward.
//
// One loop per kind, the kind chosen once outside it: with the switch inside the
// per-element loop GCC vectorised nothing, and these ops run after nearly every
// convolution (docs/BENCHMARKS.md, "Where the time goes"). Relu, leaky ReLU, abs and
// affine then compile to SIMD selects and multiplies (branch-free: with random signs a
// branch per element mispredicts half the time; the selects need -fno-trapping-math, see
// CMakeLists.txt). Sigmoid, tanh and softplus in float use kernels/cpu/vmath.h, which
// vectorises too (libm's calls kept them scalar); in double they stay libm's.
// `out` may be `inp` (in-place use in model/losses.cpp), so no restrict pointers: GCC
// checks for overlap at run time and takes the vector loop when there is none.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "kernels/checks.h"
#include "kernels/cpu/cpu_ops.h"
#include "kernels/cpu/isa.h"
#include "kernels/cpu/vmath.h"

// ---- the contract: the checks kernels/ops.h runs before either backend ----------------------

namespace sad::ops {

const char* unary_name(UnaryKind k) {
  static constexpr const char* names[] = {"relu", "leaky_relu", "sigmoid", "tanh", "abs", "affine", "softplus"};
  static_assert(sizeof(names) / sizeof(names[0]) == static_cast<size_t>(UnaryKind::Count));
  return names[static_cast<int>(k)];
}

namespace contract {

using namespace detail;

const Tensor& unary_forward(const UnaryParams& p, const Tensor& inp, Tensor& out) {
  const char* op = "unary_forward";
  check_call(op, OpId::Unary, "input", inp, {{"output", &out}});
  SAD_CHECK(p.kind < UnaryKind::Count, op, ": bad kind");
  check_shape(unary_name(p.kind), "output", out, inp.shape());
  return inp;
}

const Tensor& unary_backward(const UnaryParams& p, const Tensor& inp, const Tensor& out, const Tensor& dout,
                             Tensor& dinp) {
  const char* op = "unary_backward";
  check_call(op, OpId::Unary, "input", inp, {{"output", &out}, {"dout", &dout}, {"dinp", &dinp}});
  SAD_CHECK(p.kind < UnaryKind::Count, op, ": bad kind");
  for (const Tensor* t : {&out, &dout, static_cast<const Tensor*>(&dinp)})
    check_shape(unary_name(p.kind), "gradient/output", *t, inp.shape());
  return inp;
}

}  // namespace contract
}  // namespace sad::ops

namespace sad::cpu {

namespace {

// float: the vectorisable forms of kernels/cpu/vmath.h; double (the gradient checks'
// precision): libm, with two branches so that exp never overflows.
template <typename T>
T sigmoid(T x) {
  if constexpr (std::is_same_v<T, float>) {
    return vm::sigmoid(x);
  } else {
    if (x >= T(0)) return T(1) / (T(1) + std::exp(-x));
    T e = std::exp(x);
    return e / (T(1) + e);
  }
}
template <typename T>
T tanh_of(T x) {
  if constexpr (std::is_same_v<T, float>)
    return vm::tanh(x);
  else
    return std::tanh(x);
}
template <typename T>
T softplus(T x) {
  if constexpr (std::is_same_v<T, float>)
    return vm::softplus(x);
  else
    return std::max(x, T(0)) + std::log1p(std::exp(-std::abs(x)));
}

constexpr int64_t kParallelMin = 32768;  // below this, one thread: the fork costs more

// Splits [0, n) into one contiguous range per thread (one range below kParallelMin) and
// runs body(lo, hi) on each, on the instruction-set path of kernels/cpu/isa.h: inside the
// parallel region, so that the loop itself is compiled for that path.
template <typename B>
void for_ranges(int64_t n, const B& body) {
  if (n <= kParallelMin) {
    isa_run([&] { body(int64_t{0}, n); });
    return;
  }
#pragma omp parallel
  {
    const int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
    const int64_t lo = n * t / nt, hi = n * (t + 1) / nt;
    isa_run([&] { body(lo, hi); });
  }
}

// y[i] = f(x[i]). Each range works on its own copy of the functor and of the pointers, so
// the captures (alpha) are locals that the stores to y cannot alias; shared, they were
// reloaded each element and the loop stayed scalar.
template <typename T, typename F>
void map1(const T* x, T* y, int64_t n, F f) {
  for_ranges(n, [=](int64_t lo, int64_t hi) {
    const F g = f;
    const T* xs = x;  // may equal y (in place): no restrict
    T* ys = y;
    for (int64_t i = lo; i < hi; ++i) ys[i] = g(xs[i]);
  });
}

// map1 for the float transcendentals (tens of operations per element): steps of one cache
// line, each asking for the line 4 KiB ahead (kernels/cpu/isa.h's prefetch_ahead), which
// the hardware prefetcher does not do in time for a loop this slow per byte.
template <typename T, typename F>
void map1_heavy(const T* x, T* y, int64_t n, F f) {
  if constexpr (!std::is_same_v<T, float>) {
    map1(x, y, n, f);
  } else {
    for_ranges(n, [=](int64_t lo, int64_t hi) {
      const F g = f;
      const float* xs = x;
      float* ys = y;
      for_lines_prefetched(
          lo, hi, [=](int64_t k) { ys[k] = g(xs[k]); }, xs);
    });
  }
}

// dx[i] = g(x[i], y[i], dy[i])
template <typename T, typename G>
void map3(const T* x, const T* y, const T* dy, T* dx, int64_t n, G g) {
  for_ranges(n, [=](int64_t lo, int64_t hi) {
    const G h = g;
    const T *xs = x, *ys = y, *dys = dy;
    T* dxs = dx;
    for (int64_t i = lo; i < hi; ++i) dxs[i] = h(xs[i], ys[i], dys[i]);
  });
}

template <typename T>
void forward_typed(const ops::UnaryParams& p, const T* x, T* y, int64_t n) {
  const T alpha = static_cast<T>(p.alpha), beta = static_cast<T>(p.beta);
  switch (p.kind) {
    case ops::UnaryKind::Relu: return map1(x, y, n, [](T v) { return v > T(0) ? v : T(0); });
    case ops::UnaryKind::LeakyRelu: return map1(x, y, n, [alpha](T v) { return v > T(0) ? v : alpha * v; });
    case ops::UnaryKind::Sigmoid: return map1_heavy(x, y, n, [](T v) { return sigmoid(v); });
    case ops::UnaryKind::Tanh: return map1_heavy(x, y, n, [](T v) { return tanh_of(v); });
    case ops::UnaryKind::Abs: return map1(x, y, n, [](T v) { return std::abs(v); });
    case ops::UnaryKind::Affine: return map1(x, y, n, [alpha, beta](T v) { return alpha * v + beta; });
    case ops::UnaryKind::Softplus: return map1_heavy(x, y, n, [](T v) { return softplus(v); });
    case ops::UnaryKind::Count: break;
  }
  SAD_FAIL("unary_forward: unknown kind");
}

// dx = dy * d out / d in, from the input x, the output y and dy. Where the slope is 0 or
// +-1 the gradient is selected, not multiplied (dy where x > 0, else 0, like PyTorch's
// threshold_backward): the same values except that a NaN dy where the slope is 0 gives 0.
template <typename T>
void backward_typed(const ops::UnaryParams& p, const T* x, const T* y, const T* dy, T* dx, int64_t n) {
  const T alpha = static_cast<T>(p.alpha);
  switch (p.kind) {
    case ops::UnaryKind::Relu: return map3(x, y, dy, dx, n, [](T v, T, T g) { return v > T(0) ? g : T(0); });
    case ops::UnaryKind::LeakyRelu:
      return map3(x, y, dy, dx, n, [alpha](T v, T, T g) { return v > T(0) ? g : alpha * g; });
    case ops::UnaryKind::Sigmoid: return map3(x, y, dy, dx, n, [](T, T o, T g) { return g * (o * (T(1) - o)); });
    case ops::UnaryKind::Tanh: return map3(x, y, dy, dx, n, [](T, T o, T g) { return g * (T(1) - o * o); });
    case ops::UnaryKind::Abs:
      return map3(x, y, dy, dx, n, [](T v, T, T g) { return v > T(0) ? g : (v < T(0) ? -g : T(0)); });
    case ops::UnaryKind::Affine: return map3(x, y, dy, dx, n, [alpha](T, T, T g) { return g * alpha; });
    case ops::UnaryKind::Softplus: return map3(x, y, dy, dx, n, [](T v, T, T g) { return g * sigmoid(v); });
    case ops::UnaryKind::Count: break;
  }
  SAD_FAIL("unary_backward: unknown kind");
}

}  // namespace

void unary_forward(const ops::UnaryParams& p, const Tensor& inp, Tensor& out) {
  dispatch_float(inp.dtype(),
                 [&]<typename T>(TypeTag<T>) { forward_typed<T>(p, inp.data<T>(), out.data<T>(), inp.numel()); });
}

void unary_backward(const ops::UnaryParams& p, const Tensor& inp, const Tensor& out, const Tensor& dout, Tensor& dinp) {
  dispatch_float(inp.dtype(), [&]<typename T>(TypeTag<T>) {
    backward_typed<T>(p, inp.data<T>(), out.data<T>(), dout.data<T>(), dinp.data<T>(), inp.numel());
  });
}

}  // namespace sad::cpu
