// Golden checks against PyTorch: every layer type, every loss and one training step of
// each phase, compared with the PyTorch twin of METHOD.md (tools/torch_ref). The
// fixtures tests/data/golden/*.safetensors are read with our own safetensors reader; no
// Python is needed here. How they are made and how to regenerate them: docs/GOLDEN.md
// and tools/torch_ref/make_golden.py. The training steps are the trainer's own
// (model/train_step.h), fed explicit inputs (x, x~, mask, weak labels), so no random
// number generator has to agree between the two sides.
//
// The reference ran in float64 from float32-exact inputs and weights, so an error below
// is ours alone. A tensor passes when every element satisfies
//     |got - expected| <= scale * max|expected| + rtol * |expected|
// (the first term, relative to the tensor's largest value, absorbs elements that are
// near zero only by cancellation: a gradient entry of 1e-9 next to entries of 1e-1 has
// no meaningful relative error in float32). Each tolerance is about 5x the worst error
// observed (docs/GOLDEN.md lists them), so a real change of any term fails.
//
//   tensor kind                                  scale   rtol    why
//   layer op run in float64                      1e-7    1e-7    op parameters are float32 in
//                                                                ops.h (slope 0.2f, momentum 0.1f,
//                                                                K1 0.01f, rho 0.03f, ...): relative
//                                                                1e-8 inputs, amplified <= 10x
//   layer op run in float32, output or gradient  1e-6    1e-5    one op: a few float32 roundings;
//                                                                SSIM's 1 / (s_xx + s_yy + C2)
//                                                                amplifies them most
//   loss value (a scalar), float32               0       1e-5    double accumulators inside
//   network output: x^, r, logits, maps M        3e-5    3e-4    ~20 float32 layers; train-mode BN
//                                                                over 8 values at G's bottleneck
//   BN running statistics after a step           1e-5    1e-4    batch statistics of those layers
//   parameter gradient after a step              2e-4    1e-3    float32 forward and backward
//                                                                through ~40 layers
//   weights after one Adam step                  0.02 lr absolute, 2 lr where PyTorch's |g| is
//                                                within the gradient tolerance (the step's sign
//                                                is then undetermined; at most 10% of weights)
//   image score                                  0       1e-5    max of a network output
//   loss trajectory over 5 Adam steps            0       2e-4    plus 2 |PyTorch float32 - float64|
//                                                                at that step: float32 training
//                                                                drifts from float64 by itself
// SPARSEAD_GOLDEN_VERBOSE=1 prints, per tensor, the worst |got - expected| over its tolerance.
#include "golden_util.h"

using namespace sad;
namespace fs = std::filesystem;

using namespace sad::test::golden;

// ---- the fixture files themselves ------------------------------------------------------------

TEST_CASE("golden: a fixture of another version fails with the regenerate command") {
  test::TempDir tmp("golden-version");
  const std::string p = (tmp.path() / "old.safetensors").string();
  save_safetensors(p, {{"x", Tensor::zeros({1})}}, {{"fixture_version", "0"}});
  std::string err = fixture_version_error(load_safetensors(p));
  CHECK(err.find("regenerate with: tools/setup-python.sh && .venv/bin/python tools/torch_ref/make_golden.py") !=
        std::string::npos);
  CHECK(err.find("version 0") != std::string::npos);
  save_safetensors(p, {{"x", Tensor::zeros({1})}}, {});
  CHECK(fixture_version_error(load_safetensors(p)).find("version none") != std::string::npos);
  for (const char* name : {"layers", "weights", "phase1", "phase2_sparse_kl", "phase2_batch_prior",
                           "phase2_mask_supervised", "inference"}) {
    SafetensorsFile f = open_fixture(std::string(name) + ".safetensors");
    CHECK_MESSAGE(fixture_version_error(f).empty(), name);
  }
}

TEST_CASE("golden: the fixtures' settings are METHOD.md's defaults as Config has them") {
  for (const char* name : {"phase1", "phase2_sparse_kl", "phase2_batch_prior", "phase2_mask_supervised"}) {
    SafetensorsFile f = open_fixture(std::string(name) + ".safetensors");
    Json s = fixture_settings(f);
    Json ours = golden_config(s).to_json();
    for (const auto& [key, value] : s.as_object()) {
      const Json* mine = ours.find(key);
      REQUIRE_MESSAGE(mine, name << ": the fixture's setting '" << key << "' is no Config key");
      CHECK_MESSAGE(*mine == value, name << ": " << key << " is " << value.dump() << " in the fixture, " << mine->dump()
                                         << " in Config");
    }
  }
}

// ---- layers ------------------------------------------------------------------------------------

