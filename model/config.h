// The full configuration of a sparsead model: every option METHOD.md names, with its
// default, in one table that drives JSON (the model file's `config`), `--set key=value`,
// `--config FILE` and `sparsead info`. Presets: `cpu` (S=128, w=16) and `paper`
// (S=256, w=32), batch 16 both.
#pragma once

#include <array>
#include <cstdint>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "tensor/json.h"

namespace sad {

// 2: step budgets, validation settings and the collapse alarm's record; the image score
// of a segmenter model is taken from its logits (format 1 files score differently and are
// refused with a message that says so).
inline constexpr int kModelFormatVersion = 2;

// The config's named choices: each enum has its names in EnumNames, in the enum's order;
// JSON, --set, `info` and every error message use them, so a name is written once.
// Which map the model produces: the method, or one of its two ablations (METHOD.md).
enum class Mode { SparseKl, Residual, MaskSupervised };
// A shape and batch: cpu (S = 128, w = 16), paper (S = 256, w = 32); custom: set by hand.
enum class Preset { Cpu, Paper, Custom };
// The residual evidence r that S's fit term uses (model/losses.h): l1, ssim or their mix.
enum class ResidualKind { L1, Ssim, Mix };
// A segmenter's image score over its box-filtered logits: log-sum-exp or max.
enum class ImageScore { Lse, Max };
// How a segmenter map's smoothing treats the border: zero padding, or only the taps inside.
enum class MapBorder { Zero, Inside };
// What a model subtracts from each smoothed map before its image score: nothing, or the
// per-position mean of the held-out normal images' smoothed maps (stored in the model file).
enum class ScoreReference { None, Mean };
// Training-sample augmentation (a lever for small sets): none, mirror flips, or the eight
// rotations and mirrorings of the square (textures without a preferred orientation).
enum class Augment { None, Flips, Dihedral };
// A phase's learning rate over its steps: constant (METHOD.md), or a cosine from the set
// rate at the first step down towards 0 at the last.
enum class LrSchedule { Constant, Cosine };

template <class E>
struct EnumNames;
template <>
struct EnumNames<Mode> {
  static constexpr std::array<const char*, 3> names{"sparse-kl", "residual", "mask-supervised"};
};
template <>
struct EnumNames<Preset> {
  static constexpr std::array<const char*, 3> names{"cpu", "paper", "custom"};
};
template <>
struct EnumNames<ResidualKind> {
  static constexpr std::array<const char*, 3> names{"l1", "ssim", "mix"};
};
template <>
struct EnumNames<ImageScore> {
  static constexpr std::array<const char*, 2> names{"lse", "max"};
};
template <>
struct EnumNames<MapBorder> {
  static constexpr std::array<const char*, 2> names{"zero", "inside"};
};
template <>
struct EnumNames<ScoreReference> {
  static constexpr std::array<const char*, 2> names{"none", "mean"};
};
template <>
struct EnumNames<Augment> {
  static constexpr std::array<const char*, 3> names{"none", "flips", "dihedral"};
};
template <>
struct EnumNames<LrSchedule> {
  static constexpr std::array<const char*, 2> names{"constant", "cosine"};
};
template <class E>
concept NamedEnum = requires {
  EnumNames<E>::names;
};

template <NamedEnum E>
const char* enum_name(E e) {
  return EnumNames<E>::names.at(static_cast<size_t>(e));
}
// The names as "a, b or c", for errors and --help.
std::string choices_text(std::span<const char* const> names);
// The enum named `name`; otherwise an error "<what> must be a, b or c, got '<name>'".
[[noreturn]] void fail_choice(const std::string& what, std::span<const char* const> names, const std::string& name);
template <NamedEnum E>
E parse_enum(const std::string& name, const std::string& what) {
  const auto& names = EnumNames<E>::names;
  for (size_t i = 0; i < names.size(); ++i)
    if (name == names[i]) return static_cast<E>(i);
  fail_choice(what, names, name);
}

inline const char* mode_name(Mode m) { return enum_name(m); }  // "sparse-kl" | "residual" | "mask-supervised"
// Errors name `what` (a flag, a file) and list the accepted names.
inline Mode parse_mode(const std::string& name, const std::string& what = "mode") {
  return parse_enum<Mode>(name, what);
}

struct Config {
  // ---- shape and run ----
  Preset preset = Preset::Cpu;
  int64_t image_size = 128;  // S
  int64_t channels = 0;      // C: 1 or 3; 0 = decided from the training images
  int64_t width = 16;        // w
  int64_t batch = 16;
  Mode mode = Mode::SparseKl;
  int64_t seed = 0;
  // Training budgets in optimiser steps; an epoch budget (>= 0; -1: none) replaces the step
  // budget of its phase. Step budgets do not shrink with the data, so a 37-image set gets as many
  // updates as MTD (an epoch budget gave it 120 G steps against MTD's 2520).
  int64_t steps_gan = 2000;
  int64_t steps_seg = 800;
  int64_t epochs_gan = -1;
  int64_t epochs_seg = -1;
  // Native-resolution tiles (0: off, METHOD.md's whole image shrunk to S x S). > 0: each image
  // is resized by this factor (1: its own resolution; its shorter side at least S), training
  // and validation take S x S crops, and inference stitches a grid of S x S windows
  // `tile_stride` apart (0: S / 2) back into a map at the working size (data/tiles.h).
  double tile_scale = 0;
  int64_t tile_stride = 0;
  int64_t val_crops = 2;  // tile mode: seeded S x S crops of each held-out image for validation
  bool tiled() const { return tile_scale > 0; }
  int64_t window_stride() const { return tile_stride > 0 ? tile_stride : image_size / 2; }
  // ---- training-time perturbation ----
  double p_perturb = 0.5;
  double p_crack = 0.0;   // a lever (0: METHOD.md): share of perturbation regions that are thin cracks
  double p_uneven = 0.0;  // a lever (0: METHOD.md): share of draws that are large smooth brightness changes
  // A lever (none: METHOD.md): each training sample (both phases) is transformed before it is
  // perturbed, drawn from its own stream keyed like the sample; none draws nothing.
  Augment augment = Augment::None;
  // ---- phase 1: G and D ----
  double l_mse = 1.0, l_ssim = 1.0, l_adv = 0.05;
  double lr_g = 2e-4, lr_d = 2e-4, gan_beta1 = 0.5, gan_beta2 = 0.999;
  // A lever (0: off, METHOD.md): G's weights as an exponential moving average over phase 1,
  // decay min(ema_g, (1 + t) / (10 + t)) at G's step t; the average replaces G's weights at
  // the end of phase 1 (BN running statistics stay the trained G's). Typical: 0.999.
  double ema_g = 0;
  // A lever (constant: METHOD.md): lr_g's and lr_d's schedule over phase 1's steps; cosine
  // multiplies both by (1 + cos(pi t / T)) / 2 at step t of T, so G ends its phase on small
  // steps instead of the last large one's noise.
  LrSchedule lr_schedule_g = LrSchedule::Constant;
  // ---- phase 2: S ----
  double rho = 0.03, beta_kl = 1.0, lambda_fit = 1.0;
  bool weak_labels = true;
  ResidualKind residual_kind = ResidualKind::Mix;
  // The weak label against G's error (0: METHOD.md, y = 1 for every visible perturbation):
  // a perturbed image keeps y = 1 only when the mean residual over its perturbation is at
  // least this many times the mean elsewhere (contrast_labels, model/losses.h).
  double label_contrast = 0;
  // A lever (0: off, METHOD.md): the fit term's residual against G's usual error. At phase 2's
  // start G reconstructs every training window once, unperturbed; the per-pixel mean of those
  // (batch-normalised) residual maps, times this factor, is subtracted from r in the fit term
  // and what is left clipped at 0. S then earns nothing for marking where G always errs (the
  // image border, the part's outline) and spends its sparse budget on the perturbation.
  // Typical: 1. The weak labels (and label_contrast) still read the raw residual.
  double fit_excess = 0;
  double lr_s = 1e-3, seg_beta1 = 0.9, seg_beta2 = 0.999;
  // A lever (0: off): S's weights averaged over phase 2 like ema_g's over phase 1, the average
  // replacing S's weights at phase 2's last step, before the final validation.
  double ema_s = 0;
  // A lever (constant: METHOD.md): lr_s's schedule over phase 2's steps, as lr_schedule_g's.
  // finalise() makes it cosine in sparse-kl mode unless it was set (docs/RESULTS.md: MTD,
  // three seeds; the demo).
  LrSchedule lr_schedule_s = LrSchedule::Constant;
  double focal_gamma = 2.0;  // mask-supervised ablation
  // ---- conventions ----
  double bn_momentum = 0.1, bn_eps = 1e-5, adam_eps = 1e-8;
  // ---- scoring ----
  double val_fraction = 0.1;
  int64_t val_min = 6;            // held-out images at least this many (a quarter of the set at most)
  int64_t val_perturbations = 4;  // seeded perturbed versions of each held-out image
  // Gaussian smoothing of a segmenter's logit map before scoring (0: none); by default the
  // residual map's smoothing (residual_sigma), so both modes are scored alike.
  double map_sigma = 1.0;
  // How that smoothing treats the map's border: zero (zero padding) or inside (only the taps
  // inside the image, renormalised). Residual maps are always zero-padded (METHOD.md's baseline).
  MapBorder map_border = MapBorder::Zero;
  // A segmenter's image score over its box-filtered logits: lse (log-sum-exp, ranks maps
  // whose maxima tie) or max (METHOD.md's form, applied to the logits).
  ImageScore image_score = ImageScore::Lse;
  double score_temperature = 0.1;  // lse's temperature t: t log mean exp(v / t)
  // mean: the image score is taken from the smoothed map minus the per-position mean of the
  // clean held-out images' smoothed maps, computed at the end of training and stored in the
  // model file (tensor `score_reference`, S x S): where G errs on every image (MTD: along
  // the border) the map is high on normal images too, and this takes it out of the score.
  // The maps and pixel metrics are unchanged. Whole-image mode only (tile_scale 0).
  // finalise() makes it mean in whole-image sparse-kl mode unless it was set (docs/RESULTS.md).
  ScoreReference score_reference = ScoreReference::None;
  double residual_sigma = 2.0;  // residual mode's Gaussian smoothing: 4 at S=256, scaled with S
  // Set by training on the validation images (normalised scores: 0.5 = threshold).
  double image_threshold = 0.5, image_score_min = 0.0, image_score_max = 1.0;
  double pixel_threshold = 0.5, pixel_score_min = 0.0, pixel_score_max = 1.0;
  // ---- validation results and the collapse alarm (set by training) ----
  double val_image_auroc = -1, val_image_auroc_se = -1;  // -1: not measured
  double val_pixel_auroc = -1, val_above_threshold = -1, val_distinct_scores = -1;
  double g_val_ssim = -1;  // G's mean SSIM on the clean held-out images
  std::string alarm = "";  // empty: healthy; else the alarm's one-line text
  // ---- provenance ----
  std::string commit = "unknown";
  std::string dataset_digest = "";

