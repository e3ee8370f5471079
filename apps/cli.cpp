// sparsead_main: the overview, --help, dispatch to the verbs (their flag tables are in
// cli_config.cpp), and the one place where errors become one line
// on stderr and an exit code (see apps/cli.h).
#include "apps/cli.h"

#include <csignal>
#include <exception>
#include <string>
#include <vector>

#include "apps/cli_verbs.h"

namespace sad {

namespace cli {

namespace {

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
      {"export", "write the inference graph as ONNX (and reference data to check a runtime with)"},
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
  if (verb == "export") return run_export(a, io);
  return run_info(a, io);
}

}  // namespace

}  // namespace cli

int sparsead_main(int argc, char** argv, std::FILE* out, std::FILE* err) {
  using namespace cli;
  // A file-size limit (ulimit -f) must fail a write like a full disk, with an error and a
  // clean-up, not kill the process halfway through its output.
  std::signal(SIGXFSZ, SIG_IGN);
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
