// The verbs that make things: `synth` (a dataset), `train` (a model), and `info` (what a
// model file says about itself).
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <memory>

#include "apps/cli_verbs.h"
#include "apps/progress.h"
#include "data/synth.h"
#include "layers/safetensors.h"
#include "model/anomaly_model.h"
#include "model/model_file.h"
#include "model/trainer.h"

namespace sad::cli {

namespace fs = std::filesystem;

// ---- synth -------------------------------------------------------------------------------

int run_synth(const Args& a, Streams& io) {
  data::SynthConfig sc;
  const std::string out = a.require("--out");
  sc.seed = static_cast<uint64_t>(a.get_int("--seed", 0, int64_t{1} << 53).value_or(0));
  sc.size = static_cast<int>(a.get_int("--size", 32, 4096).value_or(128));
  sc.channels = std::stoi(a.get_choice("--channels", {"1", "3"}).value_or("3"));
  sc.kind = data::parse_synth_kind(a.get_choice("--kind", {"fabric", "wood", "disc", "tile"}).value_or("fabric"));
  sc.train = static_cast<int>(a.get_int("--train", 2, 100000).value_or(sc.train));
  sc.test_good = static_cast<int>(a.get_int("--test-good", 0, 100000).value_or(sc.test_good));
  sc.per_defect = static_cast<int>(a.get_int("--per-defect", 0, 100000).value_or(sc.per_defect));
  if (std::optional<std::string> list = a.get("--defects")) {
    sc.defects.clear();
    std::string rest = *list;
    while (!rest.empty()) {
      size_t comma = rest.find(',');
      std::string d = rest.substr(0, comma);
      rest = comma == std::string::npos ? "" : rest.substr(comma + 1);
      const auto& known = data::synth_defect_types();
      if (std::find(known.begin(), known.end(), d) == known.end())
        throw UsageError("synth: --defects: unknown defect type '" + d + "' (crack, hole, scratch, stain)");
      if (std::find(sc.defects.begin(), sc.defects.end(), d) == sc.defects.end()) sc.defects.push_back(d);
    }
    if (sc.defects.empty()) throw UsageError("synth: --defects is empty");
  }
  check_output_dir("--out", out, false, "synth writes a new dataset");
  data::generate_synthetic_dataset(sc, out);
  const int n_defect = sc.per_defect * static_cast<int>(sc.defects.size());
  std::fprintf(io.out, "synth: %s %dx%d, %s, seed %llu: %d train, %d test good, %d defect images -> %s\n",
               data::synth_kind_name(sc.kind), sc.size, sc.size, sc.channels == 1 ? "gray" : "RGB",
               static_cast<unsigned long long>(sc.seed), sc.train, sc.test_good, n_defect, out.c_str());
  return 0;
}

// ---- train -------------------------------------------------------------------------------

namespace {

// Ctrl-C during training: the first sets the flag the trainer polls after each step (it
// then writes its checkpoint and returns); a second one kills the process as usual.
std::atomic<bool> g_stop{false};

extern "C" void on_sigint(int) {
  if (g_stop.load()) {
    std::signal(SIGINT, SIG_DFL);
    std::raise(SIGINT);
    return;
  }
  g_stop.store(true);
  const char msg[] = "\nsparsead: stopping after this step (Ctrl-C again to abort)\n";
  ssize_t ignored = ::write(2, msg, sizeof msg - 1);
  (void)ignored;
}

// Installs on_sigint for the lifetime of the object and restores the previous handler.
class SigintGuard {
 public:
  SigintGuard() {
    g_stop.store(false);
    struct sigaction sa;
    std::memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sa.sa_flags = SA_RESTART;  // a write or fsync of the checkpoint must not fail with EINTR
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &previous_);
  }
  ~SigintGuard() { sigaction(SIGINT, &previous_, nullptr); }
  SigintGuard(const SigintGuard&) = delete;
  SigintGuard& operator=(const SigintGuard&) = delete;

 private:
  struct sigaction previous_;
};

// The trainer's progress on a terminal: one bar per task, log lines printed through it.
class BarProgress final : public TrainProgress {
 public:
  explicit BarProgress(bool quiet) : quiet_(quiet) {}
  void start(const std::string& label, int64_t total, const std::string& unit) override {
    bar_ = std::make_unique<ProgressBar>(label, static_cast<long>(total), unit, quiet_);
  }
  void advance(int64_t n, const std::string& status) override {
    if (bar_) bar_->advance(static_cast<long>(n), status);
  }
  void finish() override {
    if (bar_) bar_->finish();
    bar_.reset();
  }
  void line(const std::string& text) override {
    if (bar_) {
      bar_->line(text);
    } else {
      std::printf("%s\n", text.c_str());
      std::fflush(stdout);
    }
  }

