// Training a tiny run in tests: the options every trainer test sets the same way.
#pragma once

#include <atomic>
#include <map>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "layers/safetensors.h"
#include "model/trainer.h"

namespace sad::test {

// Trains cfg (finalised) on the MVTec-layout folder ds into out, quietly; stop and resume as
// in TrainOptions.
inline TrainResult train_quietly(const std::string& ds, const std::string& out, const Config& cfg,
                                 const std::atomic<bool>* stop = nullptr, bool resume = false) {
  TrainOptions o;
  o.dataset = data::read_mvtec(ds);
  o.out_dir = out;
  o.cfg = cfg;
  o.quiet = true;
  o.stop = stop;
  o.resume = resume;
  return train(o);
}

// A model file's tensors whose names start with prefix ("G." or "S."), by name.
inline std::map<std::string, std::vector<float>> tensors_of(const std::string& model_path, const std::string& prefix) {
  std::map<std::string, std::vector<float>> m;
  for (auto& [name, t] : load_safetensors(model_path).tensors)
    if (name.rfind(prefix, 0) == 0) m[name] = t.to_vector();
  return m;
}

}  // namespace sad::test
