// Module: a node of the network tree with named parameters, buffers and children.
// Names are dotted paths in registration order (`G.enc.0.conv.weight`), the keys of the
// safetensors model file. A Layer is a Module with a one-input forward.
#pragma once

#include <deque>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "autograd/variable.h"
#include "tensor/rng.h"

namespace sad {

class Module {
 public:
  Module() = default;
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // Parameters (Variables requiring gradients) and buffers (BN running statistics),
  // recursively, with dotted names.
  std::vector<std::pair<std::string, Variable>> named_parameters() const;
  std::vector<std::pair<std::string, Tensor*>> named_buffers();
  std::vector<Variable> parameters() const;
  int64_t num_parameters() const;

  // Everything a model file stores: parameters then buffers, by name.
  std::vector<std::pair<std::string, Tensor>> state() const;
  // Loads tensors by name (any device; copied to the module's). Missing names, unknown
  // names (when strict) and shape mismatches are errors naming the tensor and `source`.
  void load_state(const std::vector<std::pair<std::string, Tensor>>& tensors, const std::string& source,
                  bool strict = true);

  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }

  // Moves every parameter and buffer to `device` (before building a ParameterArena).
  void to(Device device);
  void zero_grad();

  // Seeded initialisation of this module's own parameters; init_parameters() recurses.
  virtual void reset_parameters(Rng& rng) {}

  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& children() const { return children_; }

 protected:
  Variable register_parameter(const std::string& name, Tensor init);
  Tensor& register_buffer(const std::string& name, Tensor init);
  template <typename M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> m) {
    check_new_name(name);
    children_.emplace_back(name, m);
    return m;
  }

 private:
  void check_new_name(const std::string& name) const;
  void collect_parameters(const std::string& prefix, std::vector<std::pair<std::string, Variable>>& out) const;
  void collect_buffers(const std::string& prefix, std::vector<std::pair<std::string, Tensor*>>& out);

  std::vector<std::pair<std::string, Variable>> params_;
  std::deque<std::pair<std::string, Tensor>> buffers_;  // deque: register_buffer's references stay valid
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
};

// Calls reset_parameters on every module of the tree, in registration order (so the
// same seed gives the same weights).
void init_parameters(Module& root, Rng& rng);

class Layer : public Module {
 public:
  virtual Variable forward(const Variable& x) = 0;
  Variable operator()(const Variable& x) { return forward(x); }
};

}  // namespace sad