TEST_CASE("golden: conv2d matches PyTorch (3x3 4x4 1x1 strides 1 and 2)") {
  SafetensorsFile f = open_fixture("layers.safetensors");
  struct ConvCase {
    const char* name;
    int stride, pad;
    bool bias;
  };
  for (ConvCase c : {ConvCase{"conv3x3_s1_bias", 1, 1, true}, ConvCase{"conv3x3_s2", 2, 1, false},
                     ConvCase{"conv4x4_s2_bias", 2, 1, true}, ConvCase{"conv4x4_s1_bias", 1, 1, true},
                     ConvCase{"conv1x1_s2", 2, 0, false}}) {
    std::vector<std::string> inputs{"x", "weight"};
    if (c.bias) inputs.push_back("bias");
    check_layer_case_both(f, c.name, inputs, false, [&](Leaves& l, DType) {
      return conv2d(l.at("x"), l.at("weight"), c.bias ? l.at("bias") : Variable(), {c.stride, c.stride, c.pad, c.pad});
    });
  }
}

TEST_CASE("golden: batch norm in training and eval mode matches PyTorch") {
  SafetensorsFile f = open_fixture("layers.safetensors");
  for (bool training : {true, false}) {
    const std::string c = training ? "batch_norm_train" : "batch_norm_eval";
    for (DType dt : {DType::F64, DType::F32}) {
      Tensor rm = in(f, c + ".running_mean", dt).clone(), rv = in(f, c + ".running_var", dt).clone();
      const Tol tol = dt == DType::F64 ? kOpF64 : kOpF32;
      check_layer_case(f, c, {"x", "gamma", "beta"}, false, dt, tol, [&](Leaves& l) {
        return batch_norm2d(l.at("x"), l.at("gamma"), l.at("beta"), rm, rv, {training, 0.1f, 1e-5f});
      });
      compare(rm, f.get(c + ".running_mean_after"), tol, c + ".running_mean_after");
      compare(rv, f.get(c + ".running_var_after"), tol, c + ".running_var_after");
    }
  }
}

TEST_CASE("golden: activations and nearest upsampling match PyTorch") {
  SafetensorsFile f = open_fixture("layers.safetensors");
  const std::map<std::string, std::function<Variable(const Variable&)>> cases{
      {"relu", [](const Variable& x) { return relu(x); }},
      {"leaky_relu", [](const Variable& x) { return leaky_relu(x, 0.2f); }},
      {"tanh", [](const Variable& x) { return tanh(x); }},
      {"sigmoid", [](const Variable& x) { return sigmoid(x); }},
      {"upsample_nearest", [](const Variable& x) { return upsample_nearest(x, 2); }}};
  for (const auto& [name, fn] : cases)
    check_layer_case_both(f, name, {"x"}, false, [&](Leaves& l, DType) { return fn(l.at("x")); });
}

TEST_CASE("golden: the fusion op and the fusion block match PyTorch") {
  SafetensorsFile f = open_fixture("layers.safetensors");
  check_layer_case_both(f, "fusion", {"a", "b"}, false, [](Leaves& l, DType) { return fusion(l.at("a"), l.at("b")); });
  const std::string c = "fusion_block";
  for (DType dt : {DType::F64, DType::F32}) {
    Tensor rm = in(f, c + ".running_mean", dt).clone(), rv = in(f, c + ".running_var", dt).clone();
    const Tol tol = dt == DType::F64 ? kOpF64 : kOpF32;
    check_layer_case(f, c, {"a", "b", "weight", "gamma", "beta"}, false, dt, tol, [&](Leaves& l) {
      Variable h = conv2d(fusion(l.at("a"), l.at("b")), l.at("weight"), Variable(), {1, 1, 0, 0});
      return relu(batch_norm2d(h, l.at("gamma"), l.at("beta"), rm, rv, {true, 0.1f, 1e-5f}));
    });
    compare(rm, f.get(c + ".running_mean_after"), tol, c + ".running_mean_after");
    compare(rv, f.get(c + ".running_var_after"), tol, c + ".running_var_after");
  }
}

TEST_CASE("golden: SSIM (the loss and the same-size and valid maps) matches PyTorch") {
  SafetensorsFile f = open_fixture("layers.safetensors");
  check_layer_case_both(
      f, "ssim_valid_mean", {"x", "y"}, true,
      [](Leaves& l, DType) { return ssim(l.at("x"), l.at("y"), ssim_loss_params()); }, kOpF32);
  check_layer_case_both(
      f, "ssim_map_same", {"x", "y"}, false,
      [](Leaves& l, DType) { return ssim_map(l.at("x"), l.at("y"), ssim_map_params()); }, kOpF32);
  check_layer_case_both(
      f, "ssim_map_valid", {"x", "y"}, false,
      [](Leaves& l, DType) { return ssim_map(l.at("x"), l.at("y"), ssim_loss_params()); }, kOpF32);
}

