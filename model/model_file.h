// The model file read without building a network: the safetensors file, its stored config
// (parsed and validated as training validates it) and every weight checked finite, split
// into G's and S's state. AnomalyModel::load matches the state against the networks; this
// part needs no BLAS, so the fuzz targets (fuzz/) reach every check a file meets first.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "model/config.h"
#include "tensor/tensor.h"

namespace sad {

// The config a model file or training checkpoint stores as JSON under the metadata key
// `config`; errors name `path`.
Config config_from_metadata(const std::map<std::string, std::string>& metadata, const std::string& path);

struct ModelFile {
  Config cfg;                                                    // validated (validate_model)
  std::vector<std::pair<std::string, Tensor>> g_state, s_state;  // names without "G." / "S."
};

// Reads `path`: a one-line sad::Error naming the file for anything another config or a
// damaged file could hold (no config, an invalid config, a NaN or Inf weight, a tensor
// outside G and S, S tensors in a residual-mode file).
ModelFile read_model_file(const std::string& path);

}  // namespace sad
