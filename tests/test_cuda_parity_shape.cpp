// CUDA parity of the hand-written shape kernels (kernels/cuda/shape.cu, resize.cu,
// pool.cu, reduce.cu): concat/split along every axis, nearest upsampling, bilinear
// resize (both align_corners conventions, up, down and mixed), average pooling (both
// count_include_pad conventions) and sum/mean over everything or one axis, forward and
// backward. The same seeded float32 inputs run on the CUDA backend and on the CPU
// reference in float64; awkward and large (> 1M) sizes; every CUDA output is a guarded
// view at an aligned or a misaligned offset; backward passes and reductions run twice
// and must agree bit for bit. Skipped (reported as such) without a GPU.
#include <iterator>
#include <string>
#include <vector>

#include "cuda_parity_aligned.h"
#include "kernels/ops.h"

// Selected by gpu-check.sh and compute-sanitizer as --test-suite=cuda.
TEST_SUITE_BEGIN("cuda");

using namespace sad;
using namespace sad::test;

namespace {

int64_t lead_for(size_t case_index) { return case_index % 2 ? kLeadMisaligned : kLeadAligned; }

}  // namespace

// ---- concat / split --------------------------------------------------------------------------------

namespace {

struct ConcatCase {
  Shape base;  // the parts' shape outside the axis
  int axis;
  std::vector<int64_t> sizes;  // the parts' sizes along the axis
};

void concat_split_parity(const ConcatCase& cc, uint64_t seed, int64_t lead) {
  if (skip_large({cc.base})) return;
  const ops::ConcatParams p{cc.axis};
  std::vector<Tensor> parts, parts64, parts_cuda;
  Shape whole_shape = cc.base;
  whole_shape[static_cast<size_t>(cc.axis)] = 0;
  for (size_t i = 0; i < cc.sizes.size(); ++i) {
    Shape s = cc.base;
    s[static_cast<size_t>(cc.axis)] = cc.sizes[i];
    whole_shape[static_cast<size_t>(cc.axis)] += cc.sizes[i];
    parts.push_back(random_f32(s, seed + i));
    parts64.push_back(f64(parts.back()));
    // Alternate aligned and misaligned inputs too.
    parts_cuda.push_back(cuda_input_at(parts.back(), i % 2 ? kLeadMisaligned : 0));
  }
  const std::string ctx = "concat/split " + shape_str(whole_shape) + " axis " + std::to_string(cc.axis) + " seed " +
                          std::to_string(seed) + " lead " + std::to_string(lead);
  INFO(ctx);

  Tensor whole_ref = Tensor::empty(whole_shape, DType::F64);
  ops::concat(p, parts64, whole_ref);
  GuardedCudaAt whole(whole_shape, lead);
  ops::concat(p, parts_cuda, whole.view());
  check_parity(whole.view(), whole_ref, kExact, ctx + ": concat");
  whole.check_guards(ctx + ": concat");

  // split(whole) gives the parts back, bit for bit, each into its own guarded view.
  std::vector<GuardedCudaAt> outs;
  std::vector<Tensor> views;
  for (const Tensor& t : parts) outs.emplace_back(t.shape(), lead);
  for (GuardedCudaAt& o : outs) views.push_back(o.view());
  ops::split(p, whole.view(), views);
  for (size_t i = 0; i < parts.size(); ++i) {
    const std::string pctx = ctx + ": split part " + std::to_string(i);
    check_parity(outs[i].view(), parts64[i], kExact, pctx);
    outs[i].check_guards(pctx);
  }
}

}  // namespace

