// The training-time perturbation: Perlin noise properties, every condition of METHOD.md
// checked independently on many draws, the blend formula on constant images, the
// give-up rule, determinism from the seed and the frequency of p_perturb.
#include <cmath>

#include "data/dataset.h"
#include "data/perturb.h"
#include "test_util.h"

using namespace sad;
using namespace sad::data;

namespace {

// A smooth test image in [-0.6, 0.6] (C, S, S): structure, no clipping at rest.
Tensor smooth_image(int c, int s, uint64_t seed) {
  Rng rng(seed);
  Tensor x = Tensor::empty({c, s, s});
  for (int ch = 0; ch < c; ++ch) {
    Tensor n = perlin_noise(s, s, 4, 4, rng);
    for (int64_t i = 0; i < s * s; ++i) x.data<float>()[ch * s * s + i] = 0.6f * n.data<float>()[i];
  }
  return x;
}

struct Stats {
  double area = 0, visibility = 0, max_abs = 0, outside_change = 0;
};

// Independent recomputation of the conditions from the outputs alone.
Stats measure(const Tensor& x, const Perturbed& p) {
  const int64_t c = x.dim(0), plane = x.dim(1) * x.dim(2);
  const float* xs = x.data<float>();
  const float* ys = p.image.data<float>();
  const float* ms = p.mask.data<float>();
  Stats st;
  double diff = 0;
  for (int64_t i = 0; i < plane; ++i) st.area += ms[i];
  for (int64_t ch = 0; ch < c; ++ch)
    for (int64_t i = 0; i < plane; ++i) {
      const double d = std::abs(static_cast<double>(ys[ch * plane + i]) - xs[ch * plane + i]);
      if (ms[i] > 0)
        diff += d;
      else
        st.outside_change = std::max(st.outside_change, d);
      st.max_abs = std::max(st.max_abs, std::abs(static_cast<double>(ys[ch * plane + i])));
    }
  st.visibility = st.area > 0 ? diff / (st.area * c) : 0;
  st.area /= static_cast<double>(plane);
  return st;
}

}  // namespace

TEST_CASE("perlin_noise: zero at lattice points and bounded and smooth and seeded") {
  Rng rng(1);
  Tensor n = perlin_noise(32, 48, 4, 8, rng);  // lattice every 8 rows and 6 columns
  const float* p = n.data<float>();
  double lo = 0, hi = 0, max_step = 0;
  for (int i = 0; i < 32; ++i)
    for (int j = 0; j < 48; ++j) {
      const float v = p[i * 48 + j];
      if (i % 8 == 0 && j % 6 == 0) CHECK(std::abs(v) < 1e-6);  // gradient noise vanishes on the lattice
      lo = std::min<double>(lo, v);
      hi = std::max<double>(hi, v);
      if (j > 0) max_step = std::max<double>(max_step, std::abs(v - p[i * 48 + j - 1]));
    }
  CHECK(lo >= -1.0);
  CHECK(hi <= 1.0);
  CHECK(hi - lo > 0.5);  // not degenerate
  // |gradient| <= sqrt(2) * (sum of corner slopes) per lattice unit; a pixel is 1/6 unit.
  CHECK(max_step < 0.5);
  Rng a(7), b(7);
  CHECK(perlin_noise(16, 16, 2, 2, a).to_vector() == perlin_noise(16, 16, 2, 2, b).to_vector());
  CHECK_THROWS_AS(perlin_noise(16, 16, 0, 2, a), Error);
}

