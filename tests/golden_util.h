// The golden tests' shared parts (tests/test_golden*.cpp): the fixture files of
// tools/torch_ref/make_golden.py, the tolerances by tensor kind (each explained where it is
// defined), the comparisons, and the networks built from a fixture's weights.
#pragma once

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "data_test_util.h"
#include "layers/safetensors.h"
#include "model/anomaly_model.h"
#include "model/train_step.h"
#include "test_util.h"

namespace sad::test::golden {

using namespace sad;
namespace fs = std::filesystem;

constexpr int kGoldenFixtureVersion = 1;  // tools/torch_ref/make_golden.py's FIXTURE_VERSION
inline const char* const kRegenerate =
    "regenerate with: tools/setup-python.sh && .venv/bin/python tools/torch_ref/make_golden.py";

struct Tol {
  double scale;  // times max |expected|
  double rtol;   // times |expected|
};
constexpr Tol kOpF64{1e-7, 1e-7};
constexpr Tol kOpF32{1e-6, 1e-5};
constexpr Tol kLoss{0.0, 1e-5};
constexpr Tol kNetOutput{3e-5, 3e-4};
constexpr Tol kRunningStats{1e-5, 1e-4};
constexpr Tol kGradient{2e-4, 1e-3};
constexpr Tol kScore{0.0, 1e-5};
constexpr Tol kTrajectory{0.0, 2e-4};
constexpr double kStepFractionOfLr = 0.02;
constexpr double kMaxUndeterminedFraction = 0.1;

inline std::string golden_path(const std::string& name) {
  const std::string rel = "tests/data/golden/" + name;
#ifdef SPARSEAD_SOURCE_DIR
  return std::string(SPARSEAD_SOURCE_DIR) + "/" + rel;
#else
  return rel;  // ctest runs the suite from the source root
#endif
}

// Empty when `f` carries this test's fixture version, else the reason with the command.
inline std::string fixture_version_error(const SafetensorsFile& f) {
  auto it = f.metadata.find("fixture_version");
  std::string found = it == f.metadata.end() ? "none" : it->second;
  if (found == std::to_string(kGoldenFixtureVersion)) return "";
  return f.path + ": golden fixture version " + found + ", this test expects " + std::to_string(kGoldenFixtureVersion) +
         "; " + kRegenerate;
}

inline SafetensorsFile open_fixture(const std::string& name) {
  const std::string p = golden_path(name);
  if (!fs::exists(p)) FAIL(p << " is missing; " << kRegenerate);
  SafetensorsFile f = load_safetensors(p);
  std::string err = fixture_version_error(f);
  if (!err.empty()) FAIL(err);
  return f;
}

inline bool verbose() {
  const char* v = std::getenv("SPARSEAD_GOLDEN_VERBOSE");
  return v && std::string(v) == "1";
}

// Compares with the tolerance of its kind (see the table above).
inline void compare(const Tensor& got, const Tensor& expected, Tol tol, const std::string& what) {
  REQUIRE_MESSAGE(got.shape() == expected.shape(),
                  what << ": shape " << shape_str(got.shape()) << ", PyTorch " << shape_str(expected.shape()));
  std::vector<double> a = got.to(Device::cpu()).to_vector_f64(), e = expected.to_vector_f64();
  double emax = 0;
  for (double v : e) emax = std::max(emax, std::abs(v));
  const double atol = tol.scale * emax;
  if (verbose()) {
    double worst = 0;
    for (size_t i = 0; i < a.size(); ++i)
      worst = std::max(worst, std::abs(a[i] - e[i]) / (atol + tol.rtol * std::abs(e[i]) + 1e-300));
    MESSAGE(what << ": worst error / tolerance = " << worst);
  }
  test::check_close(a, e, atol, tol.rtol, what);
}

// A loss trajectory against PyTorch's float64 run `traj.<name>`. Float32 training drifts
// from float64 by itself after a few Adam steps (the first steps move every weight by
// about lr sign(g), and the weights whose gradient is near zero go either way), so each
// step's tolerance adds twice the reference's own float32 spread |traj32 - traj|.
inline void compare_trajectory(const std::vector<double>& got, const SafetensorsFile& f, const std::string& name) {
  std::vector<double> e = f.get("traj." + name).to_vector_f64(), e32 = f.get("traj32." + name).to_vector_f64();
  REQUIRE(got.size() == e.size());
  double worst = 0;
  for (size_t k = 0; k < got.size(); ++k) {
    const double tol = kTrajectory.rtol * std::abs(e[k]) + 2 * std::abs(e32[k] - e[k]);
    worst = std::max(worst, std::abs(got[k] - e[k]) / tol);
    CHECK_MESSAGE(std::abs(got[k] - e[k]) <= tol, name << " trajectory, step " << k + 1 << ": got " << got[k]
                                                       << ", PyTorch " << e[k] << " (float32 " << e32[k]
                                                       << "), tolerance " << tol);
  }
  if (verbose()) MESSAGE(name << " trajectory: worst error / tolerance = " << worst);
}

inline void compare_scalar(double got, double expected, Tol tol, const std::string& what) {
  compare(Tensor::from_vector_f64({got}, {1}), Tensor::from_vector_f64({expected}, {1}), tol, what);
}

// ---- layer cases: `<case>.<tensor>` in layers.safetensors ----------------------------------

using Leaves = std::map<std::string, Variable>;

// Runs fn on the case's inputs as leaves requiring gradients (in `dt`), seeds backward with
// the case's `dout` (or 1 for a scalar loss) and compares the output and each input's
// gradient with PyTorch's.
inline void check_layer_case(const SafetensorsFile& f, const std::string& c, const std::vector<std::string>& inputs,
                             bool scalar_loss, DType dt, Tol tol, const std::function<Variable(Leaves&)>& fn) {
  const std::string context = "layer case " + c + " in " + dtype_name(dt);
  INFO(context);
  Leaves leaves;
  for (const auto& n : inputs) leaves.emplace(n, Variable(f.get(c + "." + n).to(dt), true));
  Variable out = fn(leaves);
  if (scalar_loss)
    out.backward();
  else
    out.backward(f.get(c + ".dout").to(dt));
  const std::string tag = std::string(" [") + dtype_name(dt) + "]";
  compare(out.data(), f.get(c + ".out"), scalar_loss && dt == DType::F32 ? kLoss : tol, c + ".out" + tag);
  for (const auto& n : inputs) compare(leaves.at(n).grad(), f.get(c + ".d" + n), tol, c + ".d" + n + tag);
}

// The case in float64 (tight) and in float32 (the training precision).
inline void check_layer_case_both(const SafetensorsFile& f, const std::string& c,
                                  const std::vector<std::string>& inputs, bool scalar_loss,
                                  const std::function<Variable(Leaves&, DType)>& fn, Tol f32 = kOpF32) {
  for (DType dt : {DType::F64, DType::F32})
    check_layer_case(f, c, inputs, scalar_loss, dt, dt == DType::F64 ? kOpF64 : f32,
                     [&](Leaves& l) { return fn(l, dt); });
}

inline Tensor in(const SafetensorsFile& f, const std::string& name, DType dt) { return f.get(name).to(dt); }

// ---- network cases ---------------------------------------------------------------------------

// The fixtures' settings: a Config with the fixture's shape, mode and weak_labels and
// every other option at its default. The settings check below asserts that the
// fixture's remaining values ARE our defaults, so the step runs with METHOD.md's numbers.
inline Json fixture_settings(const SafetensorsFile& f) { return Json::parse(f.metadata.at("settings")); }

inline Config golden_config(const Json& settings) {
  Config c;
  c.image_size = settings.get_int("image_size", "settings");
  c.width = settings.get_int("width", "settings");
  c.channels = settings.get_int("channels", "settings");
  c.batch = settings.get_int("batch", "settings");
  if (const Json* m = settings.find("mode")) c.mode = parse_mode(m->as_string());
  if (const Json* w = settings.find("weak_labels")) c.weak_labels = w->as_bool();
  // METHOD.md's, which the fixtures follow, not the two defaults RESULTS.md chose for new
  // trainings (no step here reads them; named so that the comment above stays true).
  c.set("lr_schedule_s", "constant");
  c.set("score_reference", "none");
  c.finalise();
  return c;
}

// Loads `prefix`-named tensors of the weights file into m (strictly: every tensor of m).
inline void load_prefixed(Module& m, const SafetensorsFile& w, const std::string& prefix) {
  std::vector<std::pair<std::string, Tensor>> st;
  for (const auto& [n, t] : w.tensors)
    if (n.rfind(prefix, 0) == 0) st.emplace_back(n.substr(prefix.size()), t);
  m.load_state(st, w.path + " (" + prefix + ")");
}

inline std::map<std::string, Tensor> snapshot_grads(const Module& m) {
  std::map<std::string, Tensor> g;
  for (const auto& [n, v] : m.named_parameters()) g[n] = v.grad().clone();
  return g;
}

// Every parameter gradient of m against `grad.<prefix><name>`.
inline void compare_grads(const std::map<std::string, Tensor>& grads, const SafetensorsFile& f,
                          const std::string& prefix) {
  size_t n = 0;
  for (const auto& [name, g] : grads) {
    compare(g, f.get("grad." + prefix + name), kGradient, "grad." + prefix + name);
    ++n;
  }
  size_t expected = 0;
  for (const auto& [name, t] : f.tensors) expected += name.rfind("grad." + prefix, 0) == 0;
  CHECK_MESSAGE(n == expected, prefix << ": " << n << " gradients compared, the fixture has " << expected);
}

inline std::map<std::string, Tensor> snapshot_params(const Module& m) {
  std::map<std::string, Tensor> p;
  for (const auto& [n, v] : m.named_parameters()) p[n] = v.data().clone();
  return p;
}

// Every parameter after one Adam step against `stepped.<prefix><name>`. Adam's first
// step moves a weight by lr g / (|g| + eps), about lr sign(g), so the tolerance is a
// fraction of lr; where PyTorch's |g| lies within the gradient tolerance (the step's
// direction is then not determined by a float32 gradient) it is the step's full range, 2 lr.
inline void compare_stepped(const std::map<std::string, Tensor>& params, const SafetensorsFile& f,
                            const std::string& prefix, double lr) {
  size_t undetermined = 0, total = 0;
  for (const auto& [name, p] : params) {
    const std::string what = "stepped." + prefix + name;
    std::vector<double> a = p.to_vector_f64(), e = f.get(what).to_vector_f64();
    std::vector<double> g = f.get("grad." + prefix + name).to_vector_f64();
    REQUIRE(a.size() == e.size());
    double gmax = 0;
    for (double v : g) gmax = std::max(gmax, std::abs(v));
    size_t bad = 0, worst = 0;
    double worst_ratio = 0;
    for (size_t i = 0; i < a.size(); ++i) {
      const bool loose = std::abs(g[i]) <= kGradient.scale * gmax;
      undetermined += loose;
      const double tol = loose ? 2 * lr : kStepFractionOfLr * lr;
      const double ratio = std::abs(a[i] - e[i]) / tol;
      if (!(ratio <= 1)) ++bad;
      if (!(ratio <= worst_ratio)) worst_ratio = ratio, worst = i;
    }
    total += a.size();
    if (verbose()) MESSAGE(what << ": worst error / tolerance = " << worst_ratio);
    CHECK_MESSAGE(bad == 0, what << ": " << bad << " of " << a.size() << " elements differ by more than "
                                 << kStepFractionOfLr << " lr; worst at [" << worst << "]: got " << a[worst]
                                 << " expected " << e[worst] << " (gradient " << g[worst] << ")");
  }
  if (verbose()) MESSAGE(prefix << " " << undetermined << " of " << total << " weights with an undetermined step");
  // Most steps must be checked tightly, or this check would not be testing Adam at all.
  CHECK_MESSAGE(static_cast<double>(undetermined) <= kMaxUndeterminedFraction * static_cast<double>(total),
                prefix << ": " << undetermined << " of " << total << " weights have an undetermined step");
}

// Every BN running statistic of m against `after.<prefix><name>`.
inline void compare_running_stats(Module& m, const SafetensorsFile& f, const std::string& prefix) {
  size_t n = 0;
  for (const auto& [name, t] : m.named_buffers()) {
    compare(*t, f.get("after." + prefix + name), kRunningStats, "after." + prefix + name);
    ++n;
  }
  CHECK(n > 0);
}

struct GanNets {
  Config cfg;
  std::shared_ptr<Generator> g;
  std::shared_ptr<Discriminator> d;
  std::unique_ptr<ParameterArena> arena_g, arena_d;
  std::unique_ptr<Adam> opt_g, opt_d;
};

inline GanNets make_gan_nets(const SafetensorsFile& w, const Config& cfg) {
  GanNets n;
  n.cfg = cfg;
  n.g = std::make_shared<Generator>(net_config(cfg));
  n.d = std::make_shared<Discriminator>(net_config(cfg));
  load_prefixed(*n.g, w, "G.");
  load_prefixed(*n.d, w, "D.");
  n.arena_g = std::make_unique<ParameterArena>(n.g->parameters());
  n.arena_d = std::make_unique<ParameterArena>(n.d->parameters());
  n.opt_g = std::make_unique<Adam>(*n.arena_g, adam_config_g(cfg));
  n.opt_d = std::make_unique<Adam>(*n.arena_d, adam_config_d(cfg));
  return n;
}

struct SegNets {
  std::shared_ptr<Generator> g;
  std::shared_ptr<Segmenter> s;
  std::unique_ptr<ParameterArena> arena_s;
  std::unique_ptr<Adam> opt_s;
};

inline SegNets make_seg_nets(const SafetensorsFile& w, const Config& cfg) {
  SegNets n;
  n.g = std::make_shared<Generator>(net_config(cfg));
  n.s = std::make_shared<Segmenter>(net_config(cfg));
  load_prefixed(*n.g, w, "G.");
  load_prefixed(*n.s, w, "S.");
  n.arena_s = std::make_unique<ParameterArena>(n.s->parameters());
  n.opt_s = std::make_unique<Adam>(*n.arena_s, adam_config_s(cfg));
  return n;
}

}  // namespace sad::test::golden
