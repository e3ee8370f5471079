// The three networks of METHOD.md: the generator G (encoder-decoder without skips), the
// patch discriminator D and the segmentation network S (a Siamese ResNet encoder, a
// fusion block per scale, progressive coarse-to-fine fusion, a one-logit head).
// Conventions (METHOD.md): a conv followed by BN has no bias; 3x3 convs keep the size
// (padding 1); D's 4x4 convs use padding 1; upsampling is nearest x2.
#pragma once

#include <memory>
#include <vector>

#include "layers/layers.h"

namespace sad {

// Conv (no bias) -> BN -> activation. act: 0 = ReLU, otherwise LeakyReLU(slope).
class ConvBnAct final : public Layer {
 public:
  ConvBnAct(int64_t in, int64_t out, int kernel, int stride, int padding, float leaky_slope, float bn_momentum,
            float bn_eps);
  Variable forward(const Variable& x) override;

 private:
  std::shared_ptr<Conv2d> conv_;
  std::shared_ptr<BatchNorm2d> bn_;
  float slope_;
};

struct NetConfig {
  int64_t channels = 3;  // C
  int64_t width = 16;    // w
  float bn_momentum = 0.1f;
  float bn_eps = 1e-5f;
  float rho = 0.03f;  // S's head bias starts at log(rho / (1 - rho))
};

// G: 4 encoder stages (stride-2 conv + conv, widths w, 2w, 4w, 8w, LeakyReLU 0.2),
// 4 decoder stages (upsample + conv + conv, widths 4w, 2w, w, w, ReLU), conv -> C, tanh.
class Generator final : public Layer {
 public:
  explicit Generator(const NetConfig& cfg);
  Variable forward(const Variable& x) override;  // (B, C, S, S) -> (B, C, S, S)

 private:
  std::shared_ptr<Sequential> enc_, dec_;
  std::shared_ptr<Conv2d> head_;
};

// D: a patch discriminator, one logit per patch.
class Discriminator final : public Layer {
 public:
  explicit Discriminator(const NetConfig& cfg);
  Variable forward(const Variable& x) override;  // (B, C, S, S) -> (B, 1, S/8 - 2, S/8 - 2)

 private:
  std::shared_ptr<Sequential> net_;
};

// A ResNet basic block: conv3x3(s)-BN-ReLU-conv3x3-BN plus a shortcut (conv1x1(s)+BN when
// the shape changes), then ReLU.
class BasicBlock final : public Layer {
 public:
  BasicBlock(int64_t in, int64_t out, int stride, const NetConfig& cfg);
  Variable forward(const Variable& x) override;

 private:
  std::shared_ptr<Conv2d> conv1_, conv2_, short_conv_;
  std::shared_ptr<BatchNorm2d> bn1_, bn2_, short_bn_;
};

// S: segmentation logits from an image and its reconstruction.
class Segmenter final : public Module {
 public:
  explicit Segmenter(const NetConfig& cfg);
  // x, xr: (B, C, S, S) -> logits (B, 1, S, S). The encoder runs once on [x; xr].
  Variable forward(const Variable& x, const Variable& xr);
  void reset_parameters(Rng& rng) override;  // the head's bias prior

 private:
  NetConfig cfg_;
  std::shared_ptr<Sequential> stem_;
  std::vector<std::shared_ptr<Sequential>> stages_;  // 4 x 2 basic blocks
  std::vector<std::shared_ptr<ConvBnAct>> fuse_;     // z_k = ReLU(BN(Conv1x1([a, b, |a-b|])))
  std::vector<std::shared_ptr<Sequential>> refine_;  // d_k = ConvBlock(concat(up(d_{k+1}), z_k)), k = 3, 2, 1
  std::shared_ptr<Conv2d> head_conv_, head_out_;
};

}  // namespace sad