 private:
  bool quiet_;
  std::unique_ptr<ProgressBar> bar_;
};

// The options among `keys` that `given` sets explicitly (preset too when `preset_given`, a
// flag of its own) to values other than `stored`'s, as "key value (LABEL: stored value)",
// comma separated; empty when they agree.
std::string explicit_differences(const Config& given, const Config& stored, const std::vector<std::string>& keys,
                                 const std::string& label, bool preset_given = false) {
  const Json g = given.to_json(), s = stored.to_json();
  std::string diff;
  for (const std::string& key : keys) {
    if (!given.explicit_keys.count(key) && !(key == "preset" && preset_given)) continue;
    const Json *mine = g.find(key), *theirs = s.find(key);
    if (mine && theirs && !(*mine == *theirs))
      diff += (diff.empty() ? "" : ", ") + key + " " + mine->dump() + " (" + label + ": " + theirs->dump() + ")";
  }
  return diff;
}

// --init-generator: the model file (or a checkpoint past phase 1) must be readable and its
// generator must fit this run.
// Returns a warning (empty: none) naming the phase-1 options set explicitly to values other
// than the source generator was trained with: phase 1 does not run, so they do nothing.
std::string check_init_generator(const std::string& path, const Config& cfg) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) throw Error("--init-generator '" + path + "': no such file");
  GeneratorSource src = load_generator_source(path);
  const Config& g = src.cfg;
  if (g.image_size != cfg.image_size || g.width != cfg.width || g.channels != cfg.channels)
    throw Error("--init-generator '" + path + "': its generator has image_size " + std::to_string(g.image_size) +
                ", width " + std::to_string(g.width) + ", channels " + std::to_string(g.channels) +
                " but this run has image_size " + std::to_string(cfg.image_size) + ", width " +
                std::to_string(cfg.width) + ", channels " + std::to_string(cfg.channels));
  // Every tensor's name and shape, as the trainer will load them.
  Generator(net_config(cfg)).load_state(src.state, "--init-generator '" + path + "'");
  const std::string ignored = explicit_differences(cfg, g, Config::phase1_keys(), "its generator");
  if (ignored.empty()) return "";
  return "--init-generator '" + path + "' skips phase 1, so these settings do nothing (the model records its " +
         "generator's): " + ignored;
}

// --resume: the run continues with the settings stored in its checkpoint. Options the
// command line sets explicitly must agree with them (repeating the original command plus
// --resume is the usual way to continue); a difference is named, key by key.
Config resume_config(const std::string& run, const Config& given, bool preset_given) {
  std::error_code ec;
  if (!fs::is_directory(run, ec)) throw Error("--resume: run directory '" + run + "' does not exist");
  const std::string ckpt = (fs::path(run) / "checkpoint.safetensors").string();
  if (!fs::is_regular_file(ckpt, ec))
    throw Error("--resume: '" + run + "' has no checkpoint.safetensors to continue from");
  SafetensorsFile f = load_safetensors(ckpt);
  auto it = f.metadata.find("config");
  if (it == f.metadata.end()) throw Error("--resume: '" + ckpt + "' holds no config (not a sparsead checkpoint)");
  Config saved = Config::from_json(Json::parse(it->second), ckpt);
  std::vector<std::string> keys = Config::keys();
  std::erase(keys, "channels");  // 0 (from the data) on the command line, the data's count in the run
  // A run from --init-generator holds its generator's phase-1 options: the command line's
  // did nothing (train warned so at the start), and repeating them does not stop the resume.
  if (auto g = f.metadata.find("init_generator"); g != f.metadata.end() && !g->second.empty())
    for (const std::string& k : Config::phase1_keys()) std::erase(keys, k);
  const std::string diff = explicit_differences(given, saved, keys, "run", preset_given);
  if (!diff.empty()) throw UsageError("--resume: settings differ from the interrupted run in '" + run + "': " + diff);
  return saved;
}

}  // namespace

