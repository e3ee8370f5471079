// Entry points of kernels/ops.h: validate once, then run the op on the tensors' device.
// Every shape rule of every op lives here or in dispatch_method.cpp (the losses, the method's
// own ops, the optimiser), so the CPU and CUDA versions can trust their inputs.
#include <algorithm>
#include <string>

#include "kernels/dispatch_util.h"

namespace sad::ops {

using namespace detail;

bool supports_op(OpId op, Device device, DType dtype) {
  if (op == OpId::Count) return false;
  if (device.is_cpu()) return true;
#if SPARSEAD_HAVE_CUDA_OPS
  return dtype == DType::F32 && device_api_registered(DeviceType::CUDA);
#else
  return false;
#endif
}

// ---- conv2d -----------------------------------------------------------------------------

int64_t conv2d_out_size(int64_t in, int64_t k, int stride, int pad) {
  SAD_CHECK(stride >= 1 && pad >= 0, "conv2d: stride ", stride, " / padding ", pad, " invalid");
  int64_t span = in + 2 * pad - k;
  SAD_CHECK(span >= 0, "conv2d: kernel ", k, " larger than padded input ", in, " + 2*", pad);
  return span / stride + 1;
}

static Shape conv2d_expected_out(const char* op, const Conv2dParams& p, const Tensor& inp, const Tensor& weight) {
  check_ndim(op, "input", inp, 4);
  check_ndim(op, "weight", weight, 4);
  SAD_CHECK(inp.dim(1) == weight.dim(1), op, ": input ", shape_str(inp.shape()), " has ", inp.dim(1),
            " channels but weight ", shape_str(weight.shape()), " expects ", weight.dim(1));
  return {inp.dim(0), weight.dim(0), conv2d_out_size(inp.dim(2), weight.dim(2), p.stride_h, p.pad_h),
          conv2d_out_size(inp.dim(3), weight.dim(3), p.stride_w, p.pad_w)};
}

void conv2d_forward(const Conv2dParams& p, const Tensor& inp, const Tensor& weight, const Tensor* bias, Tensor& out) {
  const char* op = "conv2d_forward";
  check_defined(op, "input", inp);
  check_alike(op, inp, {{"weight", &weight}, {"bias", bias}, {"output", &out}});
  check_supported(OpId::Conv2d, inp);
  check_shape(op, "output", out, conv2d_expected_out(op, p, inp, weight));
  if (bias) check_shape(op, "bias", *bias, {weight.dim(0)});
  SAD_RUN(inp, conv2d_forward, p, inp, weight, bias, out);
}

void conv2d_backward(const Conv2dParams& p, const Tensor& inp, const Tensor& weight, const Tensor& dout, Tensor* dinp,
                     Tensor* dweight, Tensor* dbias) {
  const char* op = "conv2d_backward";
  check_defined(op, "input", inp);
  check_alike(op, inp, {{"weight", &weight}, {"dout", &dout}, {"dinp", dinp}, {"dweight", dweight}, {"dbias", dbias}});
  check_supported(OpId::Conv2d, inp);
  check_shape(op, "dout", dout, conv2d_expected_out(op, p, inp, weight));
  if (dinp) check_shape(op, "dinp", *dinp, inp.shape());
  if (dweight) check_shape(op, "dweight", *dweight, weight.shape());
  if (dbias) check_shape(op, "dbias", *dbias, {weight.dim(0)});
  SAD_RUN(inp, conv2d_backward, p, inp, weight, dout, dinp, dweight, dbias);
}

// ---- gemm -----------------------------------------------------------------------------------

void gemm(const GemmParams& p, const Tensor& a, const Tensor& b, Tensor& c) {
  const char* op = "gemm";
  check_defined(op, "A", a);
  check_alike(op, a, {{"B", &b}, {"C", &c}});
  check_supported(OpId::Gemm, a);
  check_ndim(op, "A", a, 2);
  check_ndim(op, "B", b, 2);
  check_ndim(op, "C", c, 2);
  int64_t m = p.trans_a ? a.dim(1) : a.dim(0), ka = p.trans_a ? a.dim(0) : a.dim(1);
  int64_t kb = p.trans_b ? b.dim(1) : b.dim(0), n = p.trans_b ? b.dim(0) : b.dim(1);
  SAD_CHECK(ka == kb, op, ": inner dimensions differ: A ", shape_str(a.shape()), (p.trans_a ? "^T" : ""), " @ B ",
            shape_str(b.shape()), (p.trans_b ? "^T" : ""));
  check_shape(op, "C", c, {m, n});
  SAD_RUN(a, gemm, p, a, b, c);
}

// ---- batch_norm2d -----------------------------------------------------------------------------

void batch_norm2d_forward(const BatchNormParams& p, const Tensor& inp, const Tensor& gamma, const Tensor& beta,
                          Tensor& running_mean, Tensor& running_var, Tensor& out, Tensor& save_mean,
                          Tensor& save_invstd) {
  const char* op = "batch_norm2d_forward";
  check_defined(op, "input", inp);
  check_alike(op, inp,
              {{"gamma", &gamma},
               {"beta", &beta},
               {"running_mean", &running_mean},
               {"running_var", &running_var},
               {"output", &out},
               {"save_mean", &save_mean},
               {"save_invstd", &save_invstd}});
  check_supported(OpId::BatchNorm2d, inp);
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
  SAD_RUN(inp, batch_norm2d_forward, p, inp, gamma, beta, running_mean, running_var, out, save_mean, save_invstd);
}

void batch_norm2d_backward(const BatchNormParams& p, const Tensor& inp, const Tensor& gamma, const Tensor& save_mean,
                           const Tensor& save_invstd, const Tensor& dout, Tensor* dinp, Tensor* dgamma, Tensor* dbeta) {
  const char* op = "batch_norm2d_backward";
  check_defined(op, "input", inp);
  check_alike(op, inp,
              {{"gamma", &gamma},
               {"save_mean", &save_mean},
               {"save_invstd", &save_invstd},
               {"dout", &dout},
               {"dinp", dinp},
               {"dgamma", dgamma},
               {"dbeta", dbeta}});
  check_supported(OpId::BatchNorm2d, inp);
  check_ndim(op, "input", inp, 4);
  Shape c{inp.dim(1)};
  check_shape(op, "gamma", gamma, c);
  check_shape(op, "save_mean", save_mean, c);
  check_shape(op, "save_invstd", save_invstd, c);
  check_shape(op, "dout", dout, inp.shape());
  if (dinp) check_shape(op, "dinp", *dinp, inp.shape());
  if (dgamma) check_shape(op, "dgamma", *dgamma, c);
  if (dbeta) check_shape(op, "dbeta", *dbeta, c);
  SAD_RUN(inp, batch_norm2d_backward, p, inp, gamma, save_mean, save_invstd, dout, dinp, dgamma, dbeta);
}

// ---- unary ------------------------------------------------------------------------------------

const char* unary_name(UnaryKind k) {
  static constexpr const char* names[] = {"relu", "leaky_relu", "sigmoid", "tanh", "abs", "affine", "softplus"};
  static_assert(sizeof(names) / sizeof(names[0]) == static_cast<size_t>(UnaryKind::Count));
  return names[static_cast<int>(k)];
}

void unary_forward(const UnaryParams& p, const Tensor& inp, Tensor& out) {
  const char* op = "unary_forward";
  check_defined(op, "input", inp);
  check_alike(op, inp, {{"output", &out}});
  check_supported(OpId::Unary, inp);
  SAD_CHECK(p.kind < UnaryKind::Count, op, ": bad kind");
  check_shape(unary_name(p.kind), "output", out, inp.shape());
  SAD_RUN(inp, unary_forward, p, inp, out);
}

void unary_backward(const UnaryParams& p, const Tensor& inp, const Tensor& out, const Tensor& dout, Tensor& dinp) {
  const char* op = "unary_backward";
  check_defined(op, "input", inp);
  check_alike(op, inp, {{"output", &out}, {"dout", &dout}, {"dinp", &dinp}});
  check_supported(OpId::Unary, inp);
  SAD_CHECK(p.kind < UnaryKind::Count, op, ": bad kind");
  for (const Tensor* t : {&out, &dout, static_cast<const Tensor*>(&dinp)})
    check_shape(unary_name(p.kind), "gradient/output", *t, inp.shape());
  SAD_RUN(inp, unary_backward, p, inp, out, dout, dinp);
}

// ---- binary -----------------------------------------------------------------------------------

const char* binary_name(BinaryKind k) {
  static constexpr const char* names[] = {"add", "sub", "mul"};
  static_assert(sizeof(names) / sizeof(names[0]) == static_cast<size_t>(BinaryKind::Count));
  return names[static_cast<int>(k)];
}

Shape broadcast_shape(const Shape& a, const Shape& b) {
  SAD_CHECK(a.size() <= 4 && b.size() <= 4, "broadcast: at most 4 dimensions, got ", shape_str(a), " and ",
            shape_str(b));
  size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    SAD_CHECK(da == db || da == 1 || db == 1, "shapes ", shape_str(a), " and ", shape_str(b),
              " cannot be broadcast together");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

Dims4 pad_to_4d(const Shape& s) {
  SAD_CHECK(s.size() <= 4, "broadcast: at most 4 dimensions, got ", shape_str(s));
  Dims4 d{1, 1, 1, 1};
  const size_t off = 4 - s.size();
  for (size_t i = 0; i < s.size(); ++i) d[off + i] = s[i];
  return d;
}

Dims4 broadcast_strides(const Dims4& d, const Dims4& out) {
  Dims4 st{};
  int64_t s = 1;
  for (int i = 3; i >= 0; --i) {
    st[static_cast<size_t>(i)] = (d[static_cast<size_t>(i)] == 1 && out[static_cast<size_t>(i)] != 1) ? 0 : s;
    s *= d[static_cast<size_t>(i)];
  }
  return st;
}

void binary_forward(const BinaryParams& p, const Tensor& a, const Tensor& b, Tensor& out) {
  const char* op = binary_name(p.kind);
  check_defined(op, "a", a);
  check_alike(op, a, {{"b", &b}, {"output", &out}});
  check_supported(OpId::Binary, a);
  check_shape(op, "output", out, broadcast_shape(a.shape(), b.shape()));
  SAD_RUN(a, binary_forward, p, a, b, out);
}

void binary_backward(const BinaryParams& p, const Tensor& a, const Tensor& b, const Tensor& dout, Tensor* da,
                     Tensor* db) {
  const char* op = binary_name(p.kind);
  check_defined(op, "a", a);
  check_alike(op, a, {{"b", &b}, {"dout", &dout}, {"da", da}, {"db", db}});
  check_supported(OpId::Binary, a);
  check_shape(op, "dout", dout, broadcast_shape(a.shape(), b.shape()));
  if (da) check_shape(op, "da", *da, a.shape());
  if (db) check_shape(op, "db", *db, b.shape());
  SAD_RUN(a, binary_backward, p, a, b, dout, da, db);
}

// ---- concat / split -----------------------------------------------------------------------------

static void check_concat_shapes(const char* op, const ConcatParams& p, std::span<const Tensor> parts,
                                const Tensor& whole) {
  SAD_CHECK(!parts.empty(), op, ": no tensors");
  int nd = whole.ndim();
  SAD_CHECK(p.axis >= 0 && p.axis < nd, op, ": axis ", p.axis, " out of range for ", shape_str(whole.shape()));
  int64_t total = 0;
  for (const Tensor& t : parts) {
    check_alike(op, whole, {{"part", &t}});
    SAD_CHECK(t.ndim() == nd, op, ": part ", shape_str(t.shape()), " vs whole ", shape_str(whole.shape()));
    for (int d = 0; d < nd; ++d)
      if (d != p.axis)
        SAD_CHECK(t.dim(d) == whole.dim(d), op, ": part ", shape_str(t.shape()), " does not match ",
                  shape_str(whole.shape()), " outside axis ", p.axis);
    total += t.dim(p.axis);
  }
  SAD_CHECK(total == whole.dim(p.axis), op, ": parts add up to ", total, " along axis ", p.axis, ", whole has ",
            whole.dim(p.axis));
}

void concat(const ConcatParams& p, std::span<const Tensor> inputs, Tensor& out) {
  check_defined("concat", "output", out);
  check_supported(OpId::Concat, out);
  check_concat_shapes("concat", p, inputs, out);
  SAD_RUN(out, concat, p, inputs, out);
}

void split(const ConcatParams& p, const Tensor& inp, std::span<Tensor> outputs) {
  check_defined("split", "input", inp);
  check_supported(OpId::Split, inp);
  check_concat_shapes("split", p, std::span<const Tensor>(outputs.data(), outputs.size()), inp);
  SAD_RUN(inp, split, p, inp, outputs);
}

// ---- upsample / resize / pool -------------------------------------------------------------------

static void check_nchw_pair(const char* op, const Tensor& small_or_in, const Tensor& other) {
  check_ndim(op, "input", small_or_in, 4);
  check_ndim(op, "output", other, 4);
  SAD_CHECK(small_or_in.dim(0) == other.dim(0) && small_or_in.dim(1) == other.dim(1), op, ": ",
            shape_str(small_or_in.shape()), " and ", shape_str(other.shape()), " differ in N or C");
}

static Shape upsample_out(const char* op, const UpsampleParams& p, const Tensor& inp) {
  SAD_CHECK(p.scale >= 1, op, ": scale ", p.scale);
  check_ndim(op, "input", inp, 4);
  return {inp.dim(0), inp.dim(1), inp.dim(2) * p.scale, inp.dim(3) * p.scale};
}

void upsample_nearest_forward(const UpsampleParams& p, const Tensor& inp, Tensor& out) {
  const char* op = "upsample_nearest_forward";
  check_defined(op, "input", inp);
  check_alike(op, inp, {{"output", &out}});
  check_supported(OpId::UpsampleNearest, inp);
  check_shape(op, "output", out, upsample_out(op, p, inp));
  SAD_RUN(inp, upsample_nearest_forward, p, inp, out);
}

void upsample_nearest_backward(const UpsampleParams& p, const Tensor& dout, Tensor& dinp) {
  const char* op = "upsample_nearest_backward";
  check_defined(op, "dout", dout);
  check_alike(op, dout, {{"dinp", &dinp}});
  check_supported(OpId::UpsampleNearest, dout);
  check_shape(op, "dout", dout, upsample_out(op, p, dinp));
  SAD_RUN(dout, upsample_nearest_backward, p, dout, dinp);
}

void resize_bilinear_forward(const ResizeParams& p, const Tensor& inp, Tensor& out) {
  const char* op = "resize_bilinear_forward";
  check_defined(op, "input", inp);
  check_alike(op, inp, {{"output", &out}});
  check_supported(OpId::ResizeBilinear, inp);
  check_nchw_pair(op, inp, out);
  SAD_CHECK(inp.dim(2) > 0 && inp.dim(3) > 0 && out.dim(2) > 0 && out.dim(3) > 0, op, ": empty image");
  SAD_RUN(inp, resize_bilinear_forward, p, inp, out);
}

void resize_bilinear_backward(const ResizeParams& p, const Tensor& dout, Tensor& dinp) {
  const char* op = "resize_bilinear_backward";
  check_defined(op, "dout", dout);
  check_alike(op, dout, {{"dinp", &dinp}});
  check_supported(OpId::ResizeBilinear, dout);
  check_nchw_pair(op, dinp, dout);
  SAD_RUN(dout, resize_bilinear_backward, p, dout, dinp);
}

static Shape avg_pool_out(const char* op, const AvgPoolParams& p, const Tensor& inp) {
  check_ndim(op, "input", inp, 4);
  SAD_CHECK(p.kernel >= 1 && p.stride >= 1 && p.pad >= 0 && p.pad <= p.kernel / 2, op, ": kernel ", p.kernel,
            ", stride ", p.stride, ", padding ", p.pad, " invalid (padding at most kernel/2)");
  return {inp.dim(0), inp.dim(1), conv2d_out_size(inp.dim(2), p.kernel, p.stride, p.pad),
          conv2d_out_size(inp.dim(3), p.kernel, p.stride, p.pad)};
}

void avg_pool2d_forward(const AvgPoolParams& p, const Tensor& inp, Tensor& out) {
  const char* op = "avg_pool2d_forward";
  check_defined(op, "input", inp);
  check_alike(op, inp, {{"output", &out}});
  check_supported(OpId::AvgPool2d, inp);
  check_shape(op, "output", out, avg_pool_out(op, p, inp));
  SAD_RUN(inp, avg_pool2d_forward, p, inp, out);
}

void avg_pool2d_backward(const AvgPoolParams& p, const Tensor& dout, Tensor& dinp) {
  const char* op = "avg_pool2d_backward";
  check_defined(op, "dout", dout);
  check_alike(op, dout, {{"dinp", &dinp}});
  check_supported(OpId::AvgPool2d, dout);
  check_shape(op, "dout", dout, avg_pool_out(op, p, dinp));
  SAD_RUN(dout, avg_pool2d_backward, p, dout, dinp);
}

// ---- reduce -----------------------------------------------------------------------------------------

Shape reduce_shape(const ReduceParams& p, const Shape& in) {
  if (p.axis < 0) return {1};
  SAD_CHECK(p.axis < static_cast<int>(in.size()), "reduce: axis ", p.axis, " out of range for ", shape_str(in));
  Shape out = in;
  out[static_cast<size_t>(p.axis)] = 1;
  return out;
}

void reduce_forward(const ReduceParams& p, const Tensor& inp, Tensor& out) {
  const char* op = "reduce_forward";
  check_defined(op, "input", inp);
  check_alike(op, inp, {{"output", &out}});
  check_supported(OpId::Reduce, inp);
  SAD_CHECK(inp.numel() > 0 || p.kind == ReduceKind::Sum, op, ": mean of an empty tensor");
  check_shape(op, "output", out, reduce_shape(p, inp.shape()));
  SAD_RUN(inp, reduce_forward, p, inp, out);
}

void reduce_backward(const ReduceParams& p, const Tensor& dout, Tensor& dinp) {
  const char* op = "reduce_backward";
  check_defined(op, "dout", dout);
  check_alike(op, dout, {{"dinp", &dinp}});
  check_supported(OpId::Reduce, dout);
  check_shape(op, "dout", dout, reduce_shape(p, dinp.shape()));
  SAD_RUN(dout, reduce_backward, p, dout, dinp);
}

}  // namespace sad::ops
