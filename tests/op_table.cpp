// The entries of the op table (tests/op_table.h): per op, the cases every check runs.
// Values are drawn in ranges that keep the float32 error within the named tolerances; points
// that land near a kink (relu and |x| at 0) are found and skipped by the gradient check.
#include "op_table.h"

#include <algorithm>
#include <limits>

#include "autograd/functions.h"

namespace sad::test {

namespace {

using V = std::vector<Variable>;

// Seeded uniform values rounded to float32 and held in float64, so that the float32 run
// and the float64 reference start from the same numbers.
Tensor exact(const Shape& s, uint64_t seed, double lo = -1.0, double hi = 1.0) {
  return random_tensor(s, seed, lo, hi, DType::F32).to(DType::F64);
}
Tensor values(const std::vector<double>& v, const Shape& s) {
  return Tensor::from_vector_f64(v, s, DType::F32).to(DType::F64);
}
// An output tensor on the device and of the dtype of `like`.
Tensor like(const Variable& v, const Shape& s) { return Tensor::empty(s, v.dtype(), v.device()); }

std::vector<OpCase> conv2d_cases() {
  std::vector<OpCase> c;
  ops::Conv2dParams same{1, 1, 1, 1}, strided{2, 1, 0, 1};
  c.push_back({"3x3 pad 1 with bias (2,3,5,6)",
               {exact({2, 3, 5, 6}, 101), exact({4, 3, 3, 3}, 102), exact({4}, 103)},
               {true, true, true},
               [same](const V& v) { return V{conv2d(v[0], v[1], v[2], same)}; },
               {1e-5, 1e-5}});
  c.push_back({"3x2 stride (2,1) pad (0,1) no bias (1,2,7,5)",
               {exact({1, 2, 7, 5}, 104), exact({3, 2, 3, 2}, 105)},
               {true, true},
               [strided](const V& v) { return V{conv2d(v[0], v[1], Variable(), strided)}; },
               {1e-5, 1e-5}});
  // Stride 1, 8 input channels and 18 columns: float32 takes the direct convolution (a 16- or 8-wide tile and
  // a tail), so the instruction-set test compares its paths.
  c.push_back({"3x3 pad 1 direct in float32 (1,8,3,18)",
               {exact({1, 8, 3, 18}, 106), exact({3, 8, 3, 3}, 107), exact({3}, 108)},
               {true, true, true},
               [same](const V& v) { return V{conv2d(v[0], v[1], v[2], same)}; },
               {1e-5, 1e-5}});
  // Stride 2 and 17 columns out: the direct forward and weight gradient on column phases.
  ops::Conv2dParams down{2, 2, 1, 1};
  c.push_back({"4x4 stride 2 pad 1 direct in float32 (1,8,5,34)",
               {exact({1, 8, 5, 34}, 109), exact({3, 8, 4, 4}, 110)},
               {true, true},
               [down](const V& v) { return V{conv2d(v[0], v[1], Variable(), down)}; },
               {1e-5, 1e-5}});
  return c;
}

std::vector<OpCase> gemm_cases() {
  return {{"matmul (3,4) @ (4,5)",
           {exact({3, 4}, 111), exact({4, 5}, 112)},
           {true, true},
           [](const V& v) { return V{matmul(v[0], v[1])}; },
           {1e-6, 1e-5}},
          {"linear x (3,4) W (5,4) b (5): transposed B",
           {exact({3, 4}, 113), exact({5, 4}, 114), exact({5}, 115)},
           {true, true, true},
           [](const V& v) { return V{linear(v[0], v[1], v[2])}; },
           {1e-6, 1e-5}}};
}

std::vector<OpCase> batch_norm_cases() {
  std::vector<OpCase> c;
  static constexpr const char* act_names[] = {"", " + relu", " + leaky relu"};
  for (ops::BnAct act : {ops::BnAct::None, ops::BnAct::Relu, ops::BnAct::LeakyRelu})
    for (bool training : {true, false}) {
      // Fresh running statistics on every call: the case is a pure function of its inputs.
      auto run = [training, act](const V& v) {
        const int64_t ch = v[0].dim(1);
        Tensor mean = Tensor::zeros({ch}, v[0].dtype(), v[0].device());
        Tensor var = Tensor::full({ch}, 0.5, v[0].dtype(), v[0].device());
        ops::BatchNormParams p;
        p.training = training;
        p.act = act;
        p.alpha = 0.2f;
        return V{batch_norm2d(v[0], v[1], v[2], mean, var, p)};
      };
      c.push_back({std::string(training ? "training" : "eval") + act_names[static_cast<int>(act)] + " (3,2,4,5)",
                   {exact({3, 2, 4, 5}, 121, -2, 2), exact({2}, 122, 0.5, 1.5), exact({2}, 123)},
                   {true, true, true},
                   run,
                   {1e-5, 1e-5}});
    }
  return c;
}

std::vector<OpCase> unary_cases() {
  std::vector<OpCase> c;
  uint64_t seed = 130;
  for (int k = 0; k < static_cast<int>(ops::UnaryKind::Count); ++k) {
    const auto kind = static_cast<ops::UnaryKind>(k);
    auto run = [kind](const V& v) -> V {
      switch (kind) {
        case ops::UnaryKind::Relu: return {relu(v[0])};
        case ops::UnaryKind::LeakyRelu: return {leaky_relu(v[0], 0.2f)};
        case ops::UnaryKind::Sigmoid: return {sigmoid(v[0])};
        case ops::UnaryKind::Tanh: return {tanh(v[0])};
        case ops::UnaryKind::Abs: return {abs(v[0])};
        case ops::UnaryKind::Affine: return {affine(v[0], -1.5f, 0.25f)};
        case ops::UnaryKind::Softplus: return {softplus(v[0])};
        case ops::UnaryKind::Count: break;
      }
      return {};
    };
    c.push_back({std::string(ops::unary_name(kind)) + " (2,3,4,5)", {exact({2, 3, 4, 5}, ++seed, -3, 3)}, {true}, run});
  }
  return c;
}

std::vector<OpCase> binary_cases() {
  std::vector<OpCase> c;
  const std::pair<const char*, Variable (*)(const Variable&, const Variable&)> kinds[] = {
      {"add", add}, {"sub", sub}, {"mul", mul}};
  uint64_t seed = 140;
  for (const auto& [name, f] : kinds) {
    c.push_back({std::string(name) + " (2,3,4,5) and (1,3,1,5): broadcast",
                 {exact({2, 3, 4, 5}, ++seed), exact({1, 3, 1, 5}, ++seed)},
                 {true, true},
                 [f](const V& v) { return V{f(v[0], v[1])}; }});
    c.push_back({std::string(name) + " (3,4) and (3,4)",
                 {exact({3, 4}, ++seed), exact({3, 4}, ++seed)},
                 {true, true},
                 [f](const V& v) { return V{f(v[0], v[1])}; }});
  }
  return c;
}

std::vector<OpCase> concat_cases() {
  return {{"axis 1: (2,1,3,4) (2,3,3,4) (2,2,3,4)",
           {exact({2, 1, 3, 4}, 151), exact({2, 3, 3, 4}, 152), exact({2, 2, 3, 4}, 153)},
           {true, true, true},
           [](const V& v) {
             return V{concat({v[0], v[1], v[2]}, 1)};
           },
           {0, 0}},
          {"axis 0: (1,2,3,4) (2,2,3,4)",
           {exact({1, 2, 3, 4}, 154), exact({2, 2, 3, 4}, 155)},
           {true, false},
           [](const V& v) {
             return V{concat({v[0], v[1]}, 0)};
           },
           {0, 0}}};
}

std::vector<OpCase> split_cases() {
  return {{"(2,7,3,4) into 2, 3, 2 along axis 1",
           {exact({2, 7, 3, 4}, 161)},
           {true},
           [](const V& v) {
             return split(v[0], {2, 3, 2}, 1);
           },
           {0, 0}},
          {"(2,3,3,5) into 1, 4 along axis 3",
           {exact({2, 3, 3, 5}, 162)},
           {true},
           [](const V& v) {
             return split(v[0], {1, 4}, 3);
           },
           {0, 0}}};
}

std::vector<OpCase> upsample_cases() {
  return {{"x2 (2,3,3,4)",
           {exact({2, 3, 3, 4}, 171)},
           {true},
           [](const V& v) { return V{upsample_nearest(v[0], 2)}; },
           {0, 0}},
          {"x3 (1,2,1,2)",
           {exact({1, 2, 1, 2}, 172)},
           {true},
           [](const V& v) { return V{upsample_nearest(v[0], 3)}; },
           {0, 0}}};
}

std::vector<OpCase> resize_cases() {
  return {{"up (2,2,5,7) -> 11x9",
           {exact({2, 2, 5, 7}, 181)},
           {true},
           [](const V& v) { return V{resize_bilinear(v[0], 11, 9)}; }},
          {"down (1,2,9,8) -> 4x3", {exact({1, 2, 9, 8}, 182)}, {true}, [](const V& v) {
             return V{resize_bilinear(v[0], 4, 3)};
           }}};
}

std::vector<OpCase> avg_pool_cases() {
  std::vector<OpCase> c;
  const ops::AvgPoolParams box{3, 1, 1, false}, box_pad{3, 1, 1, true}, pool{2, 2, 0, false};
  uint64_t seed = 190;
  for (const auto& [name, p] :
       {std::pair{"3x3 stride 1 pad 1, in-image count", box}, std::pair{"3x3 stride 1 pad 1, padded count", box_pad},
        std::pair{"2x2 stride 2", pool}}) {
    c.push_back({std::string(name) + " (2,2,5,6)", {exact({2, 2, 5, 6}, ++seed)}, {true}, [p](const V& v) {
                   return V{avg_pool2d(v[0], p)};
                 }});
  }
  return c;
}

std::vector<OpCase> reduce_cases() {
  return {{"sum (2,3,4,5)", {exact({2, 3, 4, 5}, 201)}, {true}, [](const V& v) { return V{sum(v[0])}; }, {1e-5, 1e-5}},
          {"mean (2,3,4,5)", {exact({2, 3, 4, 5}, 202)}, {true}, [](const V& v) { return V{mean(v[0])}; }},
          {"mean over axis 1 (2,3,4,5)", {exact({2, 3, 4, 5}, 203)}, {true}, [](const V& v) {
             return V{mean_axis(v[0], 1)};
           }}};
}

std::vector<OpCase> pointwise_loss_cases() {
  return {{"mse (2,3,4,5)",
           {exact({2, 3, 4, 5}, 211), exact({2, 3, 4, 5}, 212)},
           {true, true},
           [](const V& v) { return V{mse_loss(v[0], v[1])}; }},
          {"l1 (2,3,4,5)", {exact({2, 3, 4, 5}, 213), exact({2, 3, 4, 5}, 214)}, {true, true}, [](const V& v) {
             return V{l1_loss(v[0], v[1])};
           }}};
}

std::vector<OpCase> bce_cases() {
  return {{"soft targets (2,1,4,5)",
           {exact({2, 1, 4, 5}, 221, -4, 4), exact({2, 1, 4, 5}, 222, 0, 1)},
           {true, false},
           [](const V& v) { return V{bce_with_logits(v[0], v[1].data())}; }}};
}

std::vector<OpCase> ssim_cases() {
  auto params = [](int window, bool same) {
    ops::SsimParams p;
    p.window = window;
    p.same_size = same;
    return p;
  };
  const ops::SsimParams w5 = params(5, true), w11 = params(11, false);
  return {{"map, window 5, same size (2,1,6,7)",
           {exact({2, 1, 6, 7}, 231), exact({2, 1, 6, 7}, 232)},
           {true, true},
           [w5](const V& v) { return V{ssim_map(v[0], v[1], w5)}; },
           {1e-5, 1e-4},
           {1e-4, 1e-4}},
          {"mean, window 11, valid (1,2,12,13)",
           {exact({1, 2, 12, 13}, 233), exact({1, 2, 12, 13}, 234)},
           {true, true},
           [w11](const V& v) { return V{ssim(v[0], v[1], w11)}; },
           {1e-5, 1e-4},
           {1e-4, 1e-4}}};
}

std::vector<OpCase> focal_cases() {
  ops::FocalParams weighted{2.0f, 0.25f}, plain{1.5f, -1.0f};
  return {{"gamma 2 alpha 0.25, soft targets (2,1,4,5)",
           {exact({2, 1, 4, 5}, 241, -3, 3), exact({2, 1, 4, 5}, 242, 0, 1)},
           {true, false},
           [weighted](const V& v) { return V{focal_loss(v[0], v[1].data(), weighted)}; }},
          {"gamma 1.5 unweighted, hard targets (1,1,3,7)",
           {exact({1, 1, 3, 7}, 243, -3, 3),
            values({0, 1, 1, 0, 0, 1, 0, 1, 0, 0, 1, 1, 0, 1, 0, 0, 0, 1, 1, 0, 1}, {1, 1, 3, 7})},
           {true, false},
           [plain](const V& v) { return V{focal_loss(v[0], v[1].data(), plain)}; }}};
}

std::vector<OpCase> fusion_cases() {
  return {{"(2,3,4,5)", {exact({2, 3, 4, 5}, 251), exact({2, 3, 4, 5}, 252)}, {true, true}, [](const V& v) {
             return V{fusion(v[0], v[1])};
           }}};
}

std::vector<OpCase> kl_sparsity_cases() {
  std::vector<OpCase> c;
  uint64_t seed = 260;
  for (bool weak : {true, false}) {
    ops::KlSparsityParams p{.rho = 0.05f, .beta_kl = 2.0f, .lambda_fit = 0.7f, .weak_labels = weak};
    c.push_back({std::string(weak ? "weak labels" : "no labels") + " (3,1,5,7)",
                 {exact({3, 1, 5, 7}, ++seed, -4, 2), exact({3, 1, 5, 7}, ++seed, 0, 2), values({1, 0, 1}, {3})},
                 {true, false, false},
                 [p](const V& v) { return V{kl_sparsity(v[0], v[1].data(), v[2].data(), p)}; },
                 {1e-5, 1e-5}});
  }
  return c;
}

// The optimiser ops have no autograd function: they run on copies, so that a case never
// changes its inputs, and are checked forward only.
std::vector<OpCase> adam_cases() {
  std::vector<OpCase> c;
  for (int64_t step : {1, 7}) {
    ops::AdamParams p;
    p.lr = 1e-2;
    p.weight_decay = step == 7 ? 1e-2 : 0.0;
    p.step = step;
    c.push_back({"step " + std::to_string(step) + (p.weight_decay > 0 ? " with weight decay" : "") + " (5,7)",
                 {exact({5, 7}, 270 + step), exact({5, 7}, 280 + step), exact({5, 7}, 290 + step, -0.1, 0.1),
                  exact({5, 7}, 300 + step, 1e-4, 1e-2)},
                 {false, false, false, false},
                 [p](const V& v) {
                   Tensor param = v[0].data().clone(), m = v[2].data().clone(), var = v[3].data().clone();
                   ops::adam_step(p, param, v[1].data(), m, var, Tensor());
                   return V{Variable(param), Variable(m), Variable(var)};
                 }});
  }
  return c;
}

std::vector<OpCase> axpy_cases() {
  return {{"y += -0.75 x (3,5,7)",
           {exact({3, 5, 7}, 311), exact({3, 5, 7}, 312)},
           {false, false},
           [](const V& v) {
             Tensor y = v[1].data().clone();
             ops::axpy(-0.75f, v[0].data(), y);
             return V{Variable(y)};
           },
           {1e-6, 1e-6}}};
}

std::vector<OpCase> fill_cases() {
  return {{"0.625 into (4,9)",
           {exact({4, 9}, 321)},
           {false},
           [](const V& v) {
             Tensor t = like(v[0], v[0].shape());
             ops::fill(t, 0.625f);
             return V{Variable(t)};
           },
           {0, 0}}};
}

// The flag starts clear; one case holds an infinity (the flag must rise), one is finite.
std::vector<OpCase> flag_nonfinite_cases() {
  std::vector<OpCase> c;
  for (bool bad : {false, true}) {
    Tensor x = exact({3, 7}, 331);
    if (bad) x.data<double>()[17] = std::numeric_limits<double>::infinity();
    c.push_back({std::string(bad ? "one infinity in (3,7)" : "finite (3,7)"),
                 {x},
                 {false},
                 [](const V& v) {
                   Tensor flag = like(v[0], {1});
                   ops::fill(flag, 0.0f);
                   ops::flag_nonfinite(v[0].data(), flag);
                   return V{Variable(flag)};
                 },
                 {0, 0}});
  }
  return c;
}

std::vector<OpCase> scale_by_inverse_cases() {
  return {{"x / (d + 1e-6) (2,1,4,5) by d (1)",
           {exact({2, 1, 4, 5}, 341, 0, 2), values({0.8125}, {1})},
           {false, false},
           [](const V& v) {
             Tensor out = like(v[0], v[0].shape());
             ops::scale_by_inverse(v[0].data(), v[1].data(), 1e-6, out);
             return V{Variable(out)};
           },
           {1e-6, 1e-6}}};
}

}  // namespace

const std::vector<OpEntry>& op_table() {
  using ops::OpId;
  static const std::vector<OpEntry> table = {
      {OpId::Conv2d, conv2d_cases},
      {OpId::Gemm, gemm_cases},
      {OpId::BatchNorm2d, batch_norm_cases},
      {OpId::Unary, unary_cases},
      {OpId::Binary, binary_cases},
      {OpId::Concat, concat_cases},
      {OpId::Split, split_cases},
      {OpId::UpsampleNearest, upsample_cases},
      {OpId::ResizeBilinear, resize_cases},
      {OpId::AvgPool2d, avg_pool_cases},
      {OpId::Reduce, reduce_cases},
      {OpId::PointwiseLoss, pointwise_loss_cases},
      {OpId::BceWithLogits, bce_cases},
      {OpId::Ssim, ssim_cases},
      {OpId::FocalLoss, focal_cases},
      {OpId::Fusion, fusion_cases},
      {OpId::KlSparsity, kl_sparsity_cases},
      {OpId::Adam, adam_cases},
      {OpId::Axpy, axpy_cases},
      {OpId::Fill, fill_cases},
      {OpId::FlagNonfinite, flag_nonfinite_cases},
      {OpId::ScaleByInverse, scale_by_inverse_cases},
  };
  return table;
}

std::vector<ops::OpId> ops_without_entry(const std::vector<OpEntry>& table) {
  std::vector<ops::OpId> missing;
  for (int i = 0; i < static_cast<int>(ops::OpId::Count); ++i) {
    const auto id = static_cast<ops::OpId>(i);
    const bool has = std::any_of(table.begin(), table.end(),
                                 [id](const OpEntry& e) { return e.id == id && e.cases && !e.cases().empty(); });
    if (!has) missing.push_back(id);
  }
  return missing;
}

}  // namespace sad::test