TEST_CASE("cuda parity: concat and split along every axis" * doctest::skip(!sad::cuda_available())) {
  const ConcatCase cases[] = {
      {{2, 3, 5, 7}, 0, {1, 2, 1}},     // batch, three parts
      {{2, 3, 5, 7}, 1, {1, 2}},        // channels, odd inner size (scalar copies)
      {{2, 3, 5, 7}, 2, {2, 3}},        // rows
      {{2, 3, 5, 7}, 3, {3, 4}},        // columns: runs of 3 and 4 elements
      {{2, 4, 4, 8}, 1, {4, 8}},        // inner 32: float4 copies when aligned
      {{6}, 0, {1, 5}},                 // 1-D
      {{3, 4}, 1, {1, 2, 1}},           // 2-D, last axis
      {{1, 1, 1, 1}, 1, {1, 1}},        // 1x1
      {{4, 24, 105, 105}, 1, {8, 16}},  // > 1M, the fusion's channel concat
      {{4, 24, 105, 105}, 0, {1, 3}},   // > 1M, the encoder's batch concat [x~; x^]
  };
  uint64_t seed = 3000;
  for (size_t ci = 0; ci < std::size(cases); ++ci) concat_split_parity(cases[ci], seed += 10, lead_for(ci));
}

TEST_CASE("cuda parity: concat refuses parts that do not add up" * doctest::skip(!sad::cuda_available())) {
  std::vector<Tensor> parts = {Tensor::zeros({2, 3}, DType::F32, cuda_device()),
                               Tensor::zeros({2, 2}, DType::F32, cuda_device())};
  Tensor out = Tensor::empty({2, 6}, DType::F32, cuda_device());
  CHECK_THROWS_AS(ops::concat({1}, parts, out), Error);
}

// ---- upsample_nearest ----------------------------------------------------------------------------

TEST_CASE("cuda parity: upsample_nearest forward and backward" * doctest::skip(!sad::cuda_available())) {
  struct Case {
    Shape x;
    int scale;
  };
  const Case cases[] = {
      {{1, 1, 1, 1}, 2}, {{2, 3, 5, 7}, 2}, {{1, 2, 3, 4}, 3},
      {{2, 1, 4, 3}, 1}, {{3, 2, 1, 9}, 4}, {{2, 8, 181, 181}, 2},  // > 1M outputs
  };
  uint64_t seed = 3200;
  for (size_t ci = 0; ci < std::size(cases); ++ci) {
    const Case& c = cases[ci];
    const int64_t lead = lead_for(ci);
    const ops::UpsampleParams p{c.scale};
    const Shape ys{c.x[0], c.x[1], c.x[2] * c.scale, c.x[3] * c.scale};
    seed += 3;
    const std::string ctx = "upsample_nearest x" + std::to_string(c.scale) + " " + shape_str(c.x) + " seed " +
                            std::to_string(seed) + " lead " + std::to_string(lead);
    INFO(ctx);
    Tensor x = random_f32(c.x, seed), dy = random_f32(ys, seed + 1);
    Tensor y_ref = Tensor::empty(ys, DType::F64), dx_ref = Tensor::empty(c.x, DType::F64);
    ops::upsample_nearest_forward(p, f64(x), y_ref);
    ops::upsample_nearest_backward(p, f64(dy), dx_ref);

    GuardedCudaAt y(ys, lead), dx(c.x, lead), dx2(c.x, lead);
    const Tensor dyc = cuda_input_at(dy, lead);
    ops::upsample_nearest_forward(p, x.to(cuda_device()), y.view());
    ops::upsample_nearest_backward(p, dyc, dx.view());
    ops::upsample_nearest_backward(p, dyc, dx2.view());
    check_parity(y.view(), y_ref, kExact, ctx + ": forward");
    // s^2 terms added in double, rounded once.
    check_parity(dx.view(), dx_ref, kRoundedOnce, ctx + ": backward");
    check_bitwise_equal(dx2.view(), dx.view(), ctx + ": backward");
    y.check_guards(ctx + ": forward");
    dx.check_guards(ctx + ": backward");
  }
}

// ---- resize_bilinear -------------------------------------------------------------------------------

