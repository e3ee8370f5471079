// ParameterArena and Adam.
#include "layers/optim.h"

namespace sad {

namespace {
constexpr int64_t kAlign = 16;  // elements
int64_t round_up(int64_t n) { return (n + kAlign - 1) / kAlign * kAlign; }
}  // namespace

ParameterArena::ParameterArena(std::vector<Variable> params) : params_(std::move(params)) {
  SAD_CHECK(!params_.empty(), "ParameterArena: no parameters");
  Device dev = params_[0].device();
  DType dt = params_[0].dtype();
  int64_t total = 0;
  for (const Variable& p : params_) {
    SAD_CHECK(p.is_leaf() && p.requires_grad(), "ParameterArena: parameters must be leaves requiring gradients");
    SAD_CHECK(p.device() == dev && p.dtype() == dt, "ParameterArena: parameter ", p.data().str(), " differs from ",
              params_[0].data().str(), " in device or dtype");
    total += round_up(p.data().numel());
  }
  data_ = Tensor::zeros({total}, dt, dev);
  grad_ = Tensor::zeros({total}, dt, dev);
  int64_t off = 0;
  for (Variable& p : params_) {
    Tensor slot = data_.view_at(off, p.shape());
    slot.copy_from(p.data());
    p.set_data(slot);
    p.set_grad(grad_.view_at(off, p.shape()));
    off += round_up(p.data().numel());
  }
}

Adam::Adam(ParameterArena& arena, const AdamConfig& cfg)
    : arena_(arena), cfg_(cfg), m_(zeros_like(arena.data())), v_(zeros_like(arena.data())) {
  SAD_CHECK(cfg.lr > 0 && cfg.beta1 >= 0 && cfg.beta1 < 1 && cfg.beta2 >= 0 && cfg.beta2 < 1 && cfg.eps > 0,
            "Adam: invalid hyper-parameters (lr ", cfg.lr, ", betas ", cfg.beta1, "/", cfg.beta2, ", eps ", cfg.eps,
            ")");
}

void Adam::step() {
  ++step_;
  ops::adam_step({cfg_.lr, cfg_.beta1, cfg_.beta2, cfg_.eps, cfg_.weight_decay, step_}, arena_.data(), arena_.grad(),
                 m_, v_, skip_);
}

}  // namespace sad
