// Inside the command line: the verbs' flag tables, their entry points, and the checks
// they share. Every verb follows one order: parse the flags, validate every input (flags,
// config, dataset headers and pixels, model file, output directory), and only then create
// its output directory, so a refused command leaves nothing on disk.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "apps/cli_args.h"
#include "data/dataset.h"
#include "model/anomaly_model.h"
#include "model/config.h"
#include "tensor/device.h"
#include "tensor/file_io.h"

namespace sad::cli {

struct Streams {
  std::FILE* out;  // results: tables, info, help
  std::FILE* err;  // the error line
};

// The flag tables of all verbs, in the order `sparsead --help` lists them.
const std::vector<VerbSpec>& verb_specs();

int run_synth(const Args& a, Streams& io);
int run_train(const Args& a, Streams& io);
int run_test(const Args& a, Streams& io);
int run_predict(const Args& a, Streams& io);
int run_info(const Args& a, Streams& io);
int run_export(const Args& a, Streams& io);

// ---- Shared checks ---------------------------------------------------------------------

// The model of --model, and its collapse alarm (recorded by training) repeated on stderr: a
// user who scores with a collapsed segmenter is told so each time, not only at training.
AnomalyModel load_model(const Args& a, Device device, Streams& io);

// --threads N and --device: applies the thread count and resolves the device ("cuda"
// without a GPU is an error naming --device).
Device setup_runtime(const Args& a);

// An output directory about to be written: an existing file is an error; an existing
// non-empty directory is an error unless `allow_nonempty` and it holds kOutputMarker (an
// earlier output of sparsead). `flag` names it in the message. Creates nothing.
inline constexpr const char* kOutputMarker = ".sparsead-output";
void check_output_dir(const std::string& flag, const std::string& dir, bool allow_nonempty, const std::string& hint);
// Creates `dir` and its marker: the directory is sparsead's output, which --overwrite may replace.
void mark_output_dir(const std::string& dir);

// An output directory published whole or not at all (`test`, `predict`). Files are written
// into a staging directory beside it (<out>.partial.<pid>, marked as sparsead's output);
// commit() moves it into place, replacing an earlier output (already checked by
// check_output_dir) only then. Without commit() (an error, a full disk) the destructor
// removes the staging directory, so `out` is left exactly as it was. Staging directories
// of dead processes (a kill -9) are removed when the next one starts.
class StagedOutput {
 public:
  explicit StagedOutput(const std::string& out);
  ~StagedOutput();
  StagedOutput(const StagedOutput&) = delete;
  StagedOutput& operator=(const StagedOutput&) = delete;
  const std::string& path() const { return stage_; }  // where to write
  void commit();

 private:
  std::string out_, stage_;
  bool committed_ = false;
};

// The dataset of --data DIR (MVTec category) or --folder-normal/--folder-abnormal/
// --folder-mask. `training`: the test part is optional (MVTec) and --folder-normal holds
// the training images; otherwise test images are required and --folder-normal holds the
// normal test images. UsageError when neither or both forms are given.
data::Dataset read_dataset(const Args& a, bool training);

// Decodes every image (and mask) of `items` once, so a corrupt or truncated file is found
// before anything is written; throws the first failure in list order, naming the file.
void check_decodable(const std::vector<data::ImageItem>& items, int channels);

// The training configuration: defaults, the preset (--preset, else a preset key of the
// config file or --set, else `cpu` on the CPU and `paper` on a GPU), then --config FILE,
// then --set key=value, then the dedicated flags (--mode, --epochs-gan, ...); finalised.
// Errors name the file, key or flag.
Config build_train_config(const Args& a, Device device);

// One CSV field, quoted when it holds a comma, quote or newline.
std::string csv_field(const std::string& s);

}  // namespace sad::cli
