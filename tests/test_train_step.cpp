// The training steps of model/train_step.h on their own, without a dataset: each moves
// exactly the parameters it should (phase 1: G and D; phase 2: S, never G), leaves the
// modes METHOD.md asks for, and replays bit for bit from the same seed. (The golden tests
// check the same steps' values against PyTorch; these check what they touch.)
#include <cmath>
#include <limits>

#include "model/anomaly_model.h"
#include "model/train_step.h"
#include "test_util.h"

using namespace sad;

namespace {

NetConfig tiny_net() {
  NetConfig n;
  n.channels = 1;
  n.width = 4;
  return n;
}

struct Nets {
  Config cfg;
  std::shared_ptr<Generator> g = std::make_shared<Generator>(tiny_net());
  std::shared_ptr<Discriminator> d = std::make_shared<Discriminator>(tiny_net());
  std::shared_ptr<Segmenter> s = std::make_shared<Segmenter>(tiny_net());
  ParameterArena ag{g->parameters()}, ad{d->parameters()}, as{s->parameters()};
  Adam opt_g{ag, adam_config_g(cfg)}, opt_d{ad, adam_config_d(cfg)}, opt_s{as, adam_config_s(cfg)};
  Tensor x = test::random_tensor({4, 1, 32, 32}, 1, -1, 1, DType::F32);
  Tensor xt = test::random_tensor({4, 1, 32, 32}, 2, -1, 1, DType::F32);
  Tensor labels = Tensor::from_vector({1, 0, 1, 0}, {4});
  Tensor masks = Tensor::zeros({4, 1, 32, 32});
  Nets() {
    Rng r(7);
    init_parameters(*g, r);
    init_parameters(*d, r);
    init_parameters(*s, r);
  }
  GanStepResult gan() { return gan_step(*g, *d, opt_g, opt_d, x, xt, gan_loss_weights(cfg)); }
  SegStepResult seg(const SegLossSettings& st) { return seg_step(*g, *s, opt_s, st, xt, masks, labels); }
};

bool same(const Tensor& a, const Tensor& b) { return a.to_vector() == b.to_vector(); }

}  // namespace

TEST_CASE("gan_step updates G and D and sets training mode") {
  Nets n;
  n.g->eval();
  n.d->eval();
  Tensor g0 = n.ag.data().clone(), d0 = n.ad.data().clone(), s0 = n.as.data().clone();
  GanStepResult r = n.gan();
  CHECK(std::isfinite(r.loss_d));
  CHECK(std::isfinite(r.loss_g));
  CHECK(r.mse > 0);
  CHECK(n.g->is_training());
  CHECK(n.d->is_training());
  CHECK_FALSE(same(n.ag.data(), g0));
  CHECK_FALSE(same(n.ad.data(), d0));
  CHECK(same(n.as.data(), s0));
  CHECK(n.opt_g.steps() == 1);
  CHECK(n.opt_d.steps() == 1);
}

TEST_CASE("seg_step updates S only with G frozen in eval mode") {
  Nets n;
  Tensor g0 = n.ag.data().clone(), s0 = n.as.data().clone();
  SegLossSettings st = seg_loss_settings(n.cfg);
  SegStepResult r = n.seg(st);
  CHECK(std::isfinite(r.loss));
  CHECK(r.loss > 0);
  CHECK_FALSE(n.g->is_training());
  CHECK(n.s->is_training());
  CHECK(same(n.ag.data(), g0));  // no gradient into G
  CHECK_FALSE(same(n.as.data(), s0));
  CHECK(n.opt_s.steps() == 1);
  // The mask-supervised ablation reads the masks instead of the weak labels.
  st.mask_supervised = true;
  CHECK(std::isfinite(n.seg(st).loss));
}

TEST_CASE("training steps replay bit for bit from the same seed") {
  Nets a, b;
  for (int i = 0; i < 2; ++i) {
    GanStepResult ra = a.gan(), rb = b.gan();
    CHECK(ra.loss_d == rb.loss_d);
    CHECK(ra.loss_g == rb.loss_g);
  }
  const SegLossSettings st = seg_loss_settings(a.cfg);
  CHECK(a.seg(st).loss == b.seg(st).loss);
  CHECK(same(a.ag.data(), b.ag.data()));
  CHECK(same(a.as.data(), b.as.data()));
}

// ---- the step guard: a non-finite loss never reaches the weights ------------------------------

namespace {
// One NaN pixel. In phase 1 it goes into the clean image x (D's real input and L_G's target:
// G's ReLUs would absorb it in x~); in phase 2 into x~, whose residual it spoils.
Tensor with_nan(const Tensor& t) {
  std::vector<float> v = t.to_vector();
  v[5] = std::numeric_limits<float>::quiet_NaN();
  return Tensor::from_vector(v, t.shape());
}
}  // namespace

