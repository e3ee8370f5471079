// read_model_file: everything a model file is checked for before a network exists.
#include "model/model_file.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <optional>

#include "layers/safetensors.h"
#include "tensor/check.h"
#include "tensor/json.h"
#include "tensor/text.h"

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
  ModelFile m{config_from_metadata(f.metadata, path), {}, {}, {}};
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
    else if (n == kScoreReferenceTensor && m.cfg.score_reference == ScoreReference::Mean)
      m.score_reference = t;
    else
      SAD_FAIL(path, ": unexpected tensor '", n, "' (a model file from another config?)");
  }
  SAD_CHECK(m.cfg.mode != Mode::Residual || m.s_state.empty(), path,
            ": residual-mode config but the file holds S tensors");
  if (m.cfg.score_reference == ScoreReference::Mean) {
    const int64_t s = m.cfg.image_size;
    SAD_CHECK(m.score_reference.defined(), path, ": score_reference=mean but the file holds no '",
              kScoreReferenceTensor, "' tensor");
    const std::vector<int64_t> want{s, s};
    SAD_CHECK(m.score_reference.dtype() == DType::F32 && m.score_reference.shape() == want, path, ": tensor '",
              kScoreReferenceTensor, "' must be float32 (", s, ", ", s, "), got ",
              dtype_name(m.score_reference.dtype()), " ", shape_str(m.score_reference.shape()));
  }
  return m;
}

GeneratorSource load_generator_source(const std::string& path) {
  // A model file and a checkpoint both hold the config and G's tensors under "G.".
  SafetensorsFile f = load_safetensors(path);
  GeneratorSource src{config_from_metadata(f.metadata, path), {}};
  if (f.metadata.count("phase")) {
    // A training checkpoint: its G is phase 1's result once phase 1 has run all its steps.
    auto done = f.metadata.find("phase1_done");
    SAD_CHECK(done != f.metadata.end() && done->second == "1", path,
              ": this checkpoint is still in phase 1 (its generator is not trained yet)");
  }
  for (auto& [n, t] : f.tensors)
    if (n.rfind("G.", 0) == 0) src.state.emplace_back(n.substr(2), t);
  SAD_CHECK(!src.state.empty(), path, ": holds no generator tensors");
  return src;
}

// An integer of the checkpoint's metadata; a missing or malformed one is named.
int64_t meta_int(const SafetensorsFile& f, const std::string& key, const std::string& path) {
  auto it = f.metadata.find(key);
  SAD_CHECK(it != f.metadata.end(), path, ": checkpoint metadata has no '", key, "' (not a checkpoint of this build)");
  const std::optional<int64_t> v = parse_int64(it->second);
  SAD_CHECK(v && *v >= 0, path, ": checkpoint metadata '", key, "' is not a non-negative integer ('", it->second, "')");
  return *v;
}
double meta_double(const SafetensorsFile& f, const std::string& key, const std::string& path) {
  auto it = f.metadata.find(key);
  SAD_CHECK(it != f.metadata.end(), path, ": checkpoint metadata has no '", key, "'");
  char* end = nullptr;
  const double v = std::strtod(it->second.c_str(), &end);
  SAD_CHECK(!it->second.empty() && *end == '\0' && std::isfinite(v), path, ": checkpoint metadata '", key,
            "' is not a number");
  return v;
}

}  // namespace sad
