// Fuzz target: the JSON parser and the config it carries (a model file's stored config,
// `sparsead train --config FILE`). Beyond the shared rules: accepted JSON survives dump and
// parse unchanged (compact and pretty); a config from_json accepts validates cleanly and
// survives to_json / from_json unchanged.
#include "fuzz/fuzz_util.h"
#include "model/config.h"
#include "tensor/json.h"

using namespace sad;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  Json j;
  if (!fuzz::accepted([&] { j = Json::parse(text); })) return 0;
  for (int indent : {-1, 2}) {
    const std::string d = j.dump(indent);
    Json back;
    if (!fuzz::accepted([&] { back = Json::parse(d); }))
      fuzz::finding("dump(" + std::to_string(indent) + ") does not parse: " + d);
    if (back.dump() != j.dump())
      fuzz::finding("a JSON round trip changed the value: " + j.dump() + " -> " + back.dump());
  }

  Config c;
  if (!fuzz::accepted([&] { c = Config::from_json(j, "fuzz.json"); }, "fuzz.json")) return 0;
  if (!fuzz::accepted([&] { c.validate_model(); })) return 0;
  Config again;
  if (!fuzz::accepted([&] { again = Config::from_json(c.to_json(), "round trip"); }))
    fuzz::finding("a validated config does not read back from its own JSON");
  if (again.to_json().dump() != c.to_json().dump()) fuzz::finding("a config round trip changed it");
  return 0;
}
