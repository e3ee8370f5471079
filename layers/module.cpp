// Module tree: registration, recursive naming, state load/store, mode and device moves.
#include "layers/module.h"

#include <map>
#include <set>

namespace sad {

void Module::check_new_name(const std::string& name) const {
  SAD_CHECK(!name.empty() && name.find('.') == std::string::npos, "module member name '", name,
            "' must be non-empty and contain no '.'");
  for (auto& [n, v] : params_) SAD_CHECK(n != name, "duplicate member name '", name, "'");
  for (auto& [n, t] : buffers_) SAD_CHECK(n != name, "duplicate member name '", name, "'");
  for (auto& [n, m] : children_) SAD_CHECK(n != name, "duplicate member name '", name, "'");
}

Variable Module::register_parameter(const std::string& name, Tensor init) {
  check_new_name(name);
  params_.emplace_back(name, Variable(std::move(init), true));
  return params_.back().second;
}

Tensor& Module::register_buffer(const std::string& name, Tensor init) {
  check_new_name(name);
  buffers_.emplace_back(name, std::move(init));
  return buffers_.back().second;
}

void Module::collect_parameters(const std::string& prefix, std::vector<std::pair<std::string, Variable>>& out) const {
  for (auto& [n, v] : params_) out.emplace_back(prefix + n, v);
  for (auto& [n, m] : children_) m->collect_parameters(prefix + n + ".", out);
}

void Module::collect_buffers(const std::string& prefix, std::vector<std::pair<std::string, Tensor*>>& out) {
  for (auto& [n, t] : buffers_) out.emplace_back(prefix + n, &t);
  for (auto& [n, m] : children_) m->collect_buffers(prefix + n + ".", out);
}

std::vector<std::pair<std::string, Variable>> Module::named_parameters() const {
  std::vector<std::pair<std::string, Variable>> out;
  collect_parameters("", out);
  return out;
}

std::vector<std::pair<std::string, Tensor*>> Module::named_buffers() {
  std::vector<std::pair<std::string, Tensor*>> out;
  collect_buffers("", out);
  return out;
}

std::vector<Variable> Module::parameters() const {
  std::vector<Variable> out;
  for (auto& [n, v] : named_parameters()) out.push_back(v);
  return out;
}

int64_t Module::num_parameters() const {
  int64_t n = 0;
  for (auto& [name, v] : named_parameters()) n += v.data().numel();
  return n;
}

std::vector<std::pair<std::string, Tensor>> Module::state() const {
  std::vector<std::pair<std::string, Tensor>> out;
  for (auto& [n, v] : named_parameters()) out.emplace_back(n, v.data());
  for (auto& [n, t] : const_cast<Module*>(this)->named_buffers()) out.emplace_back(n, *t);
  return out;
}

void Module::load_state(const std::vector<std::pair<std::string, Tensor>>& tensors, const std::string& source,
                        bool strict) {
  std::map<std::string, const Tensor*> by_name;
  for (auto& [n, t] : tensors) by_name[n] = &t;
  std::set<std::string> used;
  auto take = [&](const std::string& name, Tensor& dst) {
    auto it = by_name.find(name);
    SAD_CHECK(it != by_name.end(), source, ": tensor '", name, "' is missing (a model file from another config?)");
    const Tensor& src = *it->second;
    SAD_CHECK(src.shape() == dst.shape(), source, ": tensor '", name, "' has shape ", shape_str(src.shape()),
              ", the model expects ", shape_str(dst.shape()), " (a model file from another config?)");
    Tensor converted = src.to(Device::cpu()).to(dst.dtype());
    dst.copy_from(converted);
    used.insert(name);
  };
  for (auto& [n, v] : named_parameters()) {
    Tensor d = v.data();  // shares storage with the parameter
    take(n, d);
  }
  for (auto& [n, t] : named_buffers()) take(n, *t);
  if (strict)
    for (auto& [n, t] : tensors)
      SAD_CHECK(used.count(n), source, ": unexpected tensor '", n, "' (a model file from another config?)");
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [n, m] : children_) m->train(on);
}

void Module::to(Device device) {
  for (auto& [n, v] : params_) {
    SAD_CHECK(!v.grad_fn(), "Module::to: parameter '", n, "' is not a leaf");
    if (v.device() != device) {
      v.set_data(v.data().to(device));
      if (v.grad().defined()) v.set_grad(v.grad().to(device));
    }
  }
  for (auto& [n, t] : buffers_) t = t.to(device);
  for (auto& [n, m] : children_) m->to(device);
}

void Module::zero_grad() {
  for (auto& [n, v] : named_parameters()) v.zero_grad();
}

void init_parameters(Module& root, Rng& rng) {
  root.reset_parameters(rng);
  for (auto& [n, m] : root.children()) init_parameters(*m, rng);
}

}  // namespace sad
