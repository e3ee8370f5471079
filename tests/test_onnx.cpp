// `sparsead export`: the protobuf it writes, and the graph run by ONNX Runtime against this
// build's own maps (tools/onnx_check.py, in the .venv-onnx of scripts/onnx-venv.sh).
#include <cmath>
#include <cstdlib>
#include <string>

#include "cli_fixtures.h"
#include "layers/onnx_writer.h"
#include "model/onnx_export.h"
#include "tensor/json.h"
#include "tensor/rng.h"

using namespace sad;
using namespace sad::test;

namespace {

const std::string kRoot = SPARSEAD_SOURCE_DIR;
const std::string kPython = kRoot + "/.venv-onnx/bin/python";

bool has_onnxruntime() {
  return fs::exists(kPython) &&
         std::system(("'" + kPython + "' -c 'import onnxruntime, numpy' 2>/dev/null").c_str()) == 0;
}

// An untrained model whose batch-norm statistics and affine parameters, and every other
// tensor, are random: a graph that mixes up gamma and beta or mean and variance, or drops a
// bias, cannot match.
std::string random_model(const TempDir& d, const std::string& name, const std::function<void(Config&)>& edit) {
  Config c;
  c.set("score_reference", "none");  // only the case that asks for a reference has one
  edit(c);
  c.finalise();
  AnomalyModel m(c);
  m.init(5);
  Rng rng(99);
  for (auto& [n, t] : m.state()) {
    std::vector<float> v = t.to_vector();
    const bool var = n.ends_with("running_var");
    const bool gamma = n.ends_with("bn.weight") || n.ends_with("bn1.weight") || n.ends_with("bn2.weight") ||
                       n.ends_with("short_bn.weight");
    for (float& x : v) {
      if (var)
        x = static_cast<float>(rng.uniform(0.5, 2.0));
      else if (gamma)
        x = static_cast<float>(rng.uniform(0.5, 1.5));
      else if (n.ends_with("running_mean") || n.ends_with(".bias"))
        x = static_cast<float>(rng.uniform(-0.3, 0.3));
      else
        x *= static_cast<float>(rng.uniform(0.8, 1.2));  // weights keep their initialisation's scale
    }
    Tensor(t).copy_from(Tensor::from_vector(v, t.shape()));
  }
  if (c.score_reference == ScoreReference::Mean) {
    // A reference with structure (a ramp plus noise of the logits' scale): subtracting it
    // changes which window holds the largest score.
    std::vector<float> r(static_cast<size_t>(c.image_size * c.image_size));
    for (size_t i = 0; i < r.size(); ++i)
      r[i] = static_cast<float>(3.0 * static_cast<double>(i % static_cast<size_t>(c.image_size)) /
                                    static_cast<double>(c.image_size) +
                                rng.uniform(-1.0, 1.0));
    m.set_score_reference(Tensor::from_vector(r, {c.image_size, c.image_size}));
  }
  const std::string path = d / name;
  m.save(path);
  return path;
}

}  // namespace

TEST_CASE("onnx writer: varints and field keys follow the protobuf wire format") {
  onnx::Message m;
  m.varint(1, 300);  // key 0x08, then 300 = 0xac 0x02
  m.bytes(2, "hi");  // key 0x12, length 2
  m.f32(3, 1.0f);    // key 0x1d, then 00 00 80 3f
  const std::string want = std::string("\x08\xac\x02\x12\x02hi\x1d\x00\x00\x80\x3f", 12);
  CHECK(m.data() == want);
  onnx::Message neg;
  const int64_t minus_one = -1;
  neg.packed_varints(1, std::span<const int64_t>(&minus_one, 1));  // ten bytes of two's complement
  CHECK(neg.data().size() == 2 + 10);
}