TEST_CASE("perturb: every perturbed output meets METHOD.md's conditions") {
  PerturbOptions opt;
  opt.p_perturb = 1.0;
  int perturbed = 0, sources[3] = {0, 0, 0};
  for (int c : {1, 3}) {
    const int s = 64;
    Tensor x = smooth_image(c, s, 100 + c);
    Tensor other = smooth_image(c, s, 200 + c);
    OtherImages others{5, 2, [&](int64_t j) {
                         CHECK(j != 2);  // never the image itself
                         return other;
                       }};
    for (uint64_t k = 0; k < 150; ++k) {
      Rng rng = Rng::stream(9, {kStreamPerturb, 0, k});
      Perturbed p = perturb(x, rng, opt, others);
      REQUIRE(p.image.shape() == x.shape());
      REQUIRE(p.mask.shape() == Shape{1, s, s});
      const Stats st = measure(x, p);
      CHECK(st.max_abs <= 1.0);         // clipped to [-1, 1]
      CHECK(st.outside_change == 0.0);  // (1 - m) x leaves the outside untouched
      int non_binary = 0;
      for (float v : p.mask.to_vector()) non_binary += v != 0.0f && v != 1.0f;
      CHECK(non_binary == 0);
      if (p.label == 1.0f) {
        ++perturbed;
        ++sources[static_cast<int>(p.source)];
        CHECK(st.area >= 0.005);
        CHECK(st.area <= 0.10);
        CHECK(st.visibility >= 0.05);
        CHECK(p.draws >= 1);
        CHECK(p.draws <= 20);
      } else {
        // y = 0 exactly when unperturbed: x~ = x and an empty mask.
        CHECK(p.label == 0.0f);
        CHECK(st.area == 0.0);
        CHECK(p.image.to_vector() == x.to_vector());
        CHECK(p.source == PerturbSource::None);
        CHECK(p.draws == 20);
      }
    }
  }
  // With p = 1 and a textured image nearly every attempt succeeds within 20 draws, and
  // each source is drawn about a third of the time (300 draws: a third is 100 +- 8 sd).
  CHECK(perturbed >= 280);
  for (int n : sources) CHECK((n > 60 && n < 140));
}

TEST_CASE("perturb: the blend x~ = (1 - m) x + m ((1 - beta) x + beta t) on constant images") {
  PerturbOptions opt;
  opt.p_perturb = 1.0;
  const int s = 48;
  Tensor x = Tensor::full({1, s, s}, 0.2);
  Tensor t = Tensor::full({1, s, s}, -0.6);
  OtherImages others{2, 0, [&](int64_t) { return t; }};
  int seen[3] = {0, 0, 0};
  for (uint64_t k = 0; k < 200; ++k) {
    Rng rng = Rng::stream(3, {kStreamPerturb, 1, k});
    Perturbed p = perturb(x, rng, opt, others);
    if (p.label == 0.0f) continue;
    ++seen[static_cast<int>(p.source)];
    if (p.source == PerturbSource::Noise) continue;  // per-pixel values: covered by the conditions test
    // Inside the mask every pixel holds the same value (constant x and t, or x + delta).
    const float* y = p.image.data<float>();
    const float* m = p.mask.data<float>();
    double v = 2;
    for (int64_t i = 0; i < s * s; ++i)
      if (m[i] > 0) {
        if (v == 2) v = y[i];
        CHECK(y[i] == doctest::Approx(v).epsilon(1e-6));
      }
    const double change = v - 0.2;
    if (p.source == PerturbSource::OtherImage) {
      const double beta = change / (-0.6 - 0.2);  // t - x = -0.8
      CHECK(beta >= 0.1 - 1e-6);
      CHECK(beta <= 1.0 + 1e-6);
    } else if (p.source == PerturbSource::Intensity) {
      // beta * delta with beta in [0.1, 1], |delta| in [0.3, 0.8]; clipped at -1 / +1.
      CHECK(std::abs(change) >= 0.03 - 1e-6);
      CHECK(std::abs(change) <= 0.8 + 1e-6);
      CHECK(v >= -1.0);
      CHECK(v <= 1.0);
    }
  }
  CHECK(seen[0] > 0);
  CHECK(seen[1] > 0);
  CHECK(seen[2] > 0);
}

TEST_CASE("perturb: gives up after 20 failed draws (y = 0 and x unchanged)") {
  Tensor x = smooth_image(1, 32, 5);
  PerturbOptions impossible;
  impossible.p_perturb = 1.0;
  impossible.min_visibility = 10.0;  // |x~ - x| <= 2 can never reach it
  Rng rng(11);
  Perturbed p = perturb(x, rng, impossible);
  CHECK(p.label == 0.0f);
  CHECK(p.draws == 20);
  CHECK(p.image.to_vector() == x.to_vector());
  CHECK(measure(x, p).area == 0.0);
  PerturbOptions no_area = impossible;
  no_area.min_visibility = 0.05;
  no_area.min_area = 0.5;  // above max_area: no region qualifies
  Rng rng2(12);
  Perturbed q = perturb(x, rng2, no_area);
  CHECK(q.label == 0.0f);
  CHECK(q.draws == 20);
}

