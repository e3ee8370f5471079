// The training steps of model/steps.h on their own, without a dataset: each moves exactly
// the parameters it should (phase 1: G and D; phase 2: S, never G), leaves the modes
// METHOD.md asks for, and replays bit for bit from the same seed.
#include <cmath>

#include "model/anomaly_model.h"
#include "model/steps.h"
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
  std::shared_ptr<Generator> g = std::make_shared<Generator>(tiny_net());
  std::shared_ptr<Discriminator> d = std::make_shared<Discriminator>(tiny_net());
  std::shared_ptr<Segmenter> s = std::make_shared<Segmenter>(tiny_net());
  ParameterArena ag{g->parameters()}, ad{d->parameters()}, as{s->parameters()};
  Adam opt_g{ag, {2e-4f, 0.5f, 0.999f, 1e-8f, 0.0f}}, opt_d{ad, {2e-4f, 0.5f, 0.999f, 1e-8f, 0.0f}};
  Adam opt_s{as, {1e-3f, 0.9f, 0.999f, 1e-8f, 0.0f}};
  Tensor x = test::random_tensor({4, 1, 32, 32}, 1, -1, 1, DType::F32);
  Tensor xt = test::random_tensor({4, 1, 32, 32}, 2, -1, 1, DType::F32);
  Tensor labels = Tensor::from_vector({1, 0, 1, 0}, {4});
  Nets() {
    Rng r(7);
    init_parameters(*g, r);
    init_parameters(*d, r);
    init_parameters(*s, r);
  }
};

bool same(const Tensor& a, const Tensor& b) { return a.to_vector() == b.to_vector(); }

}  // namespace

TEST_CASE("gan_step updates G and D and sets training mode") {
  Nets n;
  n.g->eval();
  Tensor g0 = n.ag.data().clone(), d0 = n.ad.data().clone(), s0 = n.as.data().clone();
  GanStepLosses l = gan_step(*n.g, *n.d, n.opt_g, n.opt_d, n.x, n.xt, {});
  CHECK(std::isfinite(l.loss_d));
  CHECK(std::isfinite(l.loss_g));
  CHECK(l.mse > 0);
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
  SegStepOptions o;
  double l = seg_step(*n.g, *n.s, n.opt_s, n.xt, n.labels, Tensor(), o);
  CHECK(std::isfinite(l));
  CHECK(l > 0);
  CHECK_FALSE(n.g->is_training());
  CHECK(n.s->is_training());
  CHECK(same(n.ag.data(), g0));  // no gradient into G
  CHECK_FALSE(same(n.as.data(), s0));
  // The mask-supervised ablation takes the masks instead of the weak labels.
  o.mask_supervised = true;
  Tensor masks = Tensor::zeros({4, 1, 32, 32});
  CHECK(std::isfinite(seg_step(*n.g, *n.s, n.opt_s, n.xt, n.labels, masks, o)));
}

TEST_CASE("training steps replay bit for bit from the same seed") {
  Nets a, b;
  for (int i = 0; i < 2; ++i) {
    GanStepLosses la = gan_step(*a.g, *a.d, a.opt_g, a.opt_d, a.x, a.xt, {});
    GanStepLosses lb = gan_step(*b.g, *b.d, b.opt_g, b.opt_d, b.x, b.xt, {});
    CHECK(la.loss_d == lb.loss_d);
    CHECK(la.loss_g == lb.loss_g);
  }
  CHECK(seg_step(*a.g, *a.s, a.opt_s, a.xt, a.labels, Tensor(), {}) ==
        seg_step(*b.g, *b.s, b.opt_s, b.xt, b.labels, Tensor(), {}));
  CHECK(same(a.as.data(), b.as.data()));
}