TEST_CASE("onnx export: the model file becomes a graph with its metadata and reference arrays") {
  TempDir d("onnx");
  const std::string model = random_model(d, "m.safetensors", [](Config& c) {
    c.image_size = 32;
    c.width = 4;
    c.channels = 3;
  });
  Run r = sparsead({"export", "--model", model, "--out", d / "m.onnx", "--reference", d / "ref", "--device", "cpu"});
  INFO(r.err);
  REQUIRE(r.rc == 0);
  const std::string bytes = read_bytes(d / "m.onnx");
  CHECK(bytes.size() > 10000);
  for (const char* s : {"sparsead.config", "sparsead.postprocess", "BatchNormalization", "Resize", "image", "raw",
                        "reconstruction", "S.head_out.bias", "G.head.weight"}) {
    CAPTURE(s);
    CHECK(bytes.find(s) != std::string::npos);
  }
  CHECK(bytes.find("sparsead.tiling") == std::string::npos);  // a whole-image model
  const std::string npy = read_bytes(d / "ref/raw.npy");
  CHECK(npy.rfind("\x93NUMPY", 0) == 0);
  CHECK(npy.find("'shape': (2, 1, 32, 32)") != std::string::npos);
  CHECK(npy.size() == 128 + 2 * 32 * 32 * 4);
  // A refused export writes nothing.
  Run bad = sparsead({"export", "--model", d / "absent.safetensors", "--out", d / "x.onnx"});
  CHECK(bad.rc == 1);
  CHECK(!fs::exists(d / "x.onnx"));
  Run dir = sparsead({"export", "--model", model, "--out", d.path().string()});
  CHECK(dir.rc == 2);
}

TEST_CASE("onnx export: ONNX Runtime runs the graph to within 1e-4 of sparsead's maps" *
          doctest::skip(!has_onnxruntime())) {
  TempDir d("onnx-ort");
  struct Case {
    const char* name;
    std::function<void(Config&)> edit;
    bool tiled = false;
  };
  const Case cases[] = {
      {"cpu preset shape, RGB, sparse-kl",
       [](Config& c) {
         c.apply_preset("cpu");
         c.channels = 3;
       }},
      {"paper preset shape, gray, sparse-kl",
       [](Config& c) {
         c.apply_preset("paper");
         c.channels = 1;
       }},
      {"gray, residual (mix of L1 and SSIM)",
       [](Config& c) {
         c.apply_preset("cpu");
         c.channels = 1;
         c.mode = Mode::Residual;
       }},
      {"RGB, residual (SSIM), S 64",
       [](Config& c) {
         c.image_size = 64;
         c.width = 8;
         c.channels = 3;
         c.mode = Mode::Residual;
         c.residual_kind = ResidualKind::Ssim;
       }},
      {"gray, residual (L1), S 64",
       [](Config& c) {
         c.image_size = 64;
         c.width = 8;
         c.channels = 1;
         c.mode = Mode::Residual;
         c.residual_kind = ResidualKind::L1;
       }},
      {"gray, sparse-kl with score_reference=mean, S 64",
       [](Config& c) {
         c.image_size = 64;
         c.width = 8;
         c.channels = 1;
         c.score_reference = ScoreReference::Mean;
       }},
      {"tile model, mask-supervised, S 64",
       [](Config& c) {
         c.image_size = 64;
         c.width = 8;
         c.channels = 3;
         c.mode = Mode::MaskSupervised;
         c.tile_scale = 1.0;
       },
       true},
  };
  int k = 0;
  for (const Case& cs : cases) {
    CAPTURE(cs.name);
    const std::string id = std::to_string(k++);
    const std::string model = random_model(d, "m" + id + ".safetensors", cs.edit);
    const std::string onnx = d / ("m" + id + ".onnx"), ref = d / ("ref" + id);
    Run r = sparsead({"export", "--model", model, "--out", onnx, "--reference", ref, "--device", "cpu"});
    INFO(r.err);
    REQUIRE(r.rc == 0);
    const std::string out = d / ("check" + id + ".json");
    const int rc = std::system(("'" + kPython + "' '" + kRoot + "/tools/onnx_check.py' '" + onnx + "' '" + ref +
                                "' --repeat 3 > '" + out + "'")
                                   .c_str());
    const std::string text = read_bytes(out);
    MESSAGE(cs.name, ": ", text);
    CHECK(rc == 0);
    const Json j = Json::parse(text);
    CHECK(j.get("ok", "check").as_bool());
    CHECK(j.get("max_abs_map_diff", "check").as_number() <= 1e-4);
    // The image scores by the metadata's formula (tools/onnx_postprocess.py) match ours.
    CHECK(j.get("score_rel_diff", "check").as_number() <= 1e-4);
    // A tile model is also checked whole: a stitched image through tools/onnx_stitch.py.
    CHECK(j.get("tiled_map_diff", "check").is_null() == !cs.tiled);
    CHECK(j.get("tiled_score_rel_diff", "check").is_null() == !cs.tiled);
    CHECK(j.get("score_reference", "check").as_bool() ==
          (std::string(cs.name).find("score_reference") != std::string::npos));
  }
}