TEST_CASE("cuda parity: resize_bilinear forward and backward / both align_corners" *
          doctest::skip(!sad::cuda_available())) {
  struct Case {
    Shape x;
    int64_t ho, wo;
  };
  const Case cases[] = {
      {{1, 3, 7, 9}, 14, 18},        // up x2, odd sizes
      {{2, 1, 14, 18}, 7, 9},        // down x2
      {{1, 2, 5, 7}, 3, 11},         // down in H, up in W
      {{1, 1, 1, 1}, 4, 5},          // from one pixel
      {{2, 2, 4, 5}, 1, 1},          // to one pixel
      {{1, 3, 13, 17}, 13, 17},      // identity
      {{2, 3, 10, 10}, 7, 13},       // non-integer ratios
      {{1, 2, 3, 5}, 16, 9},         // large upscale in H: long gather ranges
      {{1, 4, 300, 300}, 512, 512},  // > 1M outputs (the map back to the image size)
      {{1, 4, 512, 512}, 300, 300},  // > 1M inputs, down
  };
  uint64_t seed = 3400;
  for (size_t ci = 0; ci < std::size(cases); ++ci)
    for (bool align : {false, true}) {
      const Case& c = cases[ci];
      const int64_t lead = lead_for(ci);
      const ops::ResizeParams p{align};
      const Shape ys{c.x[0], c.x[1], c.ho, c.wo};
      seed += 3;
      const std::string ctx = "resize_bilinear " + shape_str(c.x) + " -> " + shape_str(ys) +
                              (align ? " align_corners" : "") + " seed " + std::to_string(seed) + " lead " +
                              std::to_string(lead);
      INFO(ctx);
      Tensor x = random_f32(c.x, seed), dy = random_f32(ys, seed + 1);
      Tensor y_ref = Tensor::empty(ys, DType::F64), dx_ref = Tensor::empty(c.x, DType::F64);
      ops::resize_bilinear_forward(p, f64(x), y_ref);
      ops::resize_bilinear_backward(p, f64(dy), dx_ref);

      GuardedCudaAt y(ys, lead), dx(c.x, lead), dx2(c.x, lead);
      const Tensor dyc = dy.to(cuda_device());
      ops::resize_bilinear_forward(p, cuda_input_at(x, lead), y.view());
      ops::resize_bilinear_backward(p, dyc, dx.view());
      ops::resize_bilinear_backward(p, dyc, dx2.view());
      // Forward: the reference's double blend, rounded once. Backward: the same double
      // terms summed in another order (gather vs scatter), rounded once.
      check_parity(y.view(), y_ref, kRoundedOnce, ctx + ": forward");
      check_parity(dx.view(), dx_ref, kSummedOnce, ctx + ": backward");
      check_bitwise_equal(dx2.view(), dx.view(), ctx + ": backward");
      y.check_guards(ctx + ": forward");
      dx.check_guards(ctx + ": backward");
    }
}

// ---- avg_pool2d --------------------------------------------------------------------------------------

TEST_CASE("cuda parity: avg_pool2d forward and backward / both count_include_pad" *
          doctest::skip(!sad::cuda_available())) {
  struct Geometry {
    int kernel, stride, pad;
  };
  const Geometry geometries[] = {{3, 1, 1}, {2, 2, 0}, {3, 2, 1}, {5, 1, 2}, {4, 3, 2}, {1, 1, 0}};
  const Shape shapes[] = {{1, 1, 1, 1}, {2, 3, 7, 9}, {1, 2, 5, 6}, {3, 1, 11, 4}};
  uint64_t seed = 3600;
  auto run = [&](const Shape& xs, const Geometry& g, bool include_pad, int64_t lead) {
    if (skip_large({xs})) return;
    ops::AvgPoolParams p;
    p.kernel = g.kernel;
    p.stride = g.stride;
    p.pad = g.pad;
    p.count_include_pad = include_pad;
    if (xs[2] + 2 * g.pad < g.kernel || xs[3] + 2 * g.pad < g.kernel) return;  // no output position
    const Shape ys{xs[0], xs[1], ops::conv2d_out_size(xs[2], g.kernel, g.stride, g.pad),
                   ops::conv2d_out_size(xs[3], g.kernel, g.stride, g.pad)};
    seed += 3;
    const std::string ctx = "avg_pool2d k" + std::to_string(g.kernel) + " s" + std::to_string(g.stride) + " p" +
                            std::to_string(g.pad) + (include_pad ? " count_include_pad " : " ") + shape_str(xs) +
                            " seed " + std::to_string(seed) + " lead " + std::to_string(lead);
    INFO(ctx);
    Tensor x = random_f32(xs, seed), dy = random_f32(ys, seed + 1);
    Tensor y_ref = Tensor::empty(ys, DType::F64), dx_ref = Tensor::empty(xs, DType::F64);
    ops::avg_pool2d_forward(p, f64(x), y_ref);
    ops::avg_pool2d_backward(p, f64(dy), dx_ref);

    GuardedCudaAt y(ys, lead), dx(xs, lead), dx2(xs, lead);
    const Tensor dyc = dy.to(cuda_device());
    ops::avg_pool2d_forward(p, cuda_input_at(x, lead), y.view());
    ops::avg_pool2d_backward(p, dyc, dx.view());
    ops::avg_pool2d_backward(p, dyc, dx2.view());
    // Both directions add the reference's double terms in the reference's order.
    check_parity(y.view(), y_ref, kRoundedOnce, ctx + ": forward");
    check_parity(dx.view(), dx_ref, kRoundedOnce, ctx + ": backward");
    check_bitwise_equal(dx2.view(), dx.view(), ctx + ": backward");
    y.check_guards(ctx + ": forward");
    dx.check_guards(ctx + ": backward");
  };
  size_t ci = 0;
  for (const Shape& xs : shapes)
    for (const Geometry& g : geometries)
      for (bool include_pad : {false, true}) run(xs, g, include_pad, lead_for(ci++));
  // > 1M: the image score's 3x3 smoothing of a full-size map, both conventions.
  for (bool include_pad : {false, true}) run({2, 4, 362, 362}, {3, 1, 1}, include_pad, lead_for(ci++));
}