TEST_CASE("golden: mse bce focal and the GAN losses match PyTorch") {
  SafetensorsFile f = open_fixture("layers.safetensors");
  check_layer_case_both(f, "mse", {"a", "b"}, true, [](Leaves& l, DType) { return mse_loss(l.at("a"), l.at("b")); });
  check_layer_case_both(f, "bce", {"logits"}, true,
                        [&](Leaves& l, DType dt) { return bce_with_logits(l.at("logits"), in(f, "bce.target", dt)); });
  check_layer_case_both(f, "focal", {"logits"}, true, [&](Leaves& l, DType dt) {
    return focal_loss(l.at("logits"), in(f, "focal.target", dt), {2.0f, -1.0f});
  });
  check_layer_case_both(f, "discriminator_loss", {"d_real", "d_fake"}, true,
                        [](Leaves& l, DType) { return discriminator_loss(l.at("d_real"), l.at("d_fake")); });
  for (DType dt : {DType::F64, DType::F32}) {
    GeneratorLoss parts;
    check_layer_case(
        f, "generator_loss", {"x_hat", "d_fake"}, true, dt, dt == DType::F64 ? kOpF64 : kOpF32, [&](Leaves& l) {
          parts =
              generator_loss(l.at("x_hat"), Variable(in(f, "generator_loss.x", dt)), l.at("d_fake"), GanLossWeights{});
          return parts.total;
        });
    const Tol tol = dt == DType::F64 ? kOpF64 : kLoss;
    compare_scalar(parts.mse.item(), f.get("generator_loss.mse").item(), tol, "generator_loss.mse");
    compare_scalar(parts.ssim.item(), f.get("generator_loss.ssim").item(), tol, "generator_loss.ssim");
    compare_scalar(parts.adv.item(), f.get("generator_loss.adv").item(), tol, "generator_loss.adv");
  }
}

TEST_CASE("golden: kl_sparsity with weak labels and with a batch-level prior matches PyTorch") {
  SafetensorsFile f = open_fixture("layers.safetensors");
  struct KlCase {
    const char* name;
    ops::KlSparsityParams p;
  };
  for (KlCase c :
       {KlCase{"kl_weak", {0.03f, 1.0f, 1.0f, true}}, KlCase{"kl_batch_prior", {0.02f, 10.0f, 1.0f, false}},
        KlCase{"kl_weak_lambda", {0.05f, 2.0f, 0.5f, true}}, KlCase{"kl_clamped", {0.03f, 1.0f, 1.0f, true}}}) {
    const std::string n = c.name;
    check_layer_case_both(f, n, {"logits"}, true, [&](Leaves& l, DType dt) {
      return kl_sparsity(l.at("logits"), in(f, n + ".residual", dt), in(f, n + ".labels", dt), c.p);
    });
  }
}

TEST_CASE("golden: residual evidence (l1 ssim mix) matches PyTorch") {
  SafetensorsFile f = open_fixture("layers.safetensors");
  for (DType dt : {DType::F64, DType::F32}) {
    Tensor xt = in(f, "residual.x_tilde", dt), xh = in(f, "residual.x_hat", dt);
    const Tol tol = dt == DType::F64 ? kOpF64 : kOpF32;
    for (const char* kind : {"l1", "ssim", "mix"})
      for (bool normalise : {false, true}) {
        std::string name = std::string("residual.") + kind + (normalise ? "_normalised" : "");
        compare(residual_evidence(xt, xh, parse_enum<ResidualKind>(kind, "fixture residual kind"), normalise),
                f.get(name), tol, name + " [" + dtype_name(dt) + "]");
      }
  }
}

TEST_CASE("golden: the image score box filter matches PyTorch") {
  SafetensorsFile f = open_fixture("layers.safetensors");
  for (int s : {32, 48, 64}) {
    const std::string c = "image_score_" + std::to_string(s);
    for (DType dt : {DType::F64, DType::F32}) {
      Tensor map = in(f, c + ".map", dt);
      const Tol tol = dt == DType::F64 ? kOpF64 : kOpF32;
      compare_scalar(image_score_from_map(map), f.get(c + ".score").item(), tol, c + ".score");
      const int side = static_cast<int>(f.get(c + ".side").item());
      Tensor out = Tensor::empty({1, 1, s, s}, dt);
      ops::avg_pool2d_forward({side, 1, side / 2, false}, map.reshape({1, 1, s, s}), out);
      compare(out.reshape({s, s}), f.get(c + ".filtered"), tol, c + ".filtered");
    }
  }
}

TEST_CASE("golden: Adam matches torch.optim.Adam over three steps") {
  SafetensorsFile f = open_fixture("layers.safetensors");
  Config cfg;
  for (DType dt : {DType::F64, DType::F32}) {
    Variable p(in(f, "adam.param", dt), true);
    ParameterArena arena({p});
    Adam adam(arena, adam_config_g(cfg));
    const Tol tol = dt == DType::F64 ? kOpF64 : kOpF32;
    for (int k = 0; k < 3; ++k) {
      Tensor g = p.grad();
      g.copy_from(in(f, "adam.grad" + std::to_string(k), dt));
      adam.step();
      compare(p.data(), f.get("adam.param" + std::to_string(k)), tol, "adam.param" + std::to_string(k));
    }
    compare(adam.m().view_at(0, {37}), f.get("adam.m"), tol, "adam.m");
    compare(adam.v().view_at(0, {37}), f.get("adam.v"), tol, "adam.v");
  }
}
