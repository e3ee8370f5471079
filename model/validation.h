// Validation on held-out normal images: the set (each image clean, label 0, and in several
// seeded perturbed versions, label 1), its statistics (image AUROC with a bootstrap
// standard error, pixel AUROC on the perturbation masks, the share of pixels above the
// pixel threshold, distinct scores, G's SSIM), the deployment thresholds, and the collapse
// alarm that reads those statistics. The trainer logs them, stores them in the model file
// and refuses to stay silent when a segmenter has collapsed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/anomaly_model.h"

namespace sad {

struct ValidationSet {
  std::vector<Tensor> images;  // (C, S, S) in [-1, 1]
  std::vector<Tensor> masks;   // (1, S, S) perturbation masks; undefined for clean images
  std::vector<uint8_t> labels;
  std::vector<int64_t> source;  // the held-out image each image is (clean) or was made from
  int64_t clean = 0;            // the first `clean` images are the held-out images themselves
};

// val: the held-out images. Perturbed version k of image i draws from
// Rng::stream(seed, {kStreamValidation, i}) for k = 0 and {kStreamValidation, i, k} after,
// and takes its second image from the other held-out images only.
ValidationSet make_validation_set(const std::vector<Tensor>& val, int64_t seed, int64_t versions);

// The model's raw maps and scores over a list of images, `batch` at a time.
AnomalyModel::Scored score_images(AnomalyModel& m, const std::vector<Tensor>& images, int64_t batch);

struct ValidationStats {
  double image_auroc = -1, image_auroc_se = -1;  // -1: undefined (one class only)
  double pixel_auroc = -1;                       // over the perturbed images' pixels against their masks
  double above_threshold = -1;                   // share of all validation pixels at or above the pixel threshold
  int64_t distinct_scores = 0;                   // distinct raw image scores among `images` of them
  int64_t images = 0;
  double g_ssim = -1;  // mean SSIM(G(x), x) over the clean held-out images
};

// Image AUROC and its bootstrap standard error: `reps` stratified resamples (positives and
// negatives each drawn with replacement), seeded, so the figure replays exactly.
struct AurocWithError {
  double auroc = -1, se = -1;
};
AurocWithError bootstrap_auroc(const std::vector<float>& scores, const std::vector<uint8_t>& labels, uint64_t seed,
                               int reps = 200);

// Config score_reference = mean: the per-position mean of the smoothed maps
// (AnomalyModel::smoothed_maps) of the clean held-out images, (S, S) float32 CPU, summed in
// double in image order.
Tensor mean_smoothed_map(AnomalyModel& m, const std::vector<Tensor>& clean, int64_t batch);

// Config score_reference = mean: the validation images' image scores, each against the
// reference of the other held-out images (leave one out: (N ref - m_i) / (N - 1) for an
// image of held-out image i, m_i that image's smoothed map), so that no clean image is
// scored against a reference it makes up 1/N of and the thresholds, statistics and alarm
// see what an unseen normal image would score. With one held-out image, the reference itself.
std::vector<double> leave_one_out_scores(AnomalyModel& m, const ValidationSet& vs, int64_t batch);

// Statistics of scored validation images; pixel_threshold is the raw map value that the
// share above is counted against.
ValidationStats validation_stats(const ValidationSet& vs, const AnomalyModel::Scored& sc, double pixel_threshold,
                                 uint64_t seed);

// Mean SSIM of G's reconstructions of the clean held-out images (G in eval mode).
double generator_ssim(AnomalyModel& m, const std::vector<Tensor>& clean, int64_t batch);

// The thresholds of METHOD.md from scored validation images: the image threshold at the best
// F1, the pixel threshold at the best pixel F1 on the perturbed images, and the min/max that
// normalise both. Writes them into cfg.
void choose_thresholds(const ValidationSet& vs, const AnomalyModel::Scored& sc, Config& cfg);

// The collapse alarm: empty when the model looks healthy, else one line naming each trigger
// and what to try. Triggers (segmenter modes; residual mode: the G and tie triggers only):
//   - validation image AUROC within 2 standard errors of 0.5 (or below it);
//   - validation pixel AUROC on the perturbation masks below 0.5;
//   - most validation pixels (> 50 %) at or above the pixel threshold;
//   - tied validation scores (fewer distinct scores than half the images);
//   - G still on its plateau: its SSIM on held-out images below kPlateauSsim.
inline constexpr double kPlateauSsim = 0.3;
std::string collapse_alarm(const ValidationStats& st, Mode mode);

// The stats recorded in a config (and so in the model file and config.json).
void record_validation(const ValidationStats& st, const std::string& alarm, Config& cfg);

}  // namespace sad
