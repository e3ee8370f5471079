// The command line's configuration, apart from the verbs themselves: every verb's flag table
// (name, value, help line) and the training config built from flags, --config and --set.
// With the parser (cli_args.cpp) they need nothing that runs a kernel, so the flag fuzz
// target (fuzz/) runs on exactly what `sparsead` uses.
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "apps/cli_verbs.h"
#include "model/config.h"

namespace sad::cli {

namespace fs = std::filesystem;

namespace {

// Flags every verb that runs a network shares.
std::vector<FlagSpec> runtime_flags(const std::string& quiet_help) {
  return {
      {"--device", "auto|cpu|cuda", "where the networks run (default auto: a GPU when one answers)"},
      {"--threads", "N", "CPU threads for the kernels and OpenBLAS (default: SPARSEAD_THREADS or all cores)"},
      {"--quiet", "", quiet_help},
      {"--help", "", "this text"},
  };
}

std::vector<FlagSpec> data_flags(bool training) {
  return {
      {"--data", "DIR", "an MVTec AD category directory (train/good, test/<type>, ground_truth/<type>)"},
      {"--folder-normal", "DIR",
       training ? "Folder mode: the normal training images" : "Folder mode: the normal test images"},
      {"--folder-abnormal", "DIR", "Folder mode: anomalous test images"},
      {"--folder-mask", "DIR", "Folder mode: masks of the anomalous images (<stem>_mask.<ext> or <stem>.<ext>)"},
  };
}

std::vector<FlagSpec> join(std::vector<FlagSpec> a, const std::vector<FlagSpec>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

std::string config_keys_epilog() {
  std::string s = "options for --set and --config (METHOD.md names them; `sparsead info` shows a model's):\n ";
  size_t col = 1;
  for (const std::string& k : Config::keys()) {
    if (col + k.size() + 1 > 88) {
      s += "\n ";
      col = 1;
    }
    s += " " + k;
    col += k.size() + 1;
  }
  return s + "\n";
}

std::vector<VerbSpec> make_specs() {
  std::vector<VerbSpec> v;
  v.push_back({"synth",
               "synth --out DIR [--seed N] [--size S] [--channels 1|3] [--kind K] [counts]",
               "Writes a procedural dataset in MVTec AD layout (train/good, test/good, test/<defect>,\n"
               "ground_truth/<defect>), byte-identical for one seed. Its defects (scratches, cracks, holes,\n"
               "stains) are drawn unlike the training perturbation. DIR must not exist or be empty.",
               {
                   {"--out", "DIR", "where to write the dataset (required)"},
                   {"--seed", "N", "random seed (default 0)"},
                   {"--size", "S", "image side in pixels, 32..4096 (default 128)"},
                   {"--channels", "1|3", "gray or RGB images (default 3)"},
                   {"--kind", "K", "fabric|wood|disc|tile (default fabric)"},
                   {"--train", "N", "normal training images (default 60)"},
                   {"--test-good", "N", "normal test images (default 20)"},
                   {"--per-defect", "N", "test images per defect type (default 10)"},
                   {"--defects", "LIST", "comma-separated subset of crack,hole,scratch,stain (default all)"},
                   {"--help", "", "this text"},
               },
               "example:\n  sparsead synth --out data/fabric --seed 1 --size 64\n"});
  v.push_back({"train",
               "train --data DIR --out RUN [--preset cpu|paper] [--mode M] [--steps-gan N] [--steps-seg N]\n"
               "                      [--epochs-gan N] [--epochs-seg N] [--batch N] [--seed N] [--config FILE] [--set "
               "key=value ...] [--resume]",
               "Trains on the normal images only: phase 1 the GAN (G and D), phase 2 the segmenter S, then\n"
               "thresholds on held-out validation images. Writes RUN/model.safetensors, RUN/config.json,\n"
               "RUN/train_log.csv and a checkpoint every few minutes (atomically). Ctrl-C finishes the current step,\n"
               "writes the checkpoint and exits (code 130); --resume continues. RUN must not exist (or be\n"
               "empty) unless --resume is given.",
               join(join({{"--out", "RUN", "the run directory (required)"}}, data_flags(true)),
                    join(
                        {
                            {"--preset", "cpu|paper",
                             "cpu: S=128, w=16; paper: S=256, w=32 (default: paper on a GPU, else cpu)"},
                            {"--mode", "M", "sparse-kl (the method, default) | residual | mask-supervised"},
                            {"--steps-gan", "N", "phase 1 budget in optimiser steps (default 2000)"},
                            {"--steps-seg", "N", "phase 2 budget in optimiser steps (default 800)"},
                            {"--epochs-gan", "N", "phase 1 budget in epochs instead of steps"},
                            {"--epochs-seg", "N", "phase 2 budget in epochs instead of steps"},
                            {"--batch", "N", "batch size (default 16)"},
                            {"--seed", "N", "the run's seed: same seed, same model on the CPU (default 0)"},
                            {"--config", "FILE", "a JSON object of options (e.g. a RUN/config.json)"},
                            {"--set", "KEY=VALUE",
                             "set any option; repeatable, and takes several: --set rho=0.05 width=8", true},
                            {"--resume", "", "continue the interrupted run in RUN from its checkpoint"},
                            {"--init-generator", "MODEL",
                             "start from MODEL's generator and skip phase 1 (shares it between modes; the new "
                             "model records MODEL's phase-1-only options: budget, losses, rates, EMA, schedule); "
                             "MODEL is a model file or the checkpoint.safetensors of a run past phase 1"},
                        },
                        runtime_flags("no progress bar: one line per epoch"))),
               config_keys_epilog() +
                   "\nprecedence: defaults < preset < --config < --set < the flags above.\n"
                   "example:\n  sparsead train --data data/fabric --out runs/fabric --set image_size=64 width=8\n"});
  v.push_back(
      {"test", "test --model RUN/model.safetensors --data DIR --out DIR",
       "Scores every test image and evaluates: writes DIR/metrics.json (image_auroc, pixel_auroc,\n"
       "aupro, pixel_ap, image_f1, and per defect type against good), DIR/scores.csv, and per image\n"
       "a panel DIR/panels/<type>/<stem>.png (image | mask | heatmap | predicted outline in red,\n"
       "ground truth in green); prints the metrics table.",
       join(join({{"--model", "FILE", "the model file (required)"}, {"--out", "DIR", "where to write (required)"}},
                 data_flags(false)),
            join({{"--no-panels", "", "skip the panel images"},
                  {"--overwrite", "", "allow a non-empty --out directory (files are replaced)"}},
                 runtime_flags("no progress bar"))),
       "example:\n  sparsead test --model runs/fabric/model.safetensors --data data/fabric --out runs/fabric/test\n"});
  v.push_back({"predict", "predict --model FILE --input FILE_OR_DIR --out DIR [--threshold T]",
               "Scores images (one file, or every image of a directory): writes per image a heatmap\n"
               "DIR/<stem>_heatmap.png and one CSV DIR/predictions.csv (path, raw_score, score, label,\n"
               "latency_ms), prints a line per image and the latency summary. Scores are normalised so that\n"
               "0.5 is the threshold chosen on validation images.",
               join({{"--model", "FILE", "the model file (required)"},
                     {"--input", "PATH", "an image file or a directory of images (required)"},
                     {"--out", "DIR", "where to write (required)"},
                     {"--threshold", "T", "decision threshold in normalised units, 0..1 (default 0.5: the stored one)"},
                     {"--overwrite", "", "allow a non-empty --out directory (files are replaced)"}},
                    runtime_flags("no line per image, only the summary")),
               "example:\n  sparsead predict --model runs/fabric/model.safetensors --input part.png --out pred\n"});
  v.push_back({"export", "export --model FILE --out FILE.onnx [--format onnx] [--reference DIR]",
               "Writes the model's inference graph as an ONNX model (opset 17): input 'image' (N, C, S, S) in\n"
               "[-1, 1], outputs 'raw' (the segmenter's logits or the residual evidence) and 'reconstruction'.\n"
               "The post-processing (smoothing, image score, thresholds) and, for tile models, the tiling rule\n"
               "are in the model's metadata; docs/ONNX.md describes both. --reference DIR also writes two\n"
               "seeded input images and this build's raw maps for them (input.npy, raw.npy), to check any\n"
               "runtime against.",
               join({{"--model", "FILE", "the model file (required)"},
                     {"--out", "FILE", "the .onnx file to write (required)"},
                     {"--format", "F", "onnx (the only format)"},
                     {"--reference", "DIR", "also write reference input and output arrays (.npy) there"},
                     {"--overwrite", "", "allow a non-empty --reference directory (files are replaced)"}},
                    runtime_flags("no effect")),
               "example:\n  sparsead export --model runs/fabric/model.safetensors --out fabric.onnx\n"});
  v.push_back({"info",
               "info --model FILE [--json]",
               "Prints the configuration stored in a model file (every option, thresholds, provenance) and\n"
               "its tensor count.",
               {{"--model", "FILE", "the model file (required)"},
                {"--json", "", "print the stored config as JSON"},
                {"--help", "", "this text"}},
               ""});
  return v;
}

}  // namespace

const std::vector<VerbSpec>& verb_specs() {
  static const std::vector<VerbSpec> specs = make_specs();
  return specs;
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
  try {
    if (preset != enum_name(Preset::Custom)) cfg.apply_preset(preset);
    cfg.preset = parse_enum<Preset>(preset, "preset");
  } catch (const Error& e) {
    throw UsageError("preset: " + user_message(e.what()));
  }
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

}  // namespace sad::cli
