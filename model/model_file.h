// The model file read without building a network: the safetensors file, its stored config
// (parsed and validated as training validates it) and every weight checked finite, split
// into G's and S's state. AnomalyModel::load matches the state against the networks; this
// part needs no BLAS, so the fuzz targets (fuzz/) reach every check a file meets first.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "layers/safetensors.h"
#include "model/config.h"
#include "tensor/tensor.h"

namespace sad {

// The config a model file or training checkpoint stores as JSON under the metadata key
// `config`; errors name `path`.
Config config_from_metadata(const std::map<std::string, std::string>& metadata, const std::string& path);

// The tensor of config score_reference = mean: (S, S) float32.
inline constexpr const char* kScoreReferenceTensor = "score_reference";

struct ModelFile {
  Config cfg;                                                    // validated (validate_model)
  std::vector<std::pair<std::string, Tensor>> g_state, s_state;  // names without "G." / "S."
  Tensor score_reference;                                        // defined exactly when cfg says mean
};

// Reads `path`: a one-line sad::Error naming the file for anything another config or a
// damaged file could hold (no config, an invalid config, a NaN or Inf weight, a tensor
// outside G and S, S tensors in a residual-mode file, a score reference missing, misshapen
// or not asked for by the config).
ModelFile read_model_file(const std::string& path);

// A training checkpoint's metadata values (phase, step, ...): a missing or malformed one is an
// error naming `path` and the key.
int64_t meta_int(const SafetensorsFile& f, const std::string& key, const std::string& path);
double meta_double(const SafetensorsFile& f, const std::string& key, const std::string& path);

// The generator of --init-generator and the config it was trained with, read from a model
// file or from a training checkpoint past phase 1 (so other modes can start while that run
// is still in phase 2). Errors name the file.
struct GeneratorSource {
  Config cfg;
  std::vector<std::pair<std::string, Tensor>> state;  // G's tensors without the "G." prefix
};
GeneratorSource load_generator_source(const std::string& path);

}  // namespace sad
