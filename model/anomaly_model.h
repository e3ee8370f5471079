// The trained model: G (and S, except in `residual` mode) with its Config, scoring and
// the model file. This is also the small inference API another program can embed:
//
//   sad::AnomalyModel m = sad::AnomalyModel::load("run/model.safetensors", sad::resolve_device("auto"));
//   sad::Prediction p = m.predict_file("part.png");   // p.score in [0, 1], 0.5 = threshold
//
// Scores (METHOD.md, "Inference and scores"): the anomaly map M (sigmoid of S's logits,
// optionally smoothed by a Gaussian of map_sigma on the logits; in `residual` mode the raw
// residual evidence smoothed by a Gaussian), and the image score = max over pixels of a
// stride-1 box filter of odd side S/16 + 1 (borders averaging only inside the image), both at
// S x S before any resize. In the segmenter modes the score is taken from the logits l,
// not from M = sigmoid(l), and `image_score` = lse (default) replaces the max by a
// log-sum-exp: on the demo, 49 of 60 defect images shared one maximum (the head's bias, where
// every feature of its last ReLU is zero), so the max could not rank them (a deviation from
// METHOD.md, see docs/METHOD_MAP.md).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "data/tiles.h"
#include "model/config.h"
#include "model/model_file.h"
#include "model/networks.h"

namespace sad {

struct Prediction {
  double raw_score = 0;               // the image score before normalisation
  double raw_score_unreferenced = 0;  // the same without config score_reference's map (= raw_score without one)
  double score = 0;                   // normalised: 0.5 is the stored (or given) threshold
  bool anomalous = false;             // score >= 0.5, or >= the threshold override
  Tensor map;                         // (H, W) normalised anomaly map at the image's original size, CPU
  Tensor raw_map;                     // raw map, CPU: (S, S), or the working size in tile mode (config tile_scale)
};

class AnomalyModel {
 public:
  // cfg must be finalised and have channels set (1 or 3).
  explicit AnomalyModel(const Config& cfg);

  const Config& config() const { return cfg_; }
  Config& config() { return cfg_; }
  Generator& generator() { return *g_; }
  Segmenter* segmenter() { return s_.get(); }  // null in residual mode
  bool has_segmenter() const { return s_ != nullptr; }
  Device device() const { return device_; }
  void to(Device device);
  // Seeded initialisation of G and S (DCGAN convention, S's head bias prior).
  void init(uint64_t seed);

  // Raw maps (B, 1, S, S) and raw image scores for a batch x (B, C, S, S) in [-1, 1].
  // G and S run in eval mode without gradients. Maps are returned on the CPU.
  struct Scored {
    Tensor maps;                       // (B, 1, S, S) CPU
    std::vector<double> scores;        // (B)
    std::vector<double> unreferenced;  // (B): the scores without the score reference (= scores without one)
  };
  Scored score_batch(const Tensor& x);

  // Tile mode (config tile_scale > 0): one image at its working size, (C, H, W) in [-1, 1]
  // with H, W >= S, scored window by window (data/tiles.h). The windows' raw maps (logits,
  // or raw residual evidence) are stitched, then smoothed like score_batch's, and the image
  // score is the largest of the windows' scores on the stitched map, so an image of one
  // window scores as score_batch scores it (up to the smoothing at the window's border).
  struct ScoredImage {
    Tensor map;  // (H, W) CPU: M, or the smoothed residual map
    double score = 0;
  };
  ScoredImage score_tiled(const Tensor& x);

  // The maps before smoothing and scoring, (B, 1, S, S) CPU: S's logits, or in residual mode
  // the raw residual evidence r (not batch-normalised).
  Tensor raw_maps(const Tensor& x);
  // raw_maps smoothed as for scoring (map_sigma), (B, 1, S, S) CPU.
  Tensor smoothed_maps(const Tensor& x);
  // Config score_reference = mean: the (S, S) CPU map that the image score subtracts from
  // each smoothed map (set at the end of training, stored in the model file). Until it is
  // set, scores are taken without it (the validation during phase 2).
  const Tensor& score_reference() const { return score_reference_; }
  // The image score of one smoothed (S, S) CPU map as it stands (lse or max by the config).
  double image_score_of(const Tensor& smoothed_ss) const;
  void set_score_reference(const Tensor& ref_ss);
  // The Gaussian smoothing applied to raw maps: map_sigma, or residual_sigma in residual mode.
  double map_sigma() const;
  // Whether that smoothing averages only inside the image (config map_border, segmenter modes).
  bool blur_inside() const;

  // Normalisation with the stored validation statistics (METHOD.md):
  // clip((s - t) / max(max - min, 1e-6) + 0.5, 0, 1).
  double normalise_image_score(double raw) const;
  double normalise_pixel(double raw) const;

  // One image file -> prediction at its original size; threshold in normalised units
  // (0.5 = the stored threshold).
  Prediction predict_file(const std::string& path, double threshold = 0.5);
  Prediction predict_image(const Tensor& image_unit_range /* (C, H, W) in [0, 1] */, double threshold = 0.5);

  // The model file: every tensor of G (and S) by module path, with the config as JSON
  // under the metadata key `config`. Written atomically.
  void save(const std::string& path) const;
  // Refuses a file from another config (missing or misshapen tensors, another format
  // version) with a one-line error naming the file.
  static AnomalyModel load(const std::string& path, Device device);

  // Named state of the networks (G.*, S.*), as stored in the model file.
  std::vector<std::pair<std::string, Tensor>> state() const;

 private:
  Config cfg_;
  std::shared_ptr<Generator> g_;
  std::shared_ptr<Segmenter> s_;
  Device device_ = Device::cpu();
  Tensor score_reference_;  // (S, S) CPU, or undefined
};

// Network settings from a config.
NetConfig net_config(const Config& cfg);

// The side of the image score's box filter for the network's S: odd, S/16 + 1.
int image_score_box_side(int64_t s);

// The image score of METHOD.md on one raw map (S, S): max of the box-filtered map.
double image_score_from_map(const Tensor& map_ss);
// The soft form: log of the mean of exp over the box-filtered map (a log-sum-exp, computed
// stably in double). On logits it is the log of the mean odds: it rises with both the height
// and the extent of the strongest region, so maps whose maximum sits at a common cap (a
// segmenter whose head marks defects with all its features at zero) still rank.
// temperature t: t log mean exp(v / t); t -> 0 approaches the max.
double image_score_lse_from_map(const Tensor& map_ss, double temperature = 1.0);

// Tile mode's image score on a stitched, smoothed map (H, W) at the grid's working size: the
// largest over the grid's windows of the window's score (lse or max) over the box-filtered
// map, the box of side S/16 + 1 for the grid's window side S.
double image_score_tiled(const Tensor& map_hw, const data::TileGrid& grid, bool lse, double temperature);

// Separable Gaussian blur of one (H, W) CPU map: zero padding, or with inside_only the taps
// inside the image renormalised to sum 1 (borders averaging only inside the image, the box
// filter's rule). Zero padding pulls a border towards 0: harmless for a residual map (>= 0,
// its borders only lowered) but on logits (about -5 on normal texture) it raises the borders
// towards an anomaly.
Tensor gaussian_blur(const Tensor& map_hw, double sigma, bool inside_only = false);

}  // namespace sad
