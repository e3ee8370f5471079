// read_model_file: everything a model file is checked for before a network exists.
#include "model/model_file.h"

#include <algorithm>
#include <cmath>

#include "layers/safetensors.h"
#include "tensor/check.h"
#include "tensor/json.h"

namespace sad {

Config config_from_metadata(const std::map<std::string, std::string>& metadata, const std::string& path) {
  auto it = metadata.find("config");
  SAD_CHECK(it != metadata.end(), path, ": not a sparsead model file (no 'config' in its metadata)");
  Json j;
  try {
    j = Json::parse(it->second);
  } catch (const Error& e) {
    SAD_FAIL(path, ": config metadata is not valid JSON: ", e.what());
  }
  return Config::from_json(j, path);
}

ModelFile read_model_file(const std::string& path) {
  SafetensorsFile f = load_safetensors(path);
  ModelFile m{config_from_metadata(f.metadata, path), {}, {}};
  try {
    m.cfg.validate_model();
  } catch (const Error& e) {
    SAD_FAIL(path, ": invalid stored config: ", e.what());
  }
  // Every weight finite: one NaN bias made every image of a test set "normal".
  for (const auto& [n, t] : f.tensors) {
    const std::vector<double> v = t.to_vector_f64();
    const bool finite = std::all_of(v.begin(), v.end(), [](double x) { return std::isfinite(x); });
    SAD_CHECK(finite, path, ": tensor '", n, "' holds a NaN or infinite value");
  }
  for (auto& [n, t] : f.tensors) {
    if (n.rfind("G.", 0) == 0)
      m.g_state.emplace_back(n.substr(2), t);
    else if (n.rfind("S.", 0) == 0)
      m.s_state.emplace_back(n.substr(2), t);
    else
      SAD_FAIL(path, ": unexpected tensor '", n, "' (a model file from another config?)");
  }
  SAD_CHECK(m.cfg.mode != Mode::Residual || m.s_state.empty(), path,
            ": residual-mode config but the file holds S tensors");
  return m;
}

}  // namespace sad