TEST_CASE("a step without a guard reads its losses and a non-finite one throws before any update") {
  Nets n;
  n.x = with_nan(n.x);
  n.xt = with_nan(n.xt);
  Tensor g0 = n.ag.data().clone(), d0 = n.ad.data().clone(), s0 = n.as.data().clone();
  // The NaN's sign (printed "nan" or "-nan") depends on the build, so the message is checked
  // around it.
  std::string msg;
  try {
    gan_step(*n.g, *n.d, n.opt_g, n.opt_d, n.x, n.xt, gan_loss_weights(n.cfg), {2, 9});
  } catch (const Error& e) {
    msg = e.what();
  }
  CHECK_MESSAGE(msg.rfind("training diverged: L_D is ", 0) == 0, msg);
  CHECK_MESSAGE(msg.find("nan at epoch 2, step 9 (try a lower learning rate)") != std::string::npos, msg);
  CHECK_THROWS_WITH_AS(n.seg(seg_loss_settings(n.cfg)), doctest::Contains("training diverged: L_S is"), Error);
  CHECK(same(n.ag.data(), g0));
  CHECK(same(n.ad.data(), d0));
  CHECK(same(n.as.data(), s0));
}

TEST_CASE("a guarded step reads nothing: its losses stay on the device and a NaN raises the flag and skips Adam") {
  // Finite: the guarded step's losses are the unguarded step's, and the flag stays clear.
  Nets a, b;
  StepGuard guard{Tensor::zeros({1})};
  for (Adam* o : {&b.opt_g, &b.opt_d, &b.opt_s}) o->set_skip_flag(guard.flag);
  GanStepResult ra = a.gan();
  GanStepResult rb = gan_step(*b.g, *b.d, b.opt_g, b.opt_d, b.x, b.xt, gan_loss_weights(b.cfg), {}, {}, &guard);
  CHECK(rb.loss_d == 0);  // nothing read on the host
  REQUIRE(rb.losses.numel() == 5);
  CHECK(rb.losses.to_vector_f64() == std::vector<double>{ra.loss_d, ra.loss_g, ra.mse, ra.ssim, ra.adv});
  const SegLossSettings st = seg_loss_settings(a.cfg);
  SegStepResult sa = a.seg(st);
  SegStepResult sb = seg_step(*b.g, *b.s, b.opt_s, st, b.xt, b.masks, b.labels, {}, &guard);
  CHECK(sb.losses.to_vector_f64() == std::vector<double>{sa.loss});
  CHECK(guard.flag.item() == 0.0);
  CHECK(same(a.ag.data(), b.ag.data()));
  CHECK(same(a.ad.data(), b.ad.data()));
  CHECK(same(a.as.data(), b.as.data()));

  // A NaN in x~: the step runs to its end without throwing, the flag rises, and no Adam
  // step changes a weight or a moment, in this step or the next ones (the flag is sticky).
  b.x = with_nan(b.x);
  b.xt = with_nan(b.xt);
  Tensor g0 = b.ag.data().clone(), d0 = b.ad.data().clone(), s0 = b.as.data().clone();
  Tensor gm = b.opt_g.m().clone(), sm = b.opt_s.m().clone();
  GanStepResult bad = gan_step(*b.g, *b.d, b.opt_g, b.opt_d, b.x, b.xt, gan_loss_weights(b.cfg), {}, {}, &guard);
  CHECK(std::isnan(bad.losses.to_vector_f64()[0]));
  CHECK(guard.flag.item() == 1.0);
  seg_step(*b.g, *b.s, b.opt_s, st, b.xt, b.masks, b.labels, {}, &guard);
  b.x = a.x, b.xt = a.xt;  // finite again: the flag still holds every update back
  gan_step(*b.g, *b.d, b.opt_g, b.opt_d, b.x, b.xt, gan_loss_weights(b.cfg), {}, {}, &guard);
  CHECK(same(b.ag.data(), g0));
  CHECK(same(b.ad.data(), d0));
  CHECK(same(b.as.data(), s0));
  CHECK(same(b.opt_g.m(), gm));
  CHECK(same(b.opt_s.m(), sm));
}

