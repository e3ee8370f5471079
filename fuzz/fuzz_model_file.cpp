// Fuzz target: the safetensors reader and the model file (sparsead predict/test/info --model).
// The input is a whole file. Beyond the shared rules: a file the reader accepts must survive
// a round trip (written by save_safetensors, read back: the same tensors bit for bit and the
// same metadata), and read_model_file must accept or refuse it cleanly.
#include <cstring>

#include "fuzz/fuzz_util.h"
#include "layers/safetensors.h"
#include "model/model_file.h"

using namespace sad;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = fuzz::input_file("model.safetensors", data, size);
  SafetensorsFile f;
  if (!fuzz::accepted([&] { f = load_safetensors(path); }, path)) return 0;

  const std::string copy = fuzz::work_dir() + "/copy.safetensors";
  if (!fuzz::accepted([&] { save_safetensors(copy, f.tensors, f.metadata); }))
    fuzz::finding("save_safetensors refused what load_safetensors accepted");
  SafetensorsFile g;
  if (!fuzz::accepted([&] { g = load_safetensors(copy); })) fuzz::finding("the written copy does not load");
  if (g.metadata != f.metadata && !(f.metadata.empty() && g.metadata.empty()))
    fuzz::finding("the metadata changed in a round trip");
  if (g.tensors.size() != f.tensors.size()) fuzz::finding("the tensor count changed in a round trip");
  for (size_t i = 0; i < f.tensors.size(); ++i) {
    const Tensor &a = f.tensors[i].second, &b = g.tensors[i].second;
    if (f.tensors[i].first != g.tensors[i].first || a.shape() != b.shape() || a.dtype() != b.dtype() ||
        std::memcmp(a.raw(), b.raw(), static_cast<size_t>(a.numel()) * (a.dtype() == DType::F32 ? 4 : 8)) != 0)
      fuzz::finding("tensor '" + f.tensors[i].first + "' changed in a round trip");
  }

  fuzz::accepted([&] { (void)read_model_file(path); }, path);
  return 0;
}
