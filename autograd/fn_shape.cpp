// Differentiable shape ops: concat, split (a node with several outputs), nearest
// upsampling, bilinear resize and average pooling. Their backward needs only shapes and
// parameters, so the nodes save no tensors. Where the parts are contiguous ranges of the
// whole (a cut along axis 0), split's outputs and concat's gradients are views.
#include "autograd/functions.h"
#include "autograd/node_util.h"

namespace sad {

namespace {

// Whether the parts of a tensor of shape `shape` cut along `axis` are contiguous ranges of
// it (every dimension before the axis is 1, as for axis 0): then split's parts and concat's
// gradients are views of the whole, not copies.
bool parts_are_ranges(const Shape& shape, int axis) {
  for (int d = 0; d < axis; ++d)
    if (shape[static_cast<size_t>(d)] != 1) return false;
  return true;
}

// The parts of x of the given shapes, in order along a ranges-cut axis, as views of x.
std::vector<Tensor> range_views(const Tensor& x, const std::vector<Shape>& shapes) {
  std::vector<Tensor> parts;
  parts.reserve(shapes.size());
  int64_t offset = 0;
  for (const Shape& s : shapes) {
    parts.push_back(x.view_at(offset, s));
    offset += shape_numel(s);
  }
  return parts;
}

bool any_requires_grad_of(const std::vector<Variable>& xs) {
  if (!grad_mode_enabled()) return false;
  for (const Variable& x : xs)
    if (x.requires_grad()) return true;
  return false;
}

// ---- concat ------------------------------------------------------------------------------

class ConcatNode final : public Node {
 public:
  const char* name() const override { return "concat"; }
  std::vector<Tensor> apply(std::vector<Tensor>& g) override {
    // split needs every part; the ones no input wants are dropped afterwards. Parts that
    // are contiguous ranges of the gradient are views of it, not copies.
    std::vector<Tensor> parts;
    if (parts_are_ranges(g[0].shape(), axis)) {
      parts = range_views(g[0], shapes);
    } else {
      parts.reserve(shapes.size());
      for (const Shape& s : shapes) parts.push_back(Tensor::empty(s, g[0].dtype(), g[0].device()));
      ops::split({axis}, g[0], parts);
    }
    for (size_t i = 0; i < parts.size(); ++i)
      if (!detail::wants_grad(*this, i)) parts[i] = Tensor();
    return parts;
  }

  int axis = 1;
  std::vector<Shape> shapes;  // of the inputs
};

// ---- split -------------------------------------------------------------------------------

class SplitNode final : public Node {
 public:
  const char* name() const override { return "split"; }
  std::vector<Tensor> apply(std::vector<Tensor>& g) override {
    // A part that received no gradient (unused downstream) contributes zeros.
    std::vector<Tensor> parts(shapes.size());
    DType dtype = DType::F32;
    Device device = Device::cpu();
    for (const Tensor& t : g)
      if (t.defined()) {
        dtype = t.dtype();
        device = t.device();
        break;
      }
    for (size_t i = 0; i < parts.size(); ++i)
      parts[i] = g[i].defined() ? g[i] : Tensor::zeros(shapes[i], dtype, device);
    Tensor dx = Tensor::empty(in_shape, dtype, device);
    ops::concat({axis}, parts, dx);
    return {dx};
  }

  int axis = 1;
  Shape in_shape;
  std::vector<Shape> shapes;  // of the parts
};

// ---- upsample / resize / pool: one node, three backward ops -------------------------------

enum class ResampleKind { UpsampleNearest, ResizeBilinear, AvgPool2d };

class ResampleNode final : public Node {
 public:
  const char* name() const override {
    switch (kind) {
      case ResampleKind::UpsampleNearest: return "upsample_nearest";
      case ResampleKind::ResizeBilinear: return "resize_bilinear";
      case ResampleKind::AvgPool2d: return "avg_pool2d";
    }
    return "resample";
  }
  std::vector<Tensor> apply(std::vector<Tensor>& g) override {
    Tensor dx = Tensor::empty(in_shape, g[0].dtype(), g[0].device());  // (N, C, H, W)
    switch (kind) {
      case ResampleKind::UpsampleNearest: ops::upsample_nearest_backward(upsample, g[0], dx); break;
      case ResampleKind::ResizeBilinear: ops::resize_bilinear_backward(resize, g[0], dx); break;
      case ResampleKind::AvgPool2d: ops::avg_pool2d_backward(pool, g[0], dx); break;
    }
    return {dx};
  }

