// G, D and S as METHOD.md specifies them.
#include "model/networks.h"

#include <cmath>
#include <string>

namespace sad {

ConvBnAct::ConvBnAct(int64_t in, int64_t out, int kernel, int stride, int padding, float leaky_slope, float bn_momentum,
                     float bn_eps)
    : slope_(leaky_slope) {
  conv_ = register_module("conv", std::make_shared<Conv2d>(in, out, kernel, stride, padding, false));
  bn_ = register_module("bn", std::make_shared<BatchNorm2d>(out, bn_momentum, bn_eps));
}

Variable ConvBnAct::forward(const Variable& x) {
  const Variable h = conv_->forward(x);
  return slope_ == 0.0f ? bn_->forward_act(h, ops::BnAct::Relu) : bn_->forward_act(h, ops::BnAct::LeakyRelu, slope_);
}

// ---- G -------------------------------------------------------------------------------------

Generator::Generator(const NetConfig& c) {
  const float m = c.bn_momentum, e = c.bn_eps, lrelu = 0.2f, plain_relu = 0.0f;
  enc_ = register_module("enc", std::make_shared<Sequential>());
  int64_t in = c.channels;
  for (int64_t width : {c.width, 2 * c.width, 4 * c.width, 8 * c.width}) {
    auto stage = std::make_shared<Sequential>();
    stage->add(std::make_shared<ConvBnAct>(in, width, 3, 2, 1, lrelu, m, e));
    stage->add(std::make_shared<ConvBnAct>(width, width, 3, 1, 1, lrelu, m, e));
    enc_->add(stage);
    in = width;
  }
  dec_ = register_module("dec", std::make_shared<Sequential>());
  for (int64_t width : {4 * c.width, 2 * c.width, c.width, c.width}) {
    auto stage = std::make_shared<Sequential>();
    stage->add(std::make_shared<UpsampleNearest>(2));
    stage->add(std::make_shared<ConvBnAct>(in, width, 3, 1, 1, plain_relu, m, e));
    stage->add(std::make_shared<ConvBnAct>(width, width, 3, 1, 1, plain_relu, m, e));
    dec_->add(stage);
    in = width;
  }
  head_ = register_module("head", std::make_shared<Conv2d>(in, c.channels, 3, 1, 1, true));
}

Variable Generator::forward(const Variable& x) {
  SAD_CHECK(x.data().ndim() == 4 && x.dim(2) % 16 == 0 && x.dim(3) % 16 == 0, "Generator: input ", shape_str(x.shape()),
            " must be (B, C, S, S) with S a multiple of 16");
  return tanh(head_->forward(dec_->forward(enc_->forward(x))));
}

// ---- D -------------------------------------------------------------------------------------

Discriminator::Discriminator(const NetConfig& c) {
  const float m = c.bn_momentum, e = c.bn_eps, lrelu = 0.2f;
  net_ = register_module("net", std::make_shared<Sequential>());
  net_->add(std::make_shared<Conv2d>(c.channels, c.width, 4, 2, 1, true));  // no BN: keeps its bias
  net_->add(std::make_shared<LeakyReLU>(lrelu));
  net_->add(std::make_shared<ConvBnAct>(c.width, 2 * c.width, 4, 2, 1, lrelu, m, e));
  net_->add(std::make_shared<ConvBnAct>(2 * c.width, 4 * c.width, 4, 2, 1, lrelu, m, e));
  net_->add(std::make_shared<ConvBnAct>(4 * c.width, 8 * c.width, 4, 1, 1, lrelu, m, e));
  net_->add(std::make_shared<Conv2d>(8 * c.width, 1, 4, 1, 1, true));
}

Variable Discriminator::forward(const Variable& x) { return net_->forward(x); }

// ---- S -------------------------------------------------------------------------------------

BasicBlock::BasicBlock(int64_t in, int64_t out, int stride, const NetConfig& c) {
  conv1_ = register_module("conv1", std::make_shared<Conv2d>(in, out, 3, stride, 1, false));
  bn1_ = register_module("bn1", std::make_shared<BatchNorm2d>(out, c.bn_momentum, c.bn_eps));
  conv2_ = register_module("conv2", std::make_shared<Conv2d>(out, out, 3, 1, 1, false));
  bn2_ = register_module("bn2", std::make_shared<BatchNorm2d>(out, c.bn_momentum, c.bn_eps));
  if (stride != 1 || in != out) {
    short_conv_ = register_module("short_conv", std::make_shared<Conv2d>(in, out, 1, stride, 0, false));
    short_bn_ = register_module("short_bn", std::make_shared<BatchNorm2d>(out, c.bn_momentum, c.bn_eps));
  }
}

Variable BasicBlock::forward(const Variable& x) {
  Variable h = bn2_->forward(conv2_->forward(bn1_->forward_act(conv1_->forward(x), ops::BnAct::Relu)));
  Variable s = short_conv_ ? short_bn_->forward(short_conv_->forward(x)) : x;
  return relu(add(h, s));
}

Segmenter::Segmenter(const NetConfig& c) : cfg_(c) {
  const float m = c.bn_momentum, e = c.bn_eps;
  stem_ = register_module("stem", std::make_shared<Sequential>());
  stem_->add(std::make_shared<ConvBnAct>(c.channels, c.width, 3, 1, 1, 0.0f, m, e));
  int64_t in = c.width;
  for (int k = 0; k < 4; ++k) {
    int64_t width = c.width << k;  // w, 2w, 4w, 8w at S/2, S/4, S/8, S/16
    auto stage = std::make_shared<Sequential>();
    stage->add(std::make_shared<BasicBlock>(in, width, 2, c));
    stage->add(std::make_shared<BasicBlock>(width, width, 1, c));
    stages_.push_back(register_module("enc" + std::to_string(k + 1), stage));
    in = width;
  }
  for (int k = 0; k < 4; ++k) {
    int64_t width = c.width << k;
    fuse_.push_back(register_module("fuse" + std::to_string(k + 1),
                                    std::make_shared<ConvBnAct>(3 * width, width, 1, 1, 0, 0.0f, m, e)));
  }
  for (int k = 2; k >= 0; --k) {  // d_3, d_2, d_1
    int64_t width = c.width << k, up_in = c.width << (k + 1);
    auto block = std::make_shared<Sequential>();
    block->add(std::make_shared<ConvBnAct>(up_in + width, width, 3, 1, 1, 0.0f, m, e));
    block->add(std::make_shared<ConvBnAct>(width, width, 3, 1, 1, 0.0f, m, e));
    refine_.push_back(register_module("refine" + std::to_string(k + 1), block));
  }
  head_conv_ = register_module("head_conv", std::make_shared<Conv2d>(c.width, c.width, 3, 1, 1, true));
  head_out_ = register_module("head_out", std::make_shared<Conv2d>(c.width, 1, 1, 1, 0, true));
}

void Segmenter::reset_parameters(Rng&) {
  // M = sigmoid(l) starts at the prior's area fraction everywhere.
  Tensor b = head_out_->bias.data();
  ops::fill(b, static_cast<float>(std::log(cfg_.rho / (1.0 - cfg_.rho))));
}

Variable Segmenter::forward(const Variable& x, const Variable& xr) {
  SAD_CHECK(x.shape() == xr.shape() && x.data().ndim() == 4 && x.dim(2) % 16 == 0 && x.dim(3) % 16 == 0,
            "Segmenter: inputs ", shape_str(x.shape()), " and ", shape_str(xr.shape()),
            " must be equal (B, C, S, S) with S a multiple of 16");
  const int64_t batch = x.dim(0);
  // One encoder pass over both images: one BN statistics update for the pair.
  Variable h = stem_->forward(concat({x, xr}, 0));
  std::vector<Variable> z;  // z_1 .. z_4
  for (int k = 0; k < 4; ++k) {
    h = stages_[static_cast<size_t>(k)]->forward(h);
    std::vector<Variable> ab = split(h, {batch, batch}, 0);
    z.push_back(fuse_[static_cast<size_t>(k)]->forward(fusion(ab[0], ab[1])));
  }
  Variable d = z[3];
  for (int k = 2; k >= 0; --k)
    d = refine_[static_cast<size_t>(2 - k)]->forward(concat({upsample_nearest(d, 2), z[static_cast<size_t>(k)]}, 1));
  return head_out_->forward(relu(head_conv_->forward(upsample_nearest(d, 2))));
}

}  // namespace sad