  // Keys the user set explicitly (so derived defaults do not override them).
  std::set<std::string> explicit_keys;

  // A preset's shape and batch: "cpu" or "paper" (custom is not a shape to apply).
  void apply_preset(const std::string& name);
  // key=value from the command line or a config file; errors name the key.
  void set(const std::string& key, const std::string& value);
  // Derived defaults (weak_labels=false: beta_kl 10, rho 0.02; residual_sigma scaled with S;
  // sparse-kl: lr_schedule_s cosine, score_reference mean on whole images), each unless set, and
  // validation of every field; call once before training.
  void finalise();
  // The checks of finalise() alone (every field in range), for a config read from a file.
  void validate() const;
  // validate() plus what a trained model must hold: channels set, finite thresholds, min <= max.
  void validate_model() const;

  // A phase's budget in optimiser steps, given its steps per epoch (the epoch budget times
  // steps_per_epoch when one is set).
  int64_t planned_steps_gan(int64_t steps_per_epoch) const;
  int64_t planned_steps_seg(int64_t steps_per_epoch) const;

  Json to_json() const;
  // Strict: unknown keys and a format_version other than ours are errors naming `source`.
  static Config from_json(const Json& j, const std::string& source);
  // All option names (for --help and error hints).
  static std::vector<std::string> keys();
  // The options phase 1 (G and D) alone reads: budgets, losses, rates, EMA, schedule.
  static std::vector<std::string> phase1_keys();
  // Copies those options from the config a generator was trained with: a run that starts
  // from --init-generator skips phase 1, and its model file records the phase 1 its G had.
  void adopt_phase1(const Config& generator);
};

}  // namespace sad
