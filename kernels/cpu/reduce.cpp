// CPU reference for sum and mean, over the whole tensor (-> shape (1)) or over one axis
// kept with size 1, and their backward (the upstream gradient broadcast back).
//
// Accumulation is in double. The whole-tensor sum adds fixed-size chunks in parallel and
// then the chunk sums in order: the chunking does not depend on the thread count, so
// neither does the result.
#include <algorithm>
#include <vector>

#include "kernels/checks.h"
#include "kernels/cpu/cpu_ops.h"

// ---- the contract: the checks kernels/ops.h runs before either backend ----------------------

namespace sad::ops {

Shape reduce_shape(const ReduceParams& p, const Shape& in) {
  if (p.axis < 0) return {1};
  SAD_CHECK(p.axis < static_cast<int>(in.size()), "reduce: axis ", p.axis, " out of range for ", shape_str(in));
  Shape out = in;
  out[static_cast<size_t>(p.axis)] = 1;
  return out;
}

namespace contract {

using namespace detail;

const Tensor& reduce_forward(const ReduceParams& p, const Tensor& inp, Tensor& out) {
  const char* op = "reduce_forward";
  check_call(op, OpId::Reduce, "input", inp, {{"output", &out}});
  SAD_CHECK(inp.numel() > 0 || p.kind == ReduceKind::Sum, op, ": mean of an empty tensor");
  check_shape(op, "output", out, reduce_shape(p, inp.shape()));
  return inp;
}

const Tensor& reduce_backward(const ReduceParams& p, const Tensor& dout, Tensor& dinp) {
  const char* op = "reduce_backward";
  check_call(op, OpId::Reduce, "dout", dout, {{"dinp", &dinp}});
  check_shape(op, "dout", dout, reduce_shape(p, dinp.shape()));
  return dout;
}

}  // namespace contract
}  // namespace sad::ops

namespace sad::cpu {

namespace {

constexpr int64_t kChunk = 8192;  // elements per partial sum of a whole-tensor reduction

// (outer, axis, inner) view of a contiguous tensor of shape s around `axis`.
void outer_len_inner(const Shape& s, int axis, int64_t& outer, int64_t& len, int64_t& inner) {
  outer = 1;
  inner = 1;
  for (int d = 0; d < axis; ++d) outer *= s[static_cast<size_t>(d)];
  len = s[static_cast<size_t>(axis)];
  for (size_t d = static_cast<size_t>(axis) + 1; d < s.size(); ++d) inner *= s[d];
}

}  // namespace

void reduce_forward(const ops::ReduceParams& p, const Tensor& inp, Tensor& out) {
  dispatch_float(inp.dtype(), [&]<typename T>(TypeTag<T>) {
    const T* x = inp.data<T>();
    T* y = out.data<T>();
    const bool mean = p.kind == ops::ReduceKind::Mean;
    if (p.axis < 0) {
      const int64_t n = inp.numel();
      const int64_t chunks = (n + kChunk - 1) / kChunk;
      std::vector<double> partial(static_cast<size_t>(chunks), 0.0);
#pragma omp parallel for schedule(static) if (chunks > 1)
      for (int64_t c = 0; c < chunks; ++c) {
        double acc = 0.0;
        const int64_t end = std::min(n, (c + 1) * kChunk);
        for (int64_t i = c * kChunk; i < end; ++i) acc += static_cast<double>(x[i]);
        partial[static_cast<size_t>(c)] = acc;
      }
      double total = 0.0;
      for (double s : partial) total += s;
      y[0] = static_cast<T>(mean ? total / static_cast<double>(n) : total);
      return;
    }
    int64_t outer, len, inner;
    outer_len_inner(inp.shape(), p.axis, outer, len, inner);
    const int64_t m = outer * inner;
#pragma omp parallel for schedule(static) if (inp.numel() > 32768)
    for (int64_t j = 0; j < m; ++j) {
      const int64_t o = j / inner, i = j % inner;
      const T* xp = x + o * len * inner + i;
      double acc = 0.0;
      for (int64_t a = 0; a < len; ++a) acc += static_cast<double>(xp[a * inner]);
      y[j] = static_cast<T>(mean ? acc / static_cast<double>(len) : acc);
    }
  });
}

void reduce_backward(const ops::ReduceParams& p, const Tensor& dout, Tensor& dinp) {
  dispatch_float(dout.dtype(), [&]<typename T>(TypeTag<T>) {
    const T* dy = dout.data<T>();
    T* dx = dinp.data<T>();
    const bool mean = p.kind == ops::ReduceKind::Mean;
    const int64_t n = dinp.numel();
    if (p.axis < 0) {
      const T g = static_cast<T>(mean ? static_cast<double>(dy[0]) / static_cast<double>(n) : dy[0]);
#pragma omp parallel for schedule(static) if (n > 65536)
      for (int64_t i = 0; i < n; ++i) dx[i] = g;
      return;
    }
    int64_t outer, len, inner;
    outer_len_inner(dinp.shape(), p.axis, outer, len, inner);
    const double scale = mean ? 1.0 / static_cast<double>(len) : 1.0;
#pragma omp parallel for schedule(static) if (n > 65536)
    for (int64_t k = 0; k < n; ++k) {
      const int64_t i = k % inner, o = k / (len * inner);
      dx[k] = static_cast<T>(static_cast<double>(dy[o * inner + i]) * scale);
    }
  });
}

}  // namespace sad::cpu
