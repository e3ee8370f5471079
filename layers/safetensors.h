// The safetensors file format: sparsead's checkpoint and weight-exchange format, the one
// PyTorch tooling (tools/) reads and writes too. Layout: an 8-byte little-endian header
// length N, N bytes of JSON header (padded with spaces so the data starts 8-byte aligned)
//   { "__metadata__": {string: string}, "<name>": {"dtype": "F32" | "F64", "shape": [...],
//     "data_offsets": [begin, end]}, ... }
// then the data buffer, every tensor's raw little-endian bytes at [begin, end) relative to
// the buffer's start. The reader is strict: a file another implementation could read
// differently (gaps, overlaps, trailing bytes, unknown fields) is refused with one line
// naming the file and the problem, never half-loaded.
// Loading into a Module lives with the Module; this is the file-level API.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "tensor/tensor.h"

namespace sad {

// Writes `tensors` (any device, F32 or F64; written in the given order) and `metadata`
// (omitted from the header when empty) to `path` atomically (write_file_durable: a
// temporary beside it, fsync, then rename over `path`). On any failure the temporary is
// removed, `path` is left as it was, and a sad::Error names the path and the cause.
void save_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata);

struct SafetensorsFile {
  std::string path;                                     // where it was loaded from, for messages
  std::vector<std::pair<std::string, Tensor>> tensors;  // CPU tensors, in header order
  std::map<std::string, std::string> metadata;

  // Throws sad::Error naming the file and the tensor when absent.
  const Tensor& get(const std::string& name) const;
  bool has(const std::string& name) const;
};

// Reads and validates the whole file; every tensor lands on the CPU.
SafetensorsFile load_safetensors(const std::string& path);

}  // namespace sad
