// The procedural MVTec-layout generator (see synth.h). Images are painted in RGB in [0, 1]
// on a float canvas; gray datasets take the BT.601 luma at the end. Lengths scale with
// S / 128 so a dataset looks alike at every size.
#include "data/synth.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "data/dataset.h"
#include "data/image.h"
#include "data/perturb.h"
#include "tensor/rng.h"

namespace sad::data {

namespace fs = std::filesystem;

namespace {

constexpr double kPi = 3.14159265358979323846;

struct Rgb {
  double r, g, b;
};

// Dataset-level look, drawn once from the seed: every image of a dataset shares it.
struct Style {
  Rgb base, accent, background;
  double period, angle, ring_period, object_radius;
  double wood_cx, wood_cy, wood_stretch;
};

Style draw_style(const SynthConfig& cfg) {
  Rng rng = Rng::stream(cfg.seed, {kStreamSynth, 0});
  const double s = cfg.size;
  Style st{};
  st.base = {rng.uniform(0.3, 0.7), rng.uniform(0.3, 0.7), rng.uniform(0.3, 0.7)};
  st.accent = {rng.uniform(0.2, 0.9), rng.uniform(0.2, 0.9), rng.uniform(0.2, 0.9)};
  st.background = {rng.uniform(0.08, 0.2), rng.uniform(0.08, 0.2), rng.uniform(0.08, 0.2)};
  st.period = s * rng.uniform(0.06, 0.1);
  st.angle = rng.uniform(0.0, kPi);
  st.ring_period = s * rng.uniform(0.05, 0.09);
  st.object_radius = s * rng.uniform(0.3, 0.34);
  st.wood_cx = -s * rng.uniform(0.5, 1.5);
  st.wood_cy = s * rng.uniform(0.0, 1.0);
  st.wood_stretch = rng.uniform(2.0, 4.0);
  if (cfg.kind == SynthKind::Wood) st.base = {rng.uniform(0.5, 0.65), rng.uniform(0.3, 0.4), rng.uniform(0.12, 0.2)};
  return st;
}

// RGB planes (3, S, S) plus where defects may be placed.
struct Canvas {
  int64_t s = 0;
  std::vector<double> px;        // (3, S, S)
  std::vector<uint8_t> support;  // (S, S): 1 where a defect centre may go
  double& at(int c, int64_t i, int64_t j) { return px[static_cast<size_t>((c * s + i) * s + j)]; }
  void set(int64_t i, int64_t j, const Rgb& v) { at(0, i, j) = v.r, at(1, i, j) = v.g, at(2, i, j) = v.b; }
};

double clamp01(double v) { return std::min(1.0, std::max(0.0, v)); }
Rgb scale(const Rgb& c, double k) { return {c.r * k, c.g * k, c.b * k}; }
Rgb mix(const Rgb& a, const Rgb& b, double t) {
  return {a.r + t * (b.r - a.r), a.g + t * (b.g - a.g), a.b + t * (b.b - a.b)};
}

void paint_fabric(Canvas& cv, const Style& st, Rng& rng) {
  const double th = st.angle + rng.uniform(-0.03, 0.03);  // about +-2 degrees
  const double ph1 = rng.uniform(0, 2 * kPi), ph2 = rng.uniform(0, 2 * kPi), ph3 = rng.uniform(0, 2 * kPi);
  const double light = rng.uniform(0.93, 1.07);
  Tensor shade = perlin_noise(cv.s, cv.s, 4, 4, rng);
  const float* sh = shade.data<float>();
  const double w = 2 * kPi / st.period;
  for (int64_t i = 0; i < cv.s; ++i)
    for (int64_t j = 0; j < cv.s; ++j) {
      const double u = j * std::cos(th) + i * std::sin(th), v = -j * std::sin(th) + i * std::cos(th);
      const double weave = std::sin(w * u + ph1) * std::sin(w * v + ph2);
      const double thread = std::sin(3 * w * u + ph3);
      const double k = light * (0.85 + 0.3 * weave + 0.06 * thread + 0.05 * sh[i * cv.s + j] + rng.normal(0, 0.015));
      cv.set(i, j, mix(scale(st.base, k), st.accent, 0.15 * (weave > 0.6)));
    }
}

void paint_wood(Canvas& cv, const Style& st, Rng& rng) {
  const double cx = st.wood_cx + rng.uniform(-0.05, 0.05) * cv.s, cy = st.wood_cy + rng.uniform(-0.1, 0.1) * cv.s;
  const double ph = rng.uniform(0, 2 * kPi), light = rng.uniform(0.93, 1.07);
  Tensor warp = perlin_noise(cv.s, cv.s, 2, 3, rng);
  const float* wp = warp.data<float>();
  for (int64_t i = 0; i < cv.s; ++i)
    for (int64_t j = 0; j < cv.s; ++j) {
      const double r = std::hypot(j - cx, (i - cy) * st.wood_stretch);
      const double ring = 0.5 + 0.5 * std::sin(2 * kPi * r / st.ring_period + 2.5 * wp[i * cv.s + j] + ph);
      const double k = light * (0.8 + 0.35 * ring * ring * ring + rng.normal(0, 0.02));
      cv.set(i, j, scale(st.base, k));
    }
}

// Disc and Tile: a shaded shape on a background with a soft lighting gradient.
void paint_object(Canvas& cv, const Style& st, Rng& rng, bool tile) {
  const double s = static_cast<double>(cv.s);
  const double cx = (s - 1) / 2 + rng.uniform(-0.02, 0.02) * s, cy = (s - 1) / 2 + rng.uniform(-0.02, 0.02) * s;
  const double radius = st.object_radius * rng.uniform(0.98, 1.02);
  const double rot = tile ? rng.uniform(-0.07, 0.07) : 0.0;  // about +-4 degrees
  const double la = rng.uniform(0, 2 * kPi), lx = 0.12 * std::cos(la), ly = 0.12 * std::sin(la);
  const double light = rng.uniform(0.93, 1.07), ph = rng.uniform(0, 2 * kPi);
  const double corner = 0.25 * radius;
  for (int64_t i = 0; i < cv.s; ++i)
    for (int64_t j = 0; j < cv.s; ++j) {
      const double dx = j - cx, dy = i - cy;
      double inside;  // signed distance to the outline, negative inside
      if (tile) {
        const double u = std::abs(dx * std::cos(rot) + dy * std::sin(rot)) - (radius - corner);
        const double v = std::abs(-dx * std::sin(rot) + dy * std::cos(rot)) - (radius - corner);
        inside = std::hypot(std::max(u, 0.0), std::max(v, 0.0)) + std::min(std::max(u, v), 0.0) - corner;
      } else {
        inside = std::hypot(dx, dy) - radius;
      }
      const double cover = clamp01(0.5 - inside);
      const double grad = 1.0 + 0.1 * (j + i) / s - 0.1;
      Rgb bg = scale(st.background, grad * light + rng.normal(0, 0.01));
      double k = light * (0.9 + (dx * lx + dy * ly) / radius + rng.normal(0, 0.01));
      if (tile)
        k += 0.03 * std::sin(2 * kPi * (dx * std::cos(rot) + dy * std::sin(rot)) / 3.0 + ph);
      else
        k -= 0.15 * clamp01(1.0 - std::abs(std::hypot(dx, dy) - 0.55 * radius) / 2.0);  // inner ring
      cv.set(i, j, mix(bg, scale(st.base, 1.4 * k), cover));
      cv.support[static_cast<size_t>(i * cv.s + j)] = inside < -0.25 * radius;
    }
}

// ---- Defects: each paints into the canvas and returns its (S, S) mask in {0, 1} ----

double seg_dist(double px, double py, double ax, double ay, double bx, double by) {
  const double vx = bx - ax, vy = by - ay;
  const double len2 = vx * vx + vy * vy;
  double t = len2 > 0 ? ((px - ax) * vx + (py - ay) * vy) / len2 : 0.0;
  t = std::min(1.0, std::max(0.0, t));
  return std::hypot(px - ax - t * vx, py - ay - t * vy);
}

// Distance from every pixel to a polyline, (S, S).
std::vector<double> polyline_dist(int64_t s, const std::vector<std::pair<double, double>>& pts) {
  std::vector<double> d(static_cast<size_t>(s * s), 1e30);
  for (size_t k = 0; k + 1 < pts.size(); ++k) {
    const auto [ax, ay] = pts[k];
    const auto [bx, by] = pts[k + 1];
    // Only pixels near the segment's bounding box can be within a few pixels of it.
    const int64_t i0 = std::max<int64_t>(0, static_cast<int64_t>(std::min(ay, by)) - 4);
    const int64_t i1 = std::min<int64_t>(s - 1, static_cast<int64_t>(std::max(ay, by)) + 4);
    const int64_t j0 = std::max<int64_t>(0, static_cast<int64_t>(std::min(ax, bx)) - 4);
    const int64_t j1 = std::min<int64_t>(s - 1, static_cast<int64_t>(std::max(ax, bx)) + 4);
    for (int64_t i = i0; i <= i1; ++i)
      for (int64_t j = j0; j <= j1; ++j) {
        double& v = d[static_cast<size_t>(i * s + j)];
        v = std::min(v, seg_dist(j, i, ax, ay, bx, by));
      }
  }
  return d;
}

// A centre where the canvas allows defects.
std::pair<double, double> defect_centre(const Canvas& cv, Rng& rng) {
  for (int tries = 0; tries < 1000; ++tries) {
    const int64_t i = static_cast<int64_t>(rng.below(static_cast<uint64_t>(cv.s)));
    const int64_t j = static_cast<int64_t>(rng.below(static_cast<uint64_t>(cv.s)));
    if (cv.support[static_cast<size_t>(i * cv.s + j)]) return {static_cast<double>(j), static_cast<double>(i)};
  }
  return {(cv.s - 1) / 2.0, (cv.s - 1) / 2.0};
}

// A line of `width` pixels along the polyline: anti-aliased coverage clamp(width/2 + 0.5 - d),
// pixels blended towards `ink` (or brightened by `add`); mask = coverage >= 0.5.
std::vector<uint8_t> stroke(Canvas& cv, const std::vector<std::pair<double, double>>& pts, double width, double darken,
                            double add) {
  const std::vector<double> d = polyline_dist(cv.s, pts);
  std::vector<uint8_t> mask(d.size());
  for (int64_t i = 0; i < cv.s; ++i)
    for (int64_t j = 0; j < cv.s; ++j) {
      const double cov = clamp01(width / 2 + 0.5 - d[static_cast<size_t>(i * cv.s + j)]);
      if (cov <= 0) continue;
      for (int c = 0; c < 3; ++c) cv.at(c, i, j) = cv.at(c, i, j) * (1 - darken * cov) + add * cov;
      mask[static_cast<size_t>(i * cv.s + j)] = cov >= 0.5;
    }
  return mask;
}

std::vector<uint8_t> paint_scratch(Canvas& cv, Rng& rng, double unit) {
  const auto [cx, cy] = defect_centre(cv, rng);
  const double th = rng.uniform(0, kPi), len = cv.s * rng.uniform(0.12, 0.3);
  const double width = unit * rng.uniform(1.0, 2.0);
  const bool bright = rng.below(2);
  const double dx = 0.5 * len * std::cos(th), dy = 0.5 * len * std::sin(th);
  return stroke(cv, {{cx - dx, cy - dy}, {cx + dx, cy + dy}}, width, bright ? 0.0 : 0.55, bright ? 0.4 : 0.0);
}

std::vector<uint8_t> paint_crack(Canvas& cv, Rng& rng, double unit) {
  auto [x, y] = defect_centre(cv, rng);
  double th = rng.uniform(0, 2 * kPi);
  const int steps = static_cast<int>(cv.s * rng.uniform(0.12, 0.25) / (1.5 * unit));
  const double width = unit * rng.uniform(0.9, 1.6);
  std::vector<std::pair<double, double>> pts{{x, y}};
  for (int k = 0; k < steps; ++k) {
    th += rng.normal(0, 0.45);
    x += 1.5 * unit * std::cos(th);
    y += 1.5 * unit * std::sin(th);
    pts.push_back({x, y});
  }
  std::vector<uint8_t> mask = stroke(cv, pts, width, 0.75, 0.0);
  // One branch from the middle: cracks fork.
  const auto [bx, by] = pts[pts.size() / 2];
  std::vector<std::pair<double, double>> branch{{bx, by}};
  double bth = th + (rng.below(2) ? 1.0 : -1.0) * rng.uniform(0.5, 1.2);
  double px = bx, py = by;
  for (int k = 0; k < steps / 3; ++k) {
    bth += rng.normal(0, 0.45);
    px += 1.5 * unit * std::cos(bth);
    py += 1.5 * unit * std::sin(bth);
    branch.push_back({px, py});
  }
  std::vector<uint8_t> m2 = stroke(cv, branch, 0.8 * width, 0.75, 0.0);
  for (size_t i = 0; i < mask.size(); ++i) mask[i] |= m2[i];
  return mask;
}

std::vector<uint8_t> paint_hole(Canvas& cv, Rng& rng, double unit) {
  const auto [cx, cy] = defect_centre(cv, rng);
  const double radius = cv.s * rng.uniform(0.03, 0.06) + unit;
  const double la = rng.uniform(0, 2 * kPi);
  std::vector<uint8_t> mask(static_cast<size_t>(cv.s * cv.s));
  for (int64_t i = 0; i < cv.s; ++i)
    for (int64_t j = 0; j < cv.s; ++j) {
      const double dx = j - cx, dy = i - cy, d = std::hypot(dx, dy);
      const double cov = clamp01(radius + 0.5 - d);
      // A bright rim on the lit side, just outside the hole.
      const double rim = clamp01(1.0 - std::abs(d - radius - unit) / unit) *
                         std::max(0.0, (dx * std::cos(la) + dy * std::sin(la)) / std::max(d, 1e-9));
      for (int c = 0; c < 3; ++c) {
        double& p = cv.at(c, i, j);
        p = p * (1 - cov) + cov * (0.04 + 0.06 * d / radius) + 0.25 * rim;
      }
      mask[static_cast<size_t>(i * cv.s + j)] = d <= radius;
    }
  return mask;
}

std::vector<uint8_t> paint_stain(Canvas& cv, Rng& rng, double unit) {
  const auto [cx, cy] = defect_centre(cv, rng);
  const double radius = cv.s * rng.uniform(0.05, 0.1);
  const double p1 = rng.uniform(0, 2 * kPi), p2 = rng.uniform(0, 2 * kPi), a1 = rng.uniform(0.1, 0.2);
  const double darken = rng.uniform(0.35, 0.55);
  const Rgb tint{rng.uniform(0.2, 0.5), rng.uniform(0.1, 0.35), rng.uniform(0.0, 0.2)};  // rust to coffee
  std::vector<uint8_t> mask(static_cast<size_t>(cv.s * cv.s));
  for (int64_t i = 0; i < cv.s; ++i)
    for (int64_t j = 0; j < cv.s; ++j) {
      const double dx = j - cx, dy = i - cy, d = std::hypot(dx, dy), a = std::atan2(dy, dx);
      const double edge = radius * (1 + a1 * std::sin(2 * a + p1) + 0.08 * std::sin(3 * a + p2));
      // Soft edge: alpha falls from 1 to 0 over 40% of the radius around the outline.
      const double t = (edge - d) / (0.4 * radius) + 0.5;
      const double alpha = t <= 0 ? 0.0 : t >= 1 ? 1.0 : t * t * (3 - 2 * t);
      if (alpha <= 0) continue;
      const double tc[3] = {tint.r, tint.g, tint.b};
      for (int c = 0; c < 3; ++c) {
        double& p = cv.at(c, i, j);
        p = p * (1 - alpha) + alpha * (p * (1 - darken) + 0.5 * darken * tc[c]);
      }
      mask[static_cast<size_t>(i * cv.s + j)] = alpha >= 0.5;
    }
  return mask;
}

// The canvas as (C, S, S) in [0, 1]: RGB, or its BT.601 luma for C = 1.
Tensor to_image(const Canvas& cv, int channels) {
  const int64_t s = cv.s, plane = s * s;
  Tensor out = Tensor::empty({channels, s, s});
  float* dst = out.data<float>();
  for (int64_t i = 0; i < plane; ++i) {
    const double r = clamp01(cv.px[static_cast<size_t>(i)]), g = clamp01(cv.px[static_cast<size_t>(plane + i)]),
                 b = clamp01(cv.px[static_cast<size_t>(2 * plane + i)]);
    if (channels == 1) {
      dst[i] = static_cast<float>(0.299 * r + 0.587 * g + 0.114 * b);
    } else {
      dst[i] = static_cast<float>(r);
      dst[plane + i] = static_cast<float>(g);
      dst[2 * plane + i] = static_cast<float>(b);
    }
  }
  return out;
}

void check_config(const SynthConfig& cfg) {
  SAD_CHECK(cfg.size >= 32 && cfg.size <= 4096, "synth: size must be in [32, 4096], got ", cfg.size);
  SAD_CHECK(cfg.channels == 1 || cfg.channels == 3, "synth: channels must be 1 or 3, got ", cfg.channels);
  SAD_CHECK(cfg.train >= 2 && cfg.test_good >= 0 && cfg.per_defect >= 0,
            "synth: counts must be train >= 2, test_good >= 0, per_defect >= 0");
  for (const std::string& d : cfg.defects)
    SAD_CHECK(std::find(synth_defect_types().begin(), synth_defect_types().end(), d) != synth_defect_types().end(),
              "synth: unknown defect type '", d, "' (crack, hole, scratch, stain)");
}

}  // namespace

const char* synth_kind_name(SynthKind kind) {
  switch (kind) {
    case SynthKind::Fabric: return "fabric";
    case SynthKind::Wood: return "wood";
    case SynthKind::Disc: return "disc";
    case SynthKind::Tile: return "tile";
  }
  return "?";
}

SynthKind parse_synth_kind(const std::string& name) {
  for (SynthKind k : {SynthKind::Fabric, SynthKind::Wood, SynthKind::Disc, SynthKind::Tile})
    if (name == synth_kind_name(k)) return k;
  SAD_FAIL("synth: unknown kind '", name, "' (fabric, wood, disc, tile)");
}

SynthImage synth_image(const SynthConfig& cfg, int split, const std::string& defect, int64_t index) {
  check_config(cfg);
  SAD_CHECK(split == 0 || split == 1, "synth_image: split must be 0 (train) or 1 (test), got ", split);
  const auto& types = synth_defect_types();
  const auto it = std::find(types.begin(), types.end(), defect);
  SAD_CHECK(defect.empty() || it != types.end(), "synth_image: unknown defect '", defect, "'");
  const uint64_t type_id = defect.empty() ? 0 : 1 + static_cast<uint64_t>(it - types.begin());
  Rng rng =
      Rng::stream(cfg.seed, {kStreamSynth, 1 + static_cast<uint64_t>(split), type_id, static_cast<uint64_t>(index)});
  const Style st = draw_style(cfg);
  const int64_t s = cfg.size;
  const double unit = s / 128.0;

  Canvas cv;
  cv.s = s;
  cv.px.assign(static_cast<size_t>(3 * s * s), 0.0);
  cv.support.assign(static_cast<size_t>(s * s), 0);
  if (cfg.kind == SynthKind::Disc || cfg.kind == SynthKind::Tile) {
    paint_object(cv, st, rng, cfg.kind == SynthKind::Tile);
  } else {
    if (cfg.kind == SynthKind::Fabric)
      paint_fabric(cv, st, rng);
    else
      paint_wood(cv, st, rng);
    const int64_t margin = s / 10;  // keep defects off the border
    for (int64_t i = margin; i < s - margin; ++i)
      for (int64_t j = margin; j < s - margin; ++j) cv.support[static_cast<size_t>(i * s + j)] = 1;
  }

  std::vector<uint8_t> mask(static_cast<size_t>(s * s), 0);
  const Canvas clean = cv;
  if (!defect.empty()) {
    // A draw whose mask came out empty (a stroke between pixel centres) is painted over
    // again on a fresh canvas copy: every defect image has defective pixels.
    for (int attempt = 0;; ++attempt) {
      cv = clean;
      if (defect == "scratch")
        mask = paint_scratch(cv, rng, unit);
      else if (defect == "crack")
        mask = paint_crack(cv, rng, unit);
      else if (defect == "hole")
        mask = paint_hole(cv, rng, unit);
      else
        mask = paint_stain(cv, rng, unit);
      if (std::any_of(mask.begin(), mask.end(), [](uint8_t v) { return v != 0; })) break;
      SAD_CHECK(attempt < 100, "synth: could not draw a visible ", defect);
    }
  }

  SynthImage out;
  out.image = to_image(cv, cfg.channels);
  out.clean = defect.empty() ? out.image : to_image(clean, cfg.channels);
  out.mask = Tensor::empty({1, s, s});
  float* m = out.mask.data<float>();
  for (int64_t i = 0; i < s * s; ++i) m[i] = mask[static_cast<size_t>(i)];
  return out;
}

void generate_synthetic_dataset(const SynthConfig& cfg, const std::string& out_dir) {
  check_config(cfg);
  std::string target = out_dir;
  while (target.size() > 1 && target.back() == '/') target.pop_back();
  SAD_CHECK(!target.empty(), "synth: empty output directory name");
  const fs::path dst(target);
  std::error_code ec;
  if (fs::exists(dst, ec)) {
    SAD_CHECK(fs::is_directory(dst, ec), "synth: '", target, "' exists and is not a directory");
    SAD_CHECK(fs::is_empty(dst, ec), "synth: refusing to write into the non-empty directory '", target, "'");
  }
  const fs::path parent = dst.has_parent_path() ? dst.parent_path() : fs::path(".");
  SAD_CHECK(fs::is_directory(parent, ec), "synth: parent directory '", parent.string(), "' does not exist");
  // Hidden sibling, so a dataset reader never lists a half-written dataset. (Built by
  // appends: GCC 12 raises a false -Wrestrict on "." + std::string.)
  std::string tmp_name = ".";
  tmp_name += dst.filename().string();
  tmp_name += ".tmp-" + std::to_string(::getpid());
  const fs::path tmp = parent / tmp_name;
  fs::remove_all(tmp, ec);
  try {
    auto write_set = [&](int split, const std::string& defect, int64_t count, const fs::path& img_dir,
                         const fs::path& mask_dir) {
      fs::create_directories(img_dir);
      if (!mask_dir.empty()) fs::create_directories(mask_dir);
      for (int64_t k = 0; k < count; ++k) {
        char stem[32];
        std::snprintf(stem, sizeof stem, "%03lld", static_cast<long long>(k));
        SynthImage im = synth_image(cfg, split, defect, k);
        save_png((img_dir / (std::string(stem) + ".png")).string(), im.image);
        if (!mask_dir.empty()) save_png((mask_dir / (std::string(stem) + "_mask.png")).string(), im.mask);
      }
    };
    write_set(0, "", cfg.train, tmp / "train" / "good", {});
    write_set(1, "", cfg.test_good, tmp / "test" / "good", {});
    for (const std::string& d : cfg.defects)
      write_set(1, d, cfg.per_defect, tmp / "test" / d, tmp / "ground_truth" / d);
    // An existing empty target directory is replaced by the rename (POSIX rename(2)).
    fs::rename(tmp, dst);
  } catch (const fs::filesystem_error& e) {
    fs::remove_all(tmp, ec);
    SAD_FAIL("synth: writing '", target, "' failed: ", e.what());
  } catch (...) {
    fs::remove_all(tmp, ec);
    throw;
  }
}

}  // namespace sad::data
