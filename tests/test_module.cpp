// Module tree: names, state load/store and its errors, modes, seeded initialisation,
// and the parameter arena's rebinding of values and gradients.
#include "layers/layers.h"
#include "layers/optim.h"
#include "test_util.h"

using namespace sad;

namespace {
// A two-level module: names must come out as "block.conv.weight" etc.
struct Block : Layer {
  Block() {
    conv = register_module("conv", std::make_shared<Conv2d>(2, 3, 3, 1, 1, false));
    bn = register_module("bn", std::make_shared<BatchNorm2d>(3));
  }
  Variable forward(const Variable& x) override { return relu(bn->forward(conv->forward(x))); }
  std::shared_ptr<Conv2d> conv;
  std::shared_ptr<BatchNorm2d> bn;
};
struct Net : Layer {
  Net() {
    block = register_module("block", std::make_shared<Block>());
    head = register_module("head", std::make_shared<Conv2d>(3, 1, 1));
  }
  Variable forward(const Variable& x) override { return head->forward(block->forward(x)); }
  std::shared_ptr<Block> block;
  std::shared_ptr<Conv2d> head;
};
}  // namespace

TEST_CASE("module: hierarchical names of parameters and buffers") {
  Net net;
  std::vector<std::string> names;
  for (auto& [n, v] : net.named_parameters()) names.push_back(n);
  CHECK(names ==
        std::vector<std::string>{"block.conv.weight", "block.bn.weight", "block.bn.bias", "head.weight", "head.bias"});
  std::vector<std::string> bufs;
  for (auto& [n, t] : net.named_buffers()) bufs.push_back(n);
  CHECK(bufs == std::vector<std::string>{"block.bn.running_mean", "block.bn.running_var"});
  CHECK(net.num_parameters() == 2 * 3 * 9 + 3 + 3 + 3 + 1);
  Sequential seq;
  seq.add(std::make_shared<Conv2d>(1, 1, 1)).add(std::make_shared<ReLU>()).add(std::make_shared<Conv2d>(1, 1, 1));
  names.clear();
  for (auto& [n, v] : seq.named_parameters()) names.push_back(n);
  CHECK(names == std::vector<std::string>{"0.weight", "0.bias", "2.weight", "2.bias"});
}

TEST_CASE("module: seeded initialisation follows the DCGAN convention and replays") {
  Net a, b;
  Rng ra(42), rb(42);
  init_parameters(a, ra);
  init_parameters(b, rb);
  auto sa = a.state(), sb = b.state();
  for (size_t i = 0; i < sa.size(); ++i) CHECK(sa[i].second.to_vector() == sb[i].second.to_vector());
  // conv weights ~ N(0, 0.02): sample std within 30% (54 samples: loose on purpose).
  auto w = a.block->conv->weight.data().to_vector_f64();
  double s2 = 0;
  for (double x : w) s2 += x * x;
  double sd = std::sqrt(s2 / static_cast<double>(w.size()));
  CHECK(sd > 0.014);
  CHECK(sd < 0.026);
  CHECK(a.block->bn->weight.data().to_vector() == std::vector<float>{1, 1, 1});
  CHECK(a.head->bias.data().to_vector() == std::vector<float>{0});
  Net c;
  Rng rc(43);
  init_parameters(c, rc);
  CHECK(c.block->conv->weight.data().to_vector() != a.block->conv->weight.data().to_vector());
}

TEST_CASE("module: load_state copies by name and rejects mismatches clearly") {
  Net a, b;
  Rng ra(1), rb(2);
  init_parameters(a, ra);
  init_parameters(b, rb);
  b.load_state(a.state(), "a.safetensors");
  CHECK(b.head->weight.data().to_vector() == a.head->weight.data().to_vector());

  auto st = a.state();
  st.pop_back();  // drop a buffer
  CHECK_THROWS_WITH_AS(b.load_state(st, "m.safetensors"),
                       doctest::Contains("m.safetensors: tensor 'block.bn.running_var' is missing"), Error);
  st = a.state();
  st[0].second = Tensor::zeros({3, 2, 5, 5});
  CHECK_THROWS_WITH_AS(b.load_state(st, "m.safetensors"), doctest::Contains("has shape (3, 2, 5, 5)"), Error);
  st = a.state();
  st.emplace_back("extra.weight", Tensor::zeros({1}));
  CHECK_THROWS_WITH_AS(b.load_state(st, "m.safetensors"), doctest::Contains("unexpected tensor 'extra.weight'"), Error);
  CHECK_NOTHROW(b.load_state(st, "m.safetensors", /*strict=*/false));
}

TEST_CASE("module: train and eval propagate to children") {
  Net net;
  CHECK(net.block->bn->is_training());
  net.eval();
  CHECK(!net.block->bn->is_training());
  net.train();
  CHECK(net.block->bn->is_training());
}

TEST_CASE("module: parameter arena rebinds values and gradients into one buffer each") {
  Net net;
  Rng r(3);
  init_parameters(net, r);
  auto before = net.head->weight.data().to_vector();
  ParameterArena arena(net.parameters());
  CHECK(net.head->weight.data().to_vector() == before);  // values preserved
  CHECK(net.head->weight.data().storage() == arena.data().storage());
  CHECK(net.head->weight.grad().storage() == arena.grad().storage());
  CHECK(arena.total() % 16 == 0);

  // A backward pass lands in the gradient arena; zero_grad clears it in one fill.
  Variable x(sad::test::random_tensor({2, 2, 5, 5}, 9, -1, 1, DType::F32));
  mean(net.forward(x)).backward();
  double s = 0;
  for (float g : arena.grad().to_vector()) s += std::abs(g);
  CHECK(s > 0);
  arena.zero_grad();
  for (float g : net.head->weight.grad().to_vector()) CHECK(g == 0.0f);
}
