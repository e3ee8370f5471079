// Config: one field table for JSON, --set and validation.
#include "model/config.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <variant>

#include "tensor/check.h"

namespace sad {

namespace {

// A field: its key and a pointer to the member; the variant's type says how to parse.
using FieldPtr = std::variant<int64_t Config::*, double Config::*, bool Config::*, std::string Config::*>;
struct Field {
  const char* key;
  FieldPtr ptr;
};

const std::vector<Field>& fields() {
  static const std::vector<Field> f = {
      {"preset", &Config::preset},
      {"image_size", &Config::image_size},
      {"channels", &Config::channels},
      {"width", &Config::width},
      {"batch", &Config::batch},
      {"mode", &Config::mode},
      {"seed", &Config::seed},
      {"epochs_gan", &Config::epochs_gan},
      {"epochs_seg", &Config::epochs_seg},
      {"p_perturb", &Config::p_perturb},
      {"l_mse", &Config::l_mse},
      {"l_ssim", &Config::l_ssim},
      {"l_adv", &Config::l_adv},
      {"lr_g", &Config::lr_g},
      {"lr_d", &Config::lr_d},
      {"gan_beta1", &Config::gan_beta1},
      {"gan_beta2", &Config::gan_beta2},
      {"rho", &Config::rho},
      {"beta_kl", &Config::beta_kl},
      {"lambda_fit", &Config::lambda_fit},
      {"weak_labels", &Config::weak_labels},
      {"residual_kind", &Config::residual_kind},
      {"lr_s", &Config::lr_s},
      {"seg_beta1", &Config::seg_beta1},
      {"seg_beta2", &Config::seg_beta2},
      {"focal_gamma", &Config::focal_gamma},
      {"bn_momentum", &Config::bn_momentum},
      {"bn_eps", &Config::bn_eps},
      {"adam_eps", &Config::adam_eps},
      {"val_fraction", &Config::val_fraction},
      {"residual_sigma", &Config::residual_sigma},
      {"image_threshold", &Config::image_threshold},
      {"image_score_min", &Config::image_score_min},
      {"image_score_max", &Config::image_score_max},
      {"pixel_threshold", &Config::pixel_threshold},
      {"pixel_score_min", &Config::pixel_score_min},
      {"pixel_score_max", &Config::pixel_score_max},
      {"commit", &Config::commit},
      {"dataset_digest", &Config::dataset_digest},
  };
  return f;
}

const Field& find_field(const std::string& key) {
  for (const Field& f : fields())
    if (key == f.key) return f;
  std::string all;
  for (const Field& f : fields()) all += std::string(all.empty() ? "" : ", ") + f.key;
  SAD_FAIL("unknown option '", key, "' (options: ", all, ")");
}

int64_t parse_int(const std::string& key, const std::string& v) {
  errno = 0;
  char* end = nullptr;
  long long x = std::strtoll(v.c_str(), &end, 10);
  SAD_CHECK(!v.empty() && end && *end == '\0' && errno == 0, "option '", key, "' expects an integer, got '", v, "'");
  return x;
}

double parse_double(const std::string& key, const std::string& v) {
  errno = 0;
  char* end = nullptr;
  double x = std::strtod(v.c_str(), &end);
  SAD_CHECK(!v.empty() && end && *end == '\0' && errno == 0 && std::isfinite(x), "option '", key,
            "' expects a finite number, got '", v, "'");
  return x;
}

bool parse_bool(const std::string& key, const std::string& v) {
  if (v == "true" || v == "1") return true;
  if (v == "false" || v == "0") return false;
  SAD_FAIL("option '", key, "' expects true or false, got '", v, "'");
}

}  // namespace

void Config::apply_preset(const std::string& name) {
  if (name == "cpu") {
    image_size = 128;
    width = 16;
  } else if (name == "paper") {
    image_size = 256;
    width = 32;
  } else {
    SAD_FAIL("unknown preset '", name, "' (expected cpu or paper)");
  }
  batch = 16;
  preset = name;
}

void Config::set(const std::string& key, const std::string& value) {
  const Field& f = find_field(key);
  std::visit(
      [&](auto ptr) {
        using M = std::remove_reference_t<decltype(this->*ptr)>;
        if constexpr (std::is_same_v<M, int64_t>) this->*ptr = parse_int(key, value);
        else if constexpr (std::is_same_v<M, double>) this->*ptr = parse_double(key, value);
        else if constexpr (std::is_same_v<M, bool>) this->*ptr = parse_bool(key, value);
        else this->*ptr = value;
      },
      f.ptr);
  explicit_keys.insert(key);
}

void Config::finalise() {
  if (!weak_labels) {
    // METHOD.md: without weak labels the batch-level prior defaults to beta_kl 10, rho 0.02.
    if (!explicit_keys.count("beta_kl")) beta_kl = 10.0;
    if (!explicit_keys.count("rho")) rho = 0.02;
  }
  if (!explicit_keys.count("residual_sigma")) residual_sigma = 4.0 * static_cast<double>(image_size) / 256.0;
  SAD_CHECK(preset == "cpu" || preset == "paper" || preset == "custom", "preset must be cpu, paper or custom");
  SAD_CHECK(image_size >= 16 && image_size % 16 == 0 && image_size <= 4096, "image_size must be a multiple of 16 in [16, 4096], got ",
            image_size);
  SAD_CHECK(channels == 0 || channels == 1 || channels == 3, "channels must be 1 or 3 (0: from the data), got ", channels);
  SAD_CHECK(width >= 1 && width <= 1024, "width must lie in [1, 1024], got ", width);
  SAD_CHECK(batch >= 2 && batch <= 4096, "batch must lie in [2, 4096] (batch norm needs 2), got ", batch);
  SAD_CHECK(mode == "sparse-kl" || mode == "residual" || mode == "mask-supervised",
            "mode must be sparse-kl, residual or mask-supervised, got '", mode, "'");
  SAD_CHECK(residual_kind == "l1" || residual_kind == "ssim" || residual_kind == "mix",
            "residual_kind must be l1, ssim or mix, got '", residual_kind, "'");
  SAD_CHECK(seed >= 0, "seed must be >= 0");
  SAD_CHECK(epochs_gan >= 0 && epochs_seg >= 0, "epochs must be >= 0");
  SAD_CHECK(p_perturb >= 0 && p_perturb <= 1, "p_perturb must lie in [0, 1], got ", p_perturb);
  SAD_CHECK(rho > 0 && rho < 1, "rho must lie in (0, 1), got ", rho);
  for (double lr : {lr_g, lr_d, lr_s}) SAD_CHECK(lr > 0, "learning rates must be > 0");
  for (double b : {gan_beta1, gan_beta2, seg_beta1, seg_beta2})
    SAD_CHECK(b >= 0 && b < 1, "Adam betas must lie in [0, 1), got ", b);
  SAD_CHECK(val_fraction > 0 && val_fraction < 1, "val_fraction must lie in (0, 1), got ", val_fraction);
  SAD_CHECK(bn_eps > 0 && adam_eps > 0 && bn_momentum > 0 && bn_momentum <= 1, "bn_eps, adam_eps, bn_momentum invalid");
  SAD_CHECK(focal_gamma >= 0 && residual_sigma > 0, "focal_gamma must be >= 0 and residual_sigma > 0");
}

Json Config::to_json() const {
  Json j = Json::object();
  j.set("format_version", kModelFormatVersion);
  for (const Field& f : fields())
    std::visit([&](auto ptr) { j.set(f.key, Json(this->*ptr)); }, f.ptr);
  return j;
}

Config Config::from_json(const Json& j, const std::string& source) {
  SAD_CHECK(j.is_object(), source, ": config is not a JSON object");
  Config c;
  int64_t version = j.get_int("format_version", source + " config");
  SAD_CHECK(version == kModelFormatVersion, source, ": model format version ", version, ", this build reads version ",
            kModelFormatVersion);
  for (const auto& [key, value] : j.as_object()) {
    if (key == "format_version") continue;
    const Field* f = nullptr;
    for (const Field& g : fields())
      if (key == g.key) f = &g;
    SAD_CHECK(f, source, ": unknown config key '", key, "'");
    std::visit(
        [&](auto ptr) {
          using M = std::remove_reference_t<decltype(c.*ptr)>;
          if constexpr (std::is_same_v<M, int64_t>) c.*ptr = j.get_int(key, source + " config");
          else if constexpr (std::is_same_v<M, double>) c.*ptr = j.get_number(key, source + " config");
          else if constexpr (std::is_same_v<M, bool>) c.*ptr = j.get_bool(key, source + " config");
          else c.*ptr = j.get_string(key, source + " config");
        },
        f->ptr);
    c.explicit_keys.insert(key);
  }
  return c;
}

std::vector<std::string> Config::keys() {
  std::vector<std::string> k;
  for (const Field& f : fields()) k.push_back(f.key);
  return k;
}

}  // namespace sad