int run_train(const Args& a, Streams& io) {
  const std::string run = a.require("--out");
  const bool resume = a.has("--resume");
  const bool quiet = a.has("--quiet");
  // Cheap command-line checks first, then the machine, then files.
  if (resume && a.has("--init-generator"))
    throw UsageError(
        "train: drop --init-generator when resuming (a resumed run keeps the generator in its checkpoint)");
  const Device device = setup_runtime(a);
  Config cfg = build_train_config(a, device);
  if (resume) {
    cfg = resume_config(run, cfg, a.has("--preset"));
  } else if (!is_failed_start(run)) {
    check_output_dir("--out", run, false, "use --resume to continue that run, or choose another --out");
  }

  data::Dataset ds = read_dataset(a, /*training=*/true);
  if (cfg.channels == 0) cfg.channels = ds.channels;
  // Every training image must decode: a truncated file would otherwise stop the run hours in.
  check_decodable(ds.train, static_cast<int>(cfg.channels));
  // One image is held out for validation and batch norm needs two in a batch.
  if (ds.train.size() < 3)
    throw Error("dataset: " + std::to_string(ds.train.size()) + " training image(s) in '" + ds.root +
                "': need at least 3 (one or more are held out for validation, and a batch needs 2)");
  const std::string init = a.get_or("--init-generator", "");
  if (!init.empty())
    if (const std::string w = check_init_generator(init, cfg); !w.empty())
      std::fprintf(io.err, "sparsead: warning: %s\n", w.c_str());

  TrainOptions opt;
  opt.dataset = std::move(ds);
  opt.out_dir = run;
  opt.cfg = cfg;
  opt.device = device;
  opt.resume = resume;
  opt.quiet = quiet;
  opt.init_generator = init;
  opt.stop = &g_stop;
  opt.restart_failed_start = !resume && is_failed_start(run);
  if (opt.restart_failed_start)
    std::fprintf(io.err, "sparsead: '%s' holds a run that failed before its first checkpoint; starting it again\n",
                 run.c_str());
  BarProgress progress(quiet);
  opt.progress = &progress;
  TrainResult r;
  {
    SigintGuard guard;
    r = train(opt);
  }
  if (!r.completed) {
    std::fprintf(io.err, "sparsead: training stopped; checkpoint in '%s' (continue with --resume)\n", run.c_str());
    return 130;
  }
  std::fprintf(io.out, "train: %s, %s preset, S=%lld w=%lld: phase 1 %s (%lld steps), phase 2 %s (%lld steps) -> %s\n",
               mode_name(cfg.mode), enum_name(cfg.preset), static_cast<long long>(cfg.image_size),
               static_cast<long long>(cfg.width), format_duration(r.seconds_gan).c_str(),
               static_cast<long long>(r.steps_gan), format_duration(r.seconds_seg).c_str(),
               static_cast<long long>(r.steps_seg), r.model_path.c_str());
  if (!r.alarm.empty()) std::fprintf(io.err, "sparsead: warning: %s\n", r.alarm.c_str());
  return 0;
}

// ---- info --------------------------------------------------------------------------------

int run_info(const Args& a, Streams& io) {
  const std::string path = a.require("--model");
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) throw Error("--model '" + path + "': no such file");
  // Everything predict checks (config, tensors, finiteness): info never vouches for a file
  // that predict would refuse.
  const Config cfg = AnomalyModel::load(path, Device::cpu()).config();
  const SafetensorsFile f = load_safetensors(path);
  if (a.has("--json")) {
    std::fprintf(io.out, "%s\n", cfg.to_json().dump(2).c_str());
    return 0;
  }
  if (!cfg.alarm.empty()) std::fprintf(io.err, "sparsead: warning: model '%s': %s\n", path.c_str(), cfg.alarm.c_str());
  // The networks' parameters (weights, biases, batch-norm statistics) and, apart, the score
  // reference map of score_reference=mean: data of the training set, not a parameter.
  int64_t params = 0, reference = 0;
  for (const auto& [name, t] : f.tensors) (name == kScoreReferenceTensor ? reference : params) += t.numel();
  const size_t n_params = f.tensors.size() - (reference > 0 ? 1 : 0);
  std::fprintf(io.out, "model %s\n  %zu network tensors, %lld values (%.2f MB as float32)\n", path.c_str(), n_params,
               static_cast<long long>(params), static_cast<double>(params) * 4.0 / 1e6);
  if (reference > 0)
    std::fprintf(io.out, "  score reference: %lld values (%.2f MB as float32)\n", static_cast<long long>(reference),
                 static_cast<double>(reference) * 4.0 / 1e6);
  const Json cj = cfg.to_json();
  size_t col = 0;
  for (const auto& [key, value] : cj.as_object()) col = std::max(col, key.size());
  for (const auto& [key, value] : cj.as_object())
    std::fprintf(io.out, "  %s%s  %s\n", key.c_str(), std::string(col - key.size(), ' ').c_str(),
                 value.is_string() ? value.as_string().c_str() : value.dump().c_str());
  return 0;
}

}  // namespace sad::cli
