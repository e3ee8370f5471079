// sparsead_main: the verb table, --help, and the one place where errors become one line
// on stderr and an exit code (see apps/cli.h).
#include "apps/cli.h"

#include <exception>
#include <string>
#include <vector>

#include "apps/cli_verbs.h"
#include "model/config.h"

namespace sad {

namespace cli {

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
               "                      [--epochs-gan N] [--epochs-seg N] [--batch N] [--seed N] [--config FILE] [--set key=value ...] [--resume]",
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
                             "start from MODEL's generator and skip phase 1 (shares it between modes); MODEL is a model file or the checkpoint.safetensors of a run past phase 1"},
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

std::string overview() {
  std::string s =
      "usage: sparsead <command> [flags]\n\n"
      "Weakly supervised anomaly detection with a sparsity prior: train on normal images only,\n"
      "find and outline defects.\n\ncommands:\n";
  const std::vector<std::pair<std::string, std::string>> briefs = {
      {"synth", "write a procedural dataset in MVTec AD layout (the demo's and the tests' data)"},
      {"train", "train a model on normal images (GAN, then the sparse-KL segmenter)"},
      {"test", "evaluate a model on a labelled test set: metrics.json, scores.csv, panels"},
      {"predict", "score images: heatmaps, a CSV, per-image latency"},
      {"info", "print the configuration stored in a model file"},
  };
  for (const auto& [name, brief] : briefs) s += "  " + name + std::string(10 - name.size(), ' ') + brief + "\n";
  s += "\n'sparsead <command> --help' describes a command's flags.\n";
  return s;
}

int dispatch(const std::string& verb, const Args& a, Streams& io) {
  if (verb == "synth") return run_synth(a, io);
  if (verb == "train") return run_train(a, io);
  if (verb == "test") return run_test(a, io);
  if (verb == "predict") return run_predict(a, io);
  return run_info(a, io);
}

}  // namespace

const std::vector<VerbSpec>& verb_specs() {
  static const std::vector<VerbSpec> specs = make_specs();
  return specs;
}

}  // namespace cli

int sparsead_main(int argc, char** argv, std::FILE* out, std::FILE* err) {
  using namespace cli;
  Streams io{out, err};
  auto fail = [&](const std::string& msg, int code) {
    std::fprintf(err, "sparsead: error: %s\n", user_message(msg).c_str());
    std::fflush(err);
    return code;
  };
  if (argc < 2) {
    std::fputs(overview().c_str(), err);
    return 2;
  }
  const std::string verb = argv[1];
  if (verb == "--help" || verb == "-h" || verb == "help") {
    std::fputs(overview().c_str(), out);
    return 0;
  }
  const VerbSpec* spec = nullptr;
  for (const VerbSpec& v : verb_specs())
    if (v.name == verb) spec = &v;
  if (!spec) return fail("unknown command '" + verb + "' (commands: synth, train, test, predict, info; see --help)", 2);
  std::vector<std::string> words(argv + 2, argv + argc);
  for (const std::string& w : words)
    if (w == "--help" || w == "-h") {
      std::fputs(help_text(*spec).c_str(), out);
      return 0;
    }
  try {
    Args args = Args::parse(*spec, words);
    int rc = dispatch(verb, args, io);
    std::fflush(out);
    return rc;
  } catch (const UsageError& e) {
    return fail(e.what(), 2);
  } catch (const std::exception& e) {
    return fail(e.what(), 1);
  }
}

}  // namespace sad
