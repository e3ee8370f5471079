// Validation: the held-out set, its statistics, the thresholds and the collapse alarm.
#include "model/validation.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <span>

#include "data/dataset.h"
#include "data/perturb.h"
#include "eval/metrics.h"
#include "model/losses.h"

namespace sad {

ValidationSet make_validation_set(const std::vector<Tensor>& val, int64_t seed, int64_t versions) {
  ValidationSet vs;
  for (const Tensor& x : val) {
    vs.images.push_back(x);
    vs.masks.emplace_back();
    vs.labels.push_back(0);
    vs.source.push_back(static_cast<int64_t>(vs.source.size()));
  }
  vs.clean = static_cast<int64_t>(val.size());
  data::PerturbOptions po;
  po.p_perturb = 1.0;  // every version perturbed (or given up on: then it is left out)
  for (int64_t k = 0; k < versions; ++k)
    for (size_t i = 0; i < val.size(); ++i) {
      // Version 0 keeps the stream of the single version of earlier builds.
      Rng rng = k == 0 ? Rng::stream(static_cast<uint64_t>(seed), {data::kStreamValidation, static_cast<uint64_t>(i)})
                       : Rng::stream(static_cast<uint64_t>(seed),
                                     {data::kStreamValidation, static_cast<uint64_t>(i), static_cast<uint64_t>(k)});
      data::OtherImages others{static_cast<int64_t>(val.size()), static_cast<int64_t>(i),
                               [&val](int64_t j) { return val[static_cast<size_t>(j)]; }};
      data::Perturbed p = data::perturb(val[i], rng, po, others);
      if (p.label < 0.5f) continue;  // the perturbation gave up: no positive from this draw
      vs.images.push_back(p.image);
      vs.masks.push_back(p.mask);
      vs.labels.push_back(1);
      vs.source.push_back(static_cast<int64_t>(i));
    }
  return vs;
}

namespace {

// Images [i, e) stacked into one (e - i, C, S, S) batch.
Tensor stack(const std::vector<Tensor>& images, size_t i, size_t e) {
  const Tensor& first = images[i];
  Tensor x = Tensor::empty({static_cast<int64_t>(e - i), first.dim(0), first.dim(1), first.dim(2)});
  for (size_t j = i; j < e; ++j) {
    Tensor slot = x.slice0(static_cast<int64_t>(j - i), static_cast<int64_t>(j - i + 1)).reshape(first.shape());
    slot.copy_from(images[j]);
  }
  return x;
}

}  // namespace

AnomalyModel::Scored score_images(AnomalyModel& m, const std::vector<Tensor>& images, int64_t batch) {
  AnomalyModel::Scored all;
  const int64_t s = m.config().image_size;
  all.maps = Tensor::empty({static_cast<int64_t>(images.size()), 1, s, s});
  for (size_t i = 0; i < images.size(); i += static_cast<size_t>(batch)) {
    const size_t e = std::min(images.size(), i + static_cast<size_t>(batch));
    AnomalyModel::Scored sc = m.score_batch(stack(images, i, e));
    for (double v : sc.scores) all.scores.push_back(v);
    for (double v : sc.unreferenced) all.unreferenced.push_back(v);
    all.maps.slice0(static_cast<int64_t>(i), static_cast<int64_t>(e)).copy_from(sc.maps);
  }
  return all;
}

Tensor mean_smoothed_map(AnomalyModel& m, const std::vector<Tensor>& clean, int64_t batch) {
  SAD_CHECK(!clean.empty(), "score_reference: no held-out images to average");
  const int64_t s = m.config().image_size;
  std::vector<double> sum(static_cast<size_t>(s * s), 0.0);
  for (size_t i = 0; i < clean.size(); i += static_cast<size_t>(batch)) {
    const size_t e = std::min(clean.size(), i + static_cast<size_t>(batch));
    const std::vector<double> v = m.smoothed_maps(stack(clean, i, e)).to_vector_f64();
    for (size_t k = 0; k < v.size(); ++k) sum[k % sum.size()] += v[k];
  }
  std::vector<float> mean(sum.size());
  for (size_t k = 0; k < sum.size(); ++k) mean[k] = static_cast<float>(sum[k] / static_cast<double>(clean.size()));
  return Tensor::from_vector(mean, {s, s});
}

std::vector<double> leave_one_out_scores(AnomalyModel& m, const ValidationSet& vs, int64_t batch) {
  const int64_t n = vs.clean, s = m.config().image_size, ss = s * s;
  SAD_CHECK(n > 0 && vs.source.size() == vs.images.size(), "score_reference: a validation set without its sources");
  std::vector<double> maps;  // every image's smoothed map, (images, S * S)
  maps.reserve(vs.images.size() * static_cast<size_t>(ss));
  for (size_t i = 0; i < vs.images.size(); i += static_cast<size_t>(batch)) {
    const size_t e = std::min(vs.images.size(), i + static_cast<size_t>(batch));
    const std::vector<double> v = m.smoothed_maps(stack(vs.images, i, e)).to_vector_f64();
    maps.insert(maps.end(), v.begin(), v.end());
  }
  std::vector<double> total(static_cast<size_t>(ss), 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = 0; k < ss; ++k) total[static_cast<size_t>(k)] += maps[static_cast<size_t>(i * ss + k)];
  std::vector<double> scores;
  std::vector<float> diff(static_cast<size_t>(ss));
  for (size_t j = 0; j < vs.images.size(); ++j) {
    const int64_t src = vs.source[j];
    for (int64_t k = 0; k < ss; ++k) {
      const double own = maps[static_cast<size_t>(src * ss + k)], sum = total[static_cast<size_t>(k)];
      const double ref = n > 1 ? (sum - own) / static_cast<double>(n - 1) : sum;
      diff[static_cast<size_t>(k)] =
          static_cast<float>(maps[j * static_cast<size_t>(ss) + static_cast<size_t>(k)] - ref);
    }
    scores.push_back(m.image_score_of(Tensor::from_vector(diff, {s, s})));
  }
  return scores;
}

AurocWithError bootstrap_auroc(const std::vector<float>& scores, const std::vector<uint8_t>& labels, uint64_t seed,
                               int reps) {
  AurocWithError out;
  auto a = eval::roc_auc(scores, labels);
  if (!a) return out;
  out.auroc = *a;
  std::vector<size_t> pos, neg;
  for (size_t i = 0; i < labels.size(); ++i) (labels[i] ? pos : neg).push_back(i);
  Rng rng = Rng::stream(seed, {0x424f4f54});  // "BOOT"
  std::vector<float> s(scores.size());
  std::vector<uint8_t> l(labels.size());
  double sum = 0, sum2 = 0;
  for (int r = 0; r < reps; ++r) {
    size_t k = 0;
    for (const std::vector<size_t>* group : {&pos, &neg})
      for (size_t j = 0; j < group->size(); ++j, ++k) {
        const size_t pick = (*group)[rng.below(group->size())];
        s[k] = scores[pick];
        l[k] = labels[pick];
      }
    const double v = eval::roc_auc(s, l).value_or(0.5);
    sum += v;
    sum2 += v * v;
  }
  const double mean = sum / reps;
  out.se = std::sqrt(std::max(0.0, sum2 / reps - mean * mean) * reps / std::max(1, reps - 1));
  return out;
}

namespace {

// The scored maps on the CPU, and the defect images' maps paired with their masks (the
// ScoreMaps view `pixels` and `masks`, so the struct is only moved, never copied).
struct DefectMaps {
  std::vector<float> pixels;  // every image's map, (B, 1, S, S) flattened
  std::vector<std::vector<uint8_t>> masks;
  std::vector<eval::ScoreMap> maps;
};

DefectMaps defect_maps(const ValidationSet& vs, const AnomalyModel::Scored& sc) {
  DefectMaps d;
  const int64_t s = sc.maps.dim(2), hw = s * s;
  d.pixels = sc.maps.to_vector();
  d.masks.reserve(vs.images.size());
  for (size_t i = 0; i < vs.images.size(); ++i) {
    if (!vs.labels[i]) continue;
    const std::vector<float> m = vs.masks[i].to_vector();
    d.masks.emplace_back(m.size());
    std::transform(m.begin(), m.end(), d.masks.back().begin(), [](float v) { return static_cast<uint8_t>(v >= 0.5f); });
    d.maps.push_back({std::span<const float>(d.pixels.data() + static_cast<int64_t>(i) * hw, static_cast<size_t>(hw)),
                      d.masks.back(), static_cast<int>(s), static_cast<int>(s)});
  }
  return d;
}

}  // namespace

ValidationStats validation_stats(const ValidationSet& vs, const AnomalyModel::Scored& sc, double pixel_threshold,
                                 uint64_t seed) {
  ValidationStats st;
  st.images = static_cast<int64_t>(vs.images.size());
  std::vector<float> scores(sc.scores.begin(), sc.scores.end());
  AurocWithError a = bootstrap_auroc(scores, vs.labels, seed);
  st.image_auroc = a.auroc;
  st.image_auroc_se = a.se;
  st.distinct_scores = static_cast<int64_t>(std::set<double>(sc.scores.begin(), sc.scores.end()).size());

  const DefectMaps dm = defect_maps(vs, sc);
  int64_t above = 0;
  for (float v : dm.pixels) above += v >= pixel_threshold;
  st.above_threshold = dm.pixels.empty() ? -1 : static_cast<double>(above) / static_cast<double>(dm.pixels.size());
  if (auto p = eval::pixel_auroc(dm.maps)) st.pixel_auroc = *p;
  return st;
}

double generator_ssim(AnomalyModel& m, const std::vector<Tensor>& clean, int64_t batch) {
  if (clean.empty()) return -1;
  NoGradGuard ng;
  Generator& g = m.generator();
  g.eval();
  double sum = 0;
  int64_t count = 0;
  for (size_t i = 0; i < clean.size(); i += static_cast<size_t>(batch)) {
    const size_t e = std::min(clean.size(), i + static_cast<size_t>(batch));
    Tensor x = stack(clean, i, e).to(m.device());
    Tensor xr = g.forward(Variable(x)).data();
    // The ssim residual is mean_c (1 - SSIMmap) / 2: its mean gives the mean SSIM back.
    std::vector<double> r = residual_evidence(x, xr, ResidualKind::Ssim, false).to(Device::cpu()).to_vector_f64();
    for (double v : r) sum += 1.0 - 2.0 * v;
    count += static_cast<int64_t>(r.size());
  }
  return sum / static_cast<double>(count);
}

void choose_thresholds(const ValidationSet& vs, const AnomalyModel::Scored& sc, Config& cfg) {
  std::vector<float> scores(sc.scores.begin(), sc.scores.end());
  auto [lo, hi] = std::minmax_element(scores.begin(), scores.end());
  cfg.image_score_min = *lo;
  cfg.image_score_max = *hi;
  auto f1 = eval::f1_max(scores, vs.labels);
  cfg.image_threshold = f1 ? f1->threshold : (*lo + *hi) / 2;
  // Pixel threshold: best pixel F1 on the perturbed images' masks.
  const DefectMaps dm = defect_maps(vs, sc);
  float pmin = INFINITY, pmax = -INFINITY;
  for (const eval::ScoreMap& m : dm.maps)
    for (float v : m.scores) pmin = std::min(pmin, v), pmax = std::max(pmax, v);
  const std::vector<eval::ScoreMap>& sm = dm.maps;
  if (!sm.empty()) {
    auto pf = eval::pixel_f1_max(sm);
    cfg.pixel_threshold = pf ? pf->threshold : (pmin + pmax) / 2;
    cfg.pixel_score_min = pmin;
    cfg.pixel_score_max = pmax;
  }
}

std::string collapse_alarm(const ValidationStats& st, Mode mode) {
  std::vector<std::string> why;
  char buf[160];
  const bool segmenter = mode != Mode::Residual;
  if (segmenter && st.image_auroc >= 0 && st.image_auroc - 2 * std::max(st.image_auroc_se, 0.0) <= 0.5) {
    std::snprintf(buf, sizeof buf, "validation image AUROC %.3f +- %.3f is indistinguishable from chance",
                  st.image_auroc, st.image_auroc_se);
    why.push_back(buf);
  }
  if (segmenter && st.pixel_auroc >= 0 && st.pixel_auroc < 0.5) {
    std::snprintf(buf, sizeof buf, "validation pixel AUROC %.3f is below chance", st.pixel_auroc);
    why.push_back(buf);
  }
  if (segmenter && st.above_threshold > 0.5) {
    std::snprintf(buf, sizeof buf, "%.0f %% of validation pixels are above the pixel threshold",
                  100 * st.above_threshold);
    why.push_back(buf);
  }
  if (st.images > 0 && 2 * st.distinct_scores < st.images) {
    std::snprintf(buf, sizeof buf, "only %lld distinct scores among %lld validation images",
                  static_cast<long long>(st.distinct_scores), static_cast<long long>(st.images));
    why.push_back(buf);
  }
  if (st.g_ssim >= 0 && st.g_ssim < kPlateauSsim) {
    std::snprintf(buf, sizeof buf, "G is still on its plateau (SSIM %.3f on held-out images)", st.g_ssim);
    why.push_back(buf);
  }
  if (why.empty()) return "";
  std::string line = "collapse alarm: ";
  for (size_t i = 0; i < why.size(); ++i) line += (i ? "; " : "") + why[i];
  line += ". Try: more steps (--steps-gan, --steps-seg), more training images, or mode residual";
  return line;
}

void record_validation(const ValidationStats& st, const std::string& alarm, Config& cfg) {
  cfg.val_image_auroc = st.image_auroc;
  cfg.val_image_auroc_se = st.image_auroc_se;
  cfg.val_pixel_auroc = st.pixel_auroc;
  cfg.val_above_threshold = st.above_threshold;
  cfg.val_distinct_scores = static_cast<double>(st.distinct_scores);
  cfg.g_val_ssim = st.g_ssim;
  cfg.alarm = alarm;
}

}  // namespace sad
