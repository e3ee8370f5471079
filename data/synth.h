// A procedural dataset in MVTec AD layout, deterministic from a seed: something to train
// and evaluate on without any download, and a set whose defects are made by procedures
// unlike the training perturbation (thin anti-aliased scratches, random-walk cracks,
// round holes, soft stains), so a model cannot score well by recognising its own
// synthetic-defect shapes.
//
// Layout written: train/good/NNN.png, test/good/NNN.png, test/<defect>/NNN.png,
// ground_truth/<defect>/NNN_mask.png (8-bit, 255 = defective). Every image is drawn from
// Rng::stream(seed, {kStreamSynth, split, type, index}), so one image does not depend on
// how many others are generated.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace sad::data {

enum class SynthKind {
  Fabric,  // periodic weave with random phase, slight angle jitter, smooth shading noise
  Wood,    // growth rings distorted by Perlin noise, fine grain
  Disc,    // an object: a shaded disc with an inner ring on a dark background
  Tile,    // an object: a rounded square, slightly rotated, with a brushed finish
};
const char* synth_kind_name(SynthKind kind);
SynthKind parse_synth_kind(const std::string& name);  // "fabric" | "wood" | "disc" | "tile"

inline const std::vector<std::string>& synth_defect_types() {
  static const std::vector<std::string> kTypes = {"crack", "hole", "scratch", "stain"};
  return kTypes;
}

struct SynthConfig {
  uint64_t seed = 0;
  SynthKind kind = SynthKind::Fabric;
  int size = 128;                                           // S: images are S x S
  int channels = 3;                                         // 1 (gray PNGs) or 3 (RGB PNGs)
  int train = 60;                                           // train/good
  int test_good = 20;                                       // test/good
  int per_defect = 10;                                      // test/<defect> for each defect type
  std::vector<std::string> defects = synth_defect_types();  // a subset of synth_defect_types()
};

// One generated image: (C, S, S) in [0, 1] and its (1, S, S) {0, 1} mask (all zero for a
// normal image). `defect` is "" for a normal image; `split` is 0 for train, 1 for test.
struct SynthImage {
  Tensor image;  // (C, S, S)
  Tensor mask;   // (1, S, S)
  Tensor clean;  // (C, S, S): the same image before its defect was painted (== image when normal)
};
SynthImage synth_image(const SynthConfig& cfg, int split, const std::string& defect, int64_t index);

// Writes the whole dataset under out_dir. Refuses an existing non-empty out_dir; writes
// into a temporary sibling directory and renames it at the end, so a failure leaves
// nothing behind.
void generate_synthetic_dataset(const SynthConfig& cfg, const std::string& out_dir);

}  // namespace sad::data