TEST_CASE("contrast_labels keeps label 1 only where the perturbation stands out in the residual") {
  // Four 2 x 2 images: 0 normal; 1 perturbed where r is 5 against 1 elsewhere (contrast 5);
  // 2 perturbed where r equals the rest (contrast 1); 3 labelled 1 with an empty mask.
  Tensor r = Tensor::from_vector({1, 1, 1, 1, 5, 1, 1, 1, 2, 2, 2, 2, 1, 1, 1, 1}, {4, 1, 2, 2});
  Tensor m = Tensor::from_vector({0, 0, 0, 0, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0}, {4, 1, 2, 2});
  Tensor y = Tensor::from_vector({0, 1, 1, 1}, {4});
  ContrastLabels c = contrast_labels(r, m, y, 2.0);
  CHECK(c.labels.to_vector() == std::vector<float>{0, 1, 0, 0});
  CHECK(c.perturbed == 3);
  CHECK(c.kept == 1);
  CHECK(contrast_labels(r, m, y, 1.0).labels.to_vector() == std::vector<float>{0, 1, 1, 0});
  CHECK(contrast_labels(r, m, y, 6.0).labels.to_vector() == std::vector<float>{0, 0, 0, 0});
  CHECK_THROWS_AS(contrast_labels(r, m, Tensor::zeros({3}), 2.0), Error);
}

TEST_CASE("seg_step with label_contrast trains on the relabelled images") {
  // Empty masks: every perturbed label drops to 0, so the step equals one with labels 0.
  Nets a, b;
  SegLossSettings st = seg_loss_settings(a.cfg);
  st.label_contrast = 1.5;
  SegStepResult ra = a.seg(st);
  CHECK(ra.perturbed == 2);
  CHECK(ra.kept == 0);
  b.labels = Tensor::zeros({4});
  SegStepResult rb = b.seg(seg_loss_settings(b.cfg));
  CHECK(ra.loss == rb.loss);
  CHECK(same(a.as.data(), b.as.data()));
  // Without the option the labels stand: another loss.
  Nets c;
  CHECK(c.seg(seg_loss_settings(c.cfg)).loss != ra.loss);
}

TEST_CASE("residual_excess subtracts the floor per pixel and clips at 0") {
  Tensor r = Tensor::from_vector({0.5f, 2, 3, 1, 4, 0, 1, 1}, {2, 1, 2, 2});
  Tensor floor = Tensor::from_vector({1, 1, 2, 0.5f}, {1, 1, 2, 2});
  CHECK(residual_excess(r, floor).to_vector() == std::vector<float>{0, 1, 1, 0.5f, 3, 0, 0, 0.5f});
  CHECK_THROWS_AS(residual_excess(r, Tensor::zeros({1, 1, 2, 3})), Error);
  CHECK_THROWS_AS(residual_excess(r, Tensor::zeros({2, 1, 2, 2})), Error);
}

TEST_CASE("mean_residual is the per-pixel mean of G's normalised residual over the batches") {
  Nets n;
  const Tensor b0 = n.x, b1 = n.xt;
  Tensor m = mean_residual(
      *n.g, 2, [&](int64_t i) { return i == 0 ? b0 : b1; }, ResidualKind::Mix);
  REQUIRE(m.shape() == Shape{1, 1, 32, 32});
  // By hand: each batch's normalised residual, summed over its 4 images, over 8 images.
  std::vector<double> want(32 * 32, 0.0);
  {
    NoGradGuard ng;
    n.g->eval();
    for (const Tensor& b : {b0, b1}) {
      const std::vector<double> v =
          residual_evidence(b, n.g->forward(Variable(b)).data(), ResidualKind::Mix, true).to_vector_f64();
      for (size_t k = 0; k < v.size(); ++k) want[k % want.size()] += v[k] / 8;
    }
  }
  test::check_close(m.to_vector_f64(), want, 1e-6, 1e-6, "mean residual");
  double avg = 0;
  for (double v : want) avg += v / static_cast<double>(want.size());
  CHECK(avg == doctest::Approx(1.0).epsilon(1e-4));  // normalised: each batch's mean is 1
}

TEST_CASE("seg_step with a residual floor fits the excess residual") {
  // A zero floor changes nothing, bit for bit; a floor above every residual leaves no fit
  // term, the same step as lambda_fit = 0.
  Nets a, b, c, d;
  SegLossSettings st = seg_loss_settings(a.cfg);
  st.residual_floor = Tensor::zeros({1, 1, 32, 32});
  SegStepResult ra = a.seg(st), rb = b.seg(seg_loss_settings(b.cfg));
  CHECK(ra.loss == rb.loss);
  CHECK(same(a.as.data(), b.as.data()));
  st.residual_floor = Tensor::full({1, 1, 32, 32}, 1e6);
  SegStepResult rc = c.seg(st);
  SegLossSettings no_fit = seg_loss_settings(d.cfg);
  no_fit.kl.lambda_fit = 0;
  SegStepResult rd = d.seg(no_fit);
  CHECK(rc.loss == rd.loss);
  CHECK(same(c.as.data(), d.as.data()));
  CHECK(rc.loss != ra.loss);
}