// ---- reduce ------------------------------------------------------------------------------------------

TEST_CASE("cuda parity: reduce sum and mean over everything and over each axis" *
          doctest::skip(!sad::cuda_available())) {
  const Shape shapes[] = {
      {1},
      {7},
      {2, 3, 5, 7},
      {1, 1, 1, 1},
      {3, 1000},        // axis 1: rows (a block per output)
      {1000, 3},        // axis 0: 3 strided outputs
      {2, 64, 33, 33},  // axis 1: the mean over channels (a thread per output)
      {(1 << 20) + 5},  // > 1M: the whole-tensor two-pass sum
      {4, 300, 1000},   // > 1M: every layout, chunked
  };
  uint64_t seed = 3800;
  size_t ci = 0;
  for (const Shape& s : shapes)
    for (int axis = -1; axis < static_cast<int>(s.size()); ++axis)
      for (ops::ReduceKind kind : {ops::ReduceKind::Sum, ops::ReduceKind::Mean}) {
        const ops::ReduceParams p{kind, axis};
        const Shape ys = ops::reduce_shape(p, s);
        const int64_t lead = lead_for(ci++);
        seed += 3;
        const std::string ctx = std::string("reduce ") + (kind == ops::ReduceKind::Sum ? "sum" : "mean") + " axis " +
                                std::to_string(axis) + " " + shape_str(s) + " seed " + std::to_string(seed) + " lead " +
                                std::to_string(lead);
        INFO(ctx);
        Tensor x = random_f32(s, seed), dy = random_f32(ys, seed + 1);
        Tensor y_ref = Tensor::empty(ys, DType::F64), dx_ref = Tensor::empty(s, DType::F64);
        ops::reduce_forward(p, f64(x), y_ref);
        ops::reduce_backward(p, f64(dy), dx_ref);

        GuardedCudaAt y(ys, lead), y2(ys, lead), dx(s, lead);
        const Tensor xc = cuda_input_at(x, lead);
        ops::reduce_forward(p, xc, y.view());
        ops::reduce_forward(p, xc, y2.view());
        ops::reduce_backward(p, dy.to(cuda_device()), dx.view());
        check_parity(y.view(), y_ref, kSummedOnce, ctx + ": forward");
        check_bitwise_equal(y2.view(), y.view(), ctx + ": forward");
        // dout times 1 or 1/len, in double, rounded once.
        check_parity(dx.view(), dx_ref, kRoundedOnce, ctx + ": backward");
        y.check_guards(ctx + ": forward");
        dx.check_guards(ctx + ": backward");
      }
}

TEST_SUITE_END();
