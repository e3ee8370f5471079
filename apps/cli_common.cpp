// The checks the verbs share (apps/cli_verbs.h): runtime flags, output directories (and the
// staged output of test and predict), the dataset and its pixels, atomic text files.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <fstream>

#include "apps/cli_verbs.h"
#include "data/image.h"
#include "kernels/runtime.h"
#include "model/anomaly_model.h"
#include "tensor/text.h"

namespace sad::cli {

namespace fs = std::filesystem;

Device setup_runtime(const Args& a) {
  if (std::optional<int64_t> n = a.get_int("--threads", 1, 1024)) set_num_threads(static_cast<int>(*n));
  const std::string spec = a.get_choice("--device", {"auto", "cpu", "cuda"}).value_or("auto");
  return resolve_device(spec);
}

void check_output_dir(const std::string& flag, const std::string& dir, bool allow_nonempty, const std::string& hint) {
  if (dir.empty()) throw UsageError(flag + " has an empty value");
  std::error_code ec;
  const fs::path p(dir);
  if (!fs::exists(p, ec)) return;
  if (!fs::is_directory(p, ec)) throw Error(flag + " '" + dir + "': exists and is not a directory");
  if (!allow_nonempty && !fs::is_empty(p, ec))
    throw Error(flag + " '" + dir + "': directory exists and is not empty" + (hint.empty() ? "" : " (" + hint + ")"));
  // --overwrite replaces only what sparsead wrote: never '/', a home directory or a data set.
  if (allow_nonempty && !fs::is_empty(p, ec) && !fs::exists(p / kOutputMarker, ec))
    throw Error(flag + " '" + dir + "': holds files sparsead did not write (no " + kOutputMarker +
                " marker); --overwrite only replaces an earlier output of sparsead");
}

void mark_output_dir(const std::string& dir) {
  fs::create_directories(dir);
  std::ofstream((fs::path(dir) / kOutputMarker).string())
      << "written by sparsead; --overwrite may replace this directory\n";
}

namespace {

// "<name>.partial.<pid>" -> pid, else 0.
long staging_pid(const std::string& name, const std::string& base) {
  const std::string prefix = base + ".partial.";
  if (name.rfind(prefix, 0) != 0) return 0;
  const std::string digits = name.substr(prefix.size());
  const std::optional<int64_t> pid = parse_int64(digits);
  return pid && *pid > 0 && *pid < (int64_t{1} << 31) ? static_cast<long>(*pid) : 0;
}

}  // namespace

StagedOutput::StagedOutput(const std::string& out) : out_(fs::path(out).lexically_normal().string()) {
  if (out_.size() > 1 && out_.back() == '/') out_.pop_back();
  const fs::path target(out_);
  const fs::path parent = target.has_parent_path() ? target.parent_path() : fs::path(".");
  const std::string base = target.filename().string();
  std::error_code ec;
  fs::create_directories(parent, ec);
  if (ec) throw Error("--out '" + out + "': cannot create its parent directory: " + ec.message());
  for (const auto& e : fs::directory_iterator(parent, ec)) {
    const long pid = staging_pid(e.path().filename().string(), base);
    if (pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) fs::remove_all(e.path(), ec);
  }
  stage_ = (parent / (base + ".partial." + std::to_string(::getpid()))).string();
  fs::remove_all(stage_, ec);
  mark_output_dir(stage_);
}

StagedOutput::~StagedOutput() {
  if (committed_) return;
  std::error_code ec;
  fs::remove_all(stage_, ec);
}

void StagedOutput::commit() {
  std::error_code ec;
  const bool had_old = fs::exists(out_, ec);
  const std::string old = out_ + ".old." + std::to_string(::getpid());
  if (had_old) {
    fs::rename(out_, old, ec);
    if (ec) throw Error("--out '" + out_ + "': cannot move the earlier output aside: " + ec.message());
  }
  fs::rename(stage_, out_, ec);
  if (ec) {
    std::error_code ec2;
    if (had_old) fs::rename(old, out_, ec2);
    throw Error("--out '" + out_ + "': cannot move the new output into place: " + ec.message());
  }
  committed_ = true;
  if (had_old) fs::remove_all(old, ec);
}

data::Dataset read_dataset(const Args& a, bool training) {
  const bool mvtec = a.has("--data");
  const bool folder = a.has("--folder-normal") || a.has("--folder-abnormal") || a.has("--folder-mask");
  if (mvtec && folder)
    throw UsageError(a.verb() + ": --data and --folder-* select different dataset layouts; give one of them");
  if (!mvtec && !folder)
    throw UsageError(a.verb() + ": missing required flag --data (or --folder-normal for Folder mode)");
  if (mvtec) return data::read_mvtec(a.require("--data"), /*require_test=*/!training);
  data::FolderSpec spec;
  spec.normal_dir = a.require("--folder-normal");
  if (!training) spec.normal_test_dir = spec.normal_dir;
  spec.abnormal_dir = a.get_or("--folder-abnormal", "");
  spec.mask_dir = a.get_or("--folder-mask", "");
  if (!spec.mask_dir.empty() && spec.abnormal_dir.empty())
    throw UsageError(a.verb() + ": --folder-mask needs --folder-abnormal");
  return data::read_folder(spec);
}

void check_decodable(const std::vector<data::ImageItem>& items, int channels) {
  // One error slot per item, so the reported failure is the first in list order whatever
  // the thread count.
  std::vector<std::string> errors(items.size());
  const int64_t n = static_cast<int64_t>(items.size());
#pragma omp parallel for schedule(dynamic) if (n > 4)
  for (int64_t i = 0; i < n; ++i) {
    const data::ImageItem& it = items[static_cast<size_t>(i)];
    try {
      (void)data::read_image_info(it.path);  // the size limit, before decoding
      (void)data::load_image(it.path, channels);
      if (!it.mask_path.empty()) (void)data::load_mask(it.mask_path);
    } catch (const std::exception& e) {
      errors[static_cast<size_t>(i)] = e.what();
    }
  }
  for (const std::string& e : errors)
    if (!e.empty()) throw Error(e);
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

// The model, and its collapse alarm (recorded by training) repeated on stderr: a user who
// scores with a collapsed segmenter is told so each time, not only when it was trained.
AnomalyModel load_model(const Args& a, Device device, Streams& io) {
  const std::string path = a.require("--model");
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) throw Error("--model '" + path + "': no such file");
  AnomalyModel m = AnomalyModel::load(path, device);
  if (!m.config().alarm.empty())
    std::fprintf(io.err, "sparsead: warning: model '%s': %s\n", path.c_str(), m.config().alarm.c_str());
  return m;
}

}  // namespace sad::cli
