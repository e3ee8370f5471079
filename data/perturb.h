// The training-time perturbation of METHOD.md ("Training-time perturbation"): a sparse
// Perlin-noise region m of a normal image x is blended towards a source t, giving x~ and
// the weak label y = 1; the sparse-KL loss sees only y, never m. Also the gradient
// (Perlin) noise it is built on, which synth/ reuses for textures.
//
// Every random number comes from the one Rng the caller passes in, seeded per
// (seed, epoch, image) with Rng::stream(seed, {kStreamPerturb, epoch, index}), so a
// perturbation replays bit for bit whichever thread computes it.
#pragma once

#include <cstdint>
#include <functional>

#include "tensor/rng.h"
#include "tensor/tensor.h"

namespace sad::data {

// Perlin gradient noise on an h x w grid with res_y x res_x lattice cells across it:
// random unit gradients at the (res_y + 1) x (res_x + 1) lattice points, quintic fade
// 6t^5 - 15t^4 + 10t^3, scaled by sqrt(2) so its range is [-1, 1]; pixel (i, j) sits at
// lattice coordinate (i res_y / h, j res_x / w). Returns (h, w) float32.
Tensor perlin_noise(int64_t h, int64_t w, int res_y, int res_x, Rng& rng);

struct PerturbOptions {
  double p_perturb = 0.5;   // probability of attempting a perturbation
  int max_draws = 20;       // failed draws (area or visibility) before giving up: y = 0
  int max_scale_log2 = 5;   // Perlin scales 2^a x 2^b, a, b uniform in {0, ..., 5}
  double threshold = 0.5;   // m = noise > threshold
  double min_area = 0.005;  // accepted area fraction of m: [0.5%, 10%]
  double max_area = 0.10;
  double beta_min = 0.1;  // blend strength beta ~ U(0.1, 1.0)
  double beta_max = 1.0;
  double noise_std = 0.5;  // procedural source: clip(N(0, 0.5^2) + Perlin(8 x 8), -1, 1)
  int noise_res = 8;
  double shift_min = 0.3;  // intensity source: x +- U(0.3, 0.8)
  double shift_max = 0.8;
  double min_visibility = 0.05;  // mean over m of |x~ - x| must reach this
  // A lever beyond METHOD.md (0: off, no random number drawn for it): the probability that a
  // draw's region is a thin crack (crack_region) instead of a Perlin region.
  double p_crack = 0.0;
  // A lever beyond METHOD.md (0: off, no random number drawn for it): the probability that a
  // draw (not a crack) is an uneven region (uneven_weights): a smooth brightness change over
  // a large part of the image, blended with soft edges and always from the intensity source.
  // MTD's "uneven" defects hold 70 % of its defect pixels (mean area 24 % of an image), a
  // shape the [0.5 %, 10 %] Perlin regions never take.
  double p_uneven = 0.0;
  double uneven_min_area = 0.15;  // accepted area of its mask (weights >= 0.5): [15 %, 60 %]
  double uneven_max_area = 0.60;
};

enum class PerturbSource : int { None = -1, OtherImage = 0, Noise = 1, Intensity = 2 };

// Other training images for the "another training image" source: `count` images, `get(j)`
// returns image j as (C, S, S) float32 in [-1, 1]; `self` (the perturbed image's own
// index, or -1) is never chosen. With fewer than two images (or no `get`), x itself is
// used, circularly shifted: still content from elsewhere at every pixel.
struct OtherImages {
  int64_t count = 0;
  int64_t self = -1;
  std::function<Tensor(int64_t)> get;
};

struct Perturbed {
  Tensor image;        // (C, S, S) x~ (a copy of x when not perturbed)
  Tensor mask;         // (1, S, S) m in {0, 1} (all zero when not perturbed)
  float label = 0.0f;  // y: 1 exactly when the image was perturbed
  PerturbSource source = PerturbSource::None;
  int draws = 0;  // draws made (0 when the p_perturb coin said no)
};

// x: (C, S, S) float32 CPU in [-1, 1], square. With probability p_perturb, draws (region,
// source, beta) up to max_draws times until the area and visibility conditions hold.
Perturbed perturb(const Tensor& x, Rng& rng, const PerturbOptions& opt = {}, const OtherImages& others = {});

// One region draw (Perlin scales, k * 90 degree rotation, threshold), without the area
// test: (1, S, S) in {0, 1}. Exposed for tests and diagnostics.
Tensor perlin_region(int64_t size, Rng& rng, const PerturbOptions& opt = {});

// A thin crack: a wandering line (direction drifting by N(0, 0.15) rad every half pixel)
// from a uniform start, of length U(S / 4, S) and half-width U(0.5, 0.5 + S / 64), clipped
// to the image: (1, S, S) in {0, 1}. Real cracks (KolektorSDD, MTD's crack and fray) are thin
// and long, the shape that Perlin blobs never take.
Tensor crack_region(int64_t size, Rng& rng);

// An uneven region's blend weights: Perlin noise of one or two lattice cells across the image
// (the lowest frequencies), rotated by k * 90 degrees, mapped to w =
// 0.5 + (n - t) / 0.5 clipped to [0, 1], the level t ~ U(-0.3, 0.3): (1, S, S), smooth, its
// mask w >= 0.5 (n >= t: about half the image).
Tensor uneven_weights(int64_t size, Rng& rng);

}  // namespace sad::data