  ResampleKind kind = ResampleKind::UpsampleNearest;
  ops::UpsampleParams upsample;
  ops::ResizeParams resize;
  ops::AvgPoolParams pool;
  Shape in_shape;
};

Variable record_resample(const Variable& x, const Tensor& out, std::shared_ptr<ResampleNode> n) {
  n->next.push_back(gradient_edge(x));
  n->in_shape = x.shape();
  return Variable::make_output(out, std::move(n), 0);
}

}  // namespace

Variable concat(const std::vector<Variable>& xs, int axis) {
  SAD_CHECK(!xs.empty(), "concat: no tensors");
  const Shape& first = xs[0].shape();
  SAD_CHECK(axis >= 0 && axis < static_cast<int>(first.size()), "concat: axis ", axis, " out of range for ",
            shape_str(first));
  std::vector<Tensor> parts;
  parts.reserve(xs.size());
  Shape out_shape = first;
  out_shape[static_cast<size_t>(axis)] = 0;
  for (const Variable& x : xs) {
    parts.push_back(x.data());
    // Sizes outside the axis are checked by ops::concat; only add up the axis here.
    SAD_CHECK(x.data().ndim() == static_cast<int>(first.size()), "concat: ", shape_str(x.shape()), " and ",
              shape_str(first), " differ in rank");
    out_shape[static_cast<size_t>(axis)] += x.shape()[static_cast<size_t>(axis)];
  }
  Tensor out = Tensor::empty(out_shape, xs[0].dtype(), xs[0].device());
  ops::concat({axis}, parts, out);
  if (!any_requires_grad_of(xs)) return Variable(out);
  auto n = std::make_shared<ConcatNode>();
  n->axis = axis;
  for (const Variable& x : xs) {
    n->next.push_back(gradient_edge(x));
    n->shapes.push_back(x.shape());
  }
  return Variable::make_output(out, n, 0);
}

std::vector<Variable> split(const Variable& x, const std::vector<int64_t>& sizes, int axis) {
  const Shape& in = x.shape();
  SAD_CHECK(!sizes.empty(), "split: no sizes");
  SAD_CHECK(axis >= 0 && axis < static_cast<int>(in.size()), "split: axis ", axis, " out of range for ", shape_str(in));
  std::vector<Tensor> parts;
  std::vector<Shape> shapes;
  int64_t total = 0;
  for (int64_t s : sizes) {
    SAD_CHECK(s >= 0, "split: negative size ", s);
    Shape ps = in;
    ps[static_cast<size_t>(axis)] = s;
    shapes.push_back(ps);
    total += s;
  }
  if (parts_are_ranges(in, axis)) {
    // Contiguous parts (axis 0, as the segmenter splits its image pair): views, no copy.
    SAD_CHECK(total == in[static_cast<size_t>(axis)], "split: sizes add up to ", total, ", not to the ",
              in[static_cast<size_t>(axis)], " of ", shape_str(in), " along axis ", axis);
    parts = range_views(x.data(), shapes);
  } else {
    for (const Shape& ps : shapes) parts.push_back(Tensor::empty(ps, x.dtype(), x.device()));
    ops::split({axis}, x.data(), parts);  // checks that the sizes add up
  }
  std::vector<Variable> outs;
  outs.reserve(parts.size());
  if (!any_requires_grad({&x})) {
    for (Tensor& t : parts) outs.emplace_back(t);
    return outs;
  }
  auto n = detail::make_node<SplitNode>({&x});
  n->num_outputs = static_cast<int>(parts.size());
  n->axis = axis;
  n->in_shape = in;
  n->shapes = shapes;
  for (size_t i = 0; i < parts.size(); ++i) outs.push_back(Variable::make_output(parts[i], n, static_cast<int>(i)));
  return outs;
}

Variable upsample_nearest(const Variable& x, int scale) {
  SAD_CHECK(x.data().ndim() == 4 && scale >= 1, "upsample_nearest: input ", shape_str(x.shape()), ", scale ", scale,
            " (need (N, C, H, W) and scale >= 1)");
  const ops::UpsampleParams p{scale};
  Tensor out = Tensor::empty({x.dim(0), x.dim(1), x.dim(2) * scale, x.dim(3) * scale}, x.dtype(), x.device());
  ops::upsample_nearest_forward(p, x.data(), out);
  if (!any_requires_grad({&x})) return Variable(out);
  auto n = std::make_shared<ResampleNode>();
  n->kind = ResampleKind::UpsampleNearest;
  n->upsample = p;
  return record_resample(x, out, n);
}

Variable resize_bilinear(const Variable& x, int64_t out_h, int64_t out_w) {
  SAD_CHECK(x.data().ndim() == 4, "resize_bilinear: input must be (N, C, H, W), got ", shape_str(x.shape()));
  SAD_CHECK(out_h > 0 && out_w > 0, "resize_bilinear: output size ", out_h, " x ", out_w, " must be positive");
  const ops::ResizeParams p{false};
  Tensor out = Tensor::empty({x.dim(0), x.dim(1), out_h, out_w}, x.dtype(), x.device());
  ops::resize_bilinear_forward(p, x.data(), out);
  if (!any_requires_grad({&x})) return Variable(out);
  auto n = std::make_shared<ResampleNode>();
  n->kind = ResampleKind::ResizeBilinear;
  n->resize = p;
  return record_resample(x, out, n);
}

Variable avg_pool2d(const Variable& x, const ops::AvgPoolParams& p) {
  SAD_CHECK(x.data().ndim() == 4, "avg_pool2d: input must be (N, C, H, W), got ", shape_str(x.shape()));
  SAD_CHECK(p.stride >= 1, "avg_pool2d: stride ", p.stride, " must be >= 1");
  Tensor out = Tensor::empty({x.dim(0), x.dim(1), ops::conv2d_out_size(x.dim(2), p.kernel, p.stride, p.pad),
                              ops::conv2d_out_size(x.dim(3), p.kernel, p.stride, p.pad)},
                             x.dtype(), x.device());
  ops::avg_pool2d_forward(p, x.data(), out);
  if (!any_requires_grad({&x})) return Variable(out);
  auto n = std::make_shared<ResampleNode>();
  n->kind = ResampleKind::AvgPool2d;
  n->pool = p;
  return record_resample(x, out, n);
}

}  // namespace sad