TEST_CASE("perturb: determined by the Rng alone") {
  Tensor x = smooth_image(3, 40, 8);
  PerturbOptions opt;
  opt.p_perturb = 1.0;
  int differ = 0;
  for (uint64_t k = 0; k < 10; ++k) {
    Rng a = Rng::stream(4, {kStreamPerturb, 2, k}), b = Rng::stream(4, {kStreamPerturb, 2, k});
    Perturbed p = perturb(x, a, opt), q = perturb(x, b, opt);
    CHECK(p.image.to_vector() == q.image.to_vector());
    CHECK(p.mask.to_vector() == q.mask.to_vector());
    CHECK(p.label == q.label);
    Rng c = Rng::stream(5, {kStreamPerturb, 2, k});
    differ += perturb(x, c, opt).image.to_vector() != p.image.to_vector();
  }
  CHECK(differ >= 9);
}

TEST_CASE("perturb: p_perturb sets how often a perturbation is attempted") {
  Tensor x = smooth_image(1, 32, 6);
  for (double p : {0.0, 0.5, 1.0}) {
    PerturbOptions opt;
    opt.p_perturb = p;
    int attempted = 0, labelled = 0;
    const int n = 400;
    for (uint64_t k = 0; k < n; ++k) {
      Rng rng = Rng::stream(21, {kStreamPerturb, 3, k});
      Perturbed r = perturb(x, rng, opt);
      attempted += r.draws > 0;
      labelled += r.label == 1.0f;
    }
    // Binomial(400, 0.5) has sd 10: +-50 is 5 sd.
    CHECK(std::abs(attempted - p * n) <= 50);
    CHECK(labelled <= attempted);
    CHECK(labelled >= attempted * 0.9);  // textured image: draws rarely all fail
    if (p == 0.0) CHECK(attempted == 0);
    if (p == 1.0) CHECK(attempted == n);
  }
}

TEST_CASE("perturb: bad inputs are errors") {
  Rng rng(0);
  CHECK_THROWS_AS(perturb(Tensor::zeros({1, 8, 9}), rng), Error);  // not square
  CHECK_THROWS_AS(perturb(Tensor::zeros({8, 8}), rng), Error);     // not (C, S, S)
  PerturbOptions bad;
  bad.p_perturb = 1.5;
  CHECK_THROWS_AS(perturb(Tensor::zeros({1, 8, 8}), rng, bad), Error);
  PerturbOptions opt;
  opt.p_perturb = 1.0;
  OtherImages wrong{3, -1, [](int64_t) { return Tensor::zeros({1, 4, 4}); }};
  Tensor x = smooth_image(1, 32, 1);
  bool threw = false;
  for (uint64_t k = 0; k < 30 && !threw; ++k) {  // until the other-image source is drawn
    Rng r = Rng::stream(0, {k});
    try {
      perturb(x, r, opt, wrong);
    } catch (const Error& e) {
      threw = std::string(e.what()).find("other training image") != std::string::npos;
    }
  }
  CHECK(threw);
}

