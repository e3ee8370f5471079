// `sparsead export`: the model's inference graph for other runtimes (model/onnx_export.h),
// and optionally reference data that any runtime's output can be checked against.
#include <filesystem>

#include "apps/cli_verbs.h"
#include "data/tiles.h"
#include "model/anomaly_model.h"
#include "model/onnx_export.h"
#include "tensor/rng.h"

namespace sad::cli {

namespace fs = std::filesystem;

int run_export(const Args& a, Streams& io) {
  const std::string out = a.require("--out");
  const std::string format = a.get_choice("--format", {"onnx"}).value_or("onnx");
  const std::string model_path = a.require("--model");
  const std::optional<std::string> reference = a.get("--reference");
  const Device device = setup_runtime(a);
  std::error_code ec;
  if (fs::is_directory(out, ec)) throw UsageError("--out '" + out + "' is a directory; give the .onnx file's path");
  if (reference)
    check_output_dir("--reference", *reference, a.has("--overwrite"), "pass --overwrite to replace its files");
  AnomalyModel model = load_model(a, device, io);
  const std::string bytes = onnx_model(model, model_path);
  write_file_atomic(out, bytes, "--out");
  std::fprintf(io.out, "export: %s (%s, opset %lld, %.2f MB)\n", out.c_str(), format.c_str(),
               static_cast<long long>(kOnnxOpset), static_cast<double>(bytes.size()) / 1e6);
  if (reference) {
    // Two seeded images in [-1, 1] and what this build computes for them.
    const Config& c = model.config();
    const int64_t s = c.image_size, ch = c.channels;
    Rng rng(20261205);
    std::vector<float> v(static_cast<size_t>(2 * ch * s * s));
    for (float& x : v) x = static_cast<float>(rng.uniform(-1.0, 1.0));
    const Tensor input = Tensor::from_vector(v, {2, ch, s, s});
    const Tensor raw = model.raw_maps(input);
    const std::vector<double> scores = model.score_batch(input).scores;  // raw image scores
    StagedOutput staged(*reference);
    write_file_atomic((fs::path(staged.path()) / "input.npy").string(), npy_bytes(input));
    write_file_atomic((fs::path(staged.path()) / "raw.npy").string(), npy_bytes(raw));
    write_file_atomic((fs::path(staged.path()) / "scores.npy").string(),
                      npy_bytes(Tensor::from_vector_f64(scores, {static_cast<int64_t>(scores.size())}, DType::F32)));
    if (c.tiled()) {
      // A seeded image at working scale whose sides are not a whole number of strides, and
      // its stitched raw map (before smoothing): the tiling rule of the metadata, checked.
      const int64_t h = s + s / 2 + 7, w = 2 * s + 5;
      std::vector<float> iv(static_cast<size_t>(ch * h * w));
      for (float& x : iv) x = static_cast<float>(rng.uniform(-1.0, 1.0));
      const Tensor image = Tensor::from_vector(iv, {ch, h, w});
      const data::TileGrid grid = data::tile_grid({h, w}, s, c.window_stride());
      Tensor windows = Tensor::empty({grid.count(), ch, s, s});
      for (int64_t k = 0; k < grid.count(); ++k)
        windows.slice0(k, k + 1).reshape({ch, s, s}).copy_from(data::crop(image, grid.y(k), grid.x(k), s));
      const Tensor stitched = data::stitch(model.raw_maps(windows), grid);
      write_file_atomic((fs::path(staged.path()) / "tile_input.npy").string(), npy_bytes(image));
      write_file_atomic((fs::path(staged.path()) / "tile_raw.npy").string(), npy_bytes(stitched));
      const double tile_score = model.score_tiled(image).score;
      write_file_atomic((fs::path(staged.path()) / "tile_score.npy").string(),
                        npy_bytes(Tensor::from_vector_f64({tile_score}, {1}, DType::F32)));
    }
    staged.commit();
    std::fprintf(
        io.out,
        "reference: %s/input.npy, raw.npy, scores.npy (2 seeded images, this build's raw maps and image scores)%s\n",
        reference->c_str(),
        c.tiled() ? ", tile_input.npy, tile_raw.npy, tile_score.npy (an image, its stitched map and score)" : "");
  }
  return 0;
}

}  // namespace sad::cli
