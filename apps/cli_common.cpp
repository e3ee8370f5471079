// The checks the verbs share (apps/cli_verbs.h): runtime flags, output directories, the
// dataset and its pixels, and the training configuration from its four sources.
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "apps/cli_verbs.h"
#include "data/image.h"
#include "kernels/runtime.h"

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
  std::ofstream((fs::path(dir) / kOutputMarker).string()) << "written by sparsead; --overwrite may replace this directory\n";
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

namespace {

// A JSON member's value as the text Config::set parses.
std::string json_value_text(const Json& v, const std::string& key, const std::string& file) {
  switch (v.type()) {
    case Json::Type::Bool: return v.as_bool() ? "true" : "false";
    case Json::Type::Number: return v.dump();
    case Json::Type::String: return v.as_string();
    default: throw Error("--config '" + file + "': key '" + key + "' must be a number, string or bool");
  }
}

std::string read_file(const std::string& path, const std::string& flag) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) throw Error(flag + " '" + path + "': no such file");
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error(flag + " '" + path + "': cannot be read");
  std::ostringstream os;
  os << f.rdbuf();
  return os.str();
}

}  // namespace

Config build_train_config(const Args& a, Device device) {
  // Gather (key, value) from the config file, then from --set, in that order.
  struct Setting {
    std::string key, value, source;
  };
  std::vector<Setting> settings;
  if (std::optional<std::string> file = a.get("--config")) {
    const std::string text = read_file(*file, "--config");
    Json j;
    try {
      j = Json::parse(text);
    } catch (const Error& e) {
      throw Error("--config '" + *file + "': " + user_message(e.what()));
    }
    if (!j.is_object()) throw Error("--config '" + *file + "': expected a JSON object of options");
    for (const auto& [key, value] : j.as_object()) {
      if (key == "format_version") {
        if (!value.is_number() || value.as_number() != kModelFormatVersion)
          throw Error("--config '" + *file + "': format_version " + value.dump() + ", this build reads " +
                      std::to_string(kModelFormatVersion));
        continue;
      }
      settings.push_back({key, json_value_text(value, key, *file), "--config '" + *file + "'"});
    }
  }
  for (const std::string& kv : a.all("--set")) {
    size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) throw UsageError("--set expects key=value, got '" + kv + "'");
    settings.push_back({kv.substr(0, eq), kv.substr(eq + 1), "--set"});
  }

  // The preset comes first, since every later source overrides its sizes.
  std::string preset = device.is_cuda() ? "paper" : "cpu";
  for (const Setting& s : settings)
    if (s.key == "preset") preset = s.value;
  if (std::optional<std::string> p = a.get_choice("--preset", {"cpu", "paper"})) preset = *p;
  Config cfg;
  if (preset != "custom") {
    try {
      cfg.apply_preset(preset);
    } catch (const Error& e) {
      throw UsageError("preset: " + user_message(e.what()));
    }
  }
  cfg.preset = preset;
  for (const Setting& s : settings) {
    if (s.key == "preset") continue;
    try {
      cfg.set(s.key, s.value);
    } catch (const Error& e) {
      // A bad key in a file is the file's problem (1); on the command line a usage error (2).
      if (s.source == "--set") throw UsageError("--set: " + user_message(e.what()));
      throw Error(s.source + ": " + user_message(e.what()));
    }
  }
  // The dedicated flags, checked here so the message names the flag, not the option.
  if (std::optional<std::string> m = a.get_choice("--mode", {"sparse-kl", "residual", "mask-supervised"}))
    cfg.set("mode", *m);
  const int64_t kMaxEpochs = 1000000;
  if (auto n = a.get_int("--epochs-gan", 0, kMaxEpochs)) cfg.set("epochs_gan", std::to_string(*n));
  if (auto n = a.get_int("--epochs-seg", 0, kMaxEpochs)) cfg.set("epochs_seg", std::to_string(*n));
  const int64_t kMaxSteps = int64_t{1} << 40;
  if (auto n = a.get_int("--steps-gan", 0, kMaxSteps)) cfg.set("steps_gan", std::to_string(*n));
  if (auto n = a.get_int("--steps-seg", 0, kMaxSteps)) cfg.set("steps_seg", std::to_string(*n));
  if (a.has("--steps-gan") && a.has("--epochs-gan"))
    throw UsageError("train: --steps-gan and --epochs-gan both set phase 1's budget; give one");
  if (a.has("--steps-seg") && a.has("--epochs-seg"))
    throw UsageError("train: --steps-seg and --epochs-seg both set phase 2's budget; give one");
  if (auto n = a.get_int("--batch", 2, 4096)) cfg.set("batch", std::to_string(*n));
  if (auto n = a.get_int("--seed", 0, (int64_t{1} << 53))) cfg.set("seed", std::to_string(*n));
  try {
    cfg.finalise();
  } catch (const Error& e) {
    throw UsageError("invalid configuration: " + user_message(e.what()));
  }
  return cfg;
}

void write_text_file(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) throw Error("cannot write '" + tmp + "'");
    f << text;
    f.flush();
    if (!f) {
      std::error_code ec;
      fs::remove(tmp, ec);
      throw Error("cannot write '" + path + "' (disk full?)");
    }
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    fs::remove(tmp, ec);
    throw Error("cannot write '" + path + "': " + ec.message());
  }
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

}  // namespace sad::cli