TEST_CASE("crack_region: a thin wandering line drawn from the Rng alone that perturb uses at rate p_crack") {
  const int64_t s = 64;
  int accepted = 0;
  for (uint64_t k = 0; k < 40; ++k) {
    Rng a = Rng::stream(4, {k}), b = Rng::stream(4, {k});
    Tensor m = crack_region(s, a);
    CHECK(m.to_vector() == crack_region(s, b).to_vector());  // the Rng alone decides
    const std::vector<float> v = m.to_vector();
    int64_t area = 0;
    for (float f : v) area += f == 1.0f;
    // Thin (half-width at most 1.5 at S = 64): no 6 x 6 block is all crack, as a blob would be.
    int64_t full_blocks = 0;
    for (int64_t i = 0; i + 6 <= s; ++i)
      for (int64_t j = 0; j + 6 <= s; ++j) {
        bool all = true;
        for (int64_t a2 = 0; a2 < 6 && all; ++a2)
          for (int64_t b2 = 0; b2 < 6 && all; ++b2) all = v[static_cast<size_t>((i + a2) * s + j + b2)] == 1.0f;
        full_blocks += all;
      }
    CHECK(full_blocks == 0);
    accepted += area >= s * s / 200;  // METHOD.md's minimum area: most cracks qualify
  }
  CHECK(accepted >= 20);
  // p_crack = 0 draws nothing for the lever: METHOD.md's perturbation bit for bit.
  PerturbOptions opt, off;
  opt.p_perturb = off.p_perturb = 1.0;
  off.p_crack = 0.0;
  Tensor x = smooth_image(1, s, 7);
  Rng r1 = Rng::stream(9, {1}), r2 = Rng::stream(9, {1});
  CHECK(perturb(x, r1, opt).image.to_vector() == perturb(x, r2, off).image.to_vector());
  // p_crack = 1: every accepted region is a crack, so far thinner than a Perlin blob.
  opt.p_crack = 1.0;
  int thin = 0, labelled = 0;
  for (uint64_t k = 0; k < 30; ++k) {
    Rng r = Rng::stream(10, {k});
    Perturbed p = perturb(x, r, opt);
    if (p.label < 0.5f) continue;
    ++labelled;
    double area = 0;
    for (float v : p.mask.to_vector()) area += v;
    thin += area / static_cast<double>(s * s) <= 0.06;
  }
  CHECK(labelled >= 20);
  CHECK(thin == labelled);
  opt.p_crack = 1.5;
  Rng bad = Rng::stream(1, {1});
  CHECK_THROWS_AS(perturb(x, bad, opt), Error);
}

TEST_CASE("uneven_weights: smooth low-frequency weights in [0 1] that perturb uses at rate p_uneven") {
  const int64_t s = 64;
  double covered = 0;
  for (uint64_t k = 0; k < 20; ++k) {
    Rng a = Rng::stream(6, {k}), b = Rng::stream(6, {k});
    Tensor w = uneven_weights(s, a);
    CHECK(w.to_vector() == uneven_weights(s, b).to_vector());  // the Rng alone decides
    const std::vector<float> v = w.to_vector();
    float steepest = 0;
    for (int64_t i = 0; i < s; ++i)
      for (int64_t j = 0; j < s; ++j) {
        const float x = v[static_cast<size_t>(i * s + j)];
        REQUIRE(x >= 0.0f);
        REQUIRE(x <= 1.0f);
        covered += x >= 0.5f;
        if (j + 1 < s) steepest = std::max(steepest, std::abs(v[static_cast<size_t>(i * s + j + 1)] - x));
        if (i + 1 < s) steepest = std::max(steepest, std::abs(v[static_cast<size_t>((i + 1) * s + j)] - x));
      }
    // Soft edges: one or two lattice cells across 64 pixels, so no jump from 0 to 1 between
    // neighbours (a binary mask's edge jumps by 1).
    CHECK(steepest < 0.25f);
  }
  covered /= 20.0 * s * s;
  CHECK(covered > 0.2);  // large regions: half the image on average (level centred on 0)
  CHECK(covered < 0.8);

  // p_uneven = 0 draws nothing for the lever: METHOD.md's perturbation bit for bit.
  PerturbOptions opt, off;
  opt.p_perturb = off.p_perturb = 1.0;
  Tensor x = smooth_image(1, s, 7);
  Rng r1 = Rng::stream(9, {2}), r2 = Rng::stream(9, {2});
  off.p_uneven = 0.0;
  CHECK(perturb(x, r1, opt).image.to_vector() == perturb(x, r2, off).image.to_vector());
  // p_uneven = 1: every accepted draw is a large region from the intensity source.
  opt.p_uneven = 1.0;
  int labelled = 0, large = 0, intensity = 0;
  for (uint64_t k = 0; k < 30; ++k) {
    Rng r = Rng::stream(11, {k});
    Perturbed p = perturb(x, r, opt);
    if (p.label < 0.5f) continue;
    ++labelled;
    double area = 0;
    for (float v : p.mask.to_vector()) area += v;
    area /= static_cast<double>(s * s);
    large += area >= opt.uneven_min_area && area <= opt.uneven_max_area;
    intensity += p.source == PerturbSource::Intensity;
  }
  CHECK(labelled >= 20);
  CHECK(large == labelled);
  CHECK(intensity == labelled);
  opt.p_uneven = -0.5;
  Rng bad = Rng::stream(1, {1});
  CHECK_THROWS_AS(perturb(x, bad, opt), Error);
}
