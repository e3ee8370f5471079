// Fuzz target: the command line (every verb's flag table, the typed values, and the training
// config built from flags and --set). The input is the argument words separated by NUL
// bytes; the first byte picks the verb. Beyond the shared rules: help text exists for every
// verb, and a config build_train_config returns has passed validation (finalise) and reads
// back from its JSON.
#include <vector>

#include "apps/cli_verbs.h"
#include "fuzz/fuzz_util.h"

using namespace sad;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<cli::VerbSpec>& specs = cli::verb_specs();
  if (size == 0) return 0;
  const cli::VerbSpec& spec = specs[data[0] % specs.size()];
  std::vector<std::string> words;
  std::string w;
  for (size_t i = 1; i < size; ++i) {
    if (data[i] == 0) {
      words.push_back(w);
      w.clear();
    } else {
      w += static_cast<char>(data[i]);
    }
  }
  if (size > 1) words.push_back(w);
  if (cli::help_text(spec).empty()) fuzz::finding("no help text for " + spec.name);

  cli::Args a;
  if (!fuzz::accepted([&] { a = cli::Args::parse(spec, words); })) return 0;
  for (const cli::FlagSpec& f : spec.flags) {
    fuzz::accepted([&] { (void)a.get(f.name); });
    fuzz::accepted([&] { (void)a.all(f.name); });
    fuzz::accepted([&] { (void)a.get_int(f.name, -1000, 1000000); });
    fuzz::accepted([&] { (void)a.get_double(f.name, 0.0, 1.0); });
    fuzz::accepted([&] { (void)a.get_choice(f.name, {"auto", "cpu", "cuda"}); });
  }
  if (spec.name != "train") return 0;
  for (Device d : {Device{DeviceType::CPU, 0}, Device{DeviceType::CUDA, 0}}) {
    Config c;
    if (!fuzz::accepted([&] { c = cli::build_train_config(a, d); })) continue;
    if (!fuzz::accepted([&] { (void)Config::from_json(c.to_json(), "round trip"); }))
      fuzz::finding("a config build_train_config returned does not read back from its JSON");
  }
  return 0;
}
