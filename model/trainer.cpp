// The two training phases, checkpoints and resume, the training log, reconstruction
// samples, and the deployment thresholds from the validation images.
#include "model/trainer.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "apps/progress.h"
#include "data/image.h"
#include "data/loader.h"
#include "data/perturb.h"
#include "eval/metrics.h"
#include "layers/optim.h"
#include "layers/safetensors.h"
#include "model/losses.h"
#include "model/train_step.h"

#ifndef SPARSEAD_GIT_COMMIT
#define SPARSEAD_GIT_COMMIT "unknown"
#endif

namespace sad {

namespace fs = std::filesystem;

namespace {

enum Phase : int64_t { kPhaseGan = 1, kPhaseSeg = 2 };

// FNV-1a over the training files' names and sizes: identifies the data a model saw.
std::string dataset_digest(const std::vector<data::ImageItem>& items) {
  uint64_t h = 1469598103934665603ull;
  auto mix = [&](const std::string& s) {
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  };
  for (const auto& it : items) {
    mix(fs::path(it.path).filename().string());
    std::error_code ec;
    mix(std::to_string(fs::file_size(it.path, ec)));
  }
  char buf[20];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

void write_text_atomic(const std::string& path, const std::string& text) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    SAD_CHECK(f.good(), path, ": cannot write");
    f << text;
    f.flush();
    SAD_CHECK(f.good(), path, ": write failed");
  }
  fs::rename(tmp, path);
}

// Everything a phase's optimisation needs.
struct Optimised {
  std::unique_ptr<ParameterArena> arena;
  std::unique_ptr<Adam> adam;
  Optimised(Module& m, const AdamConfig& cfg) {
    arena = std::make_unique<ParameterArena>(m.parameters());
    adam = std::make_unique<Adam>(*arena, cfg);
  }
};

struct EpochSums {
  double d = 0, g = 0, mse = 0, ssim = 0, adv = 0, s = 0;
  int64_t steps = 0;

  std::string str() const {
    char buf[256];
    std::snprintf(buf, sizeof buf, "%.17g %.17g %.17g %.17g %.17g %.17g %lld", d, g, mse, ssim, adv, s,
                  static_cast<long long>(steps));
    return buf;
  }
  static EpochSums parse(const std::string& text, const std::string& source) {
    EpochSums e;
    long long steps = 0;
    SAD_CHECK(std::sscanf(text.c_str(), "%lf %lf %lf %lf %lf %lf %lld", &e.d, &e.g, &e.mse, &e.ssim, &e.adv, &e.s,
                          &steps) == 7,
              source, ": malformed epoch sums '", text, "'");
    e.steps = steps;
    return e;
  }
};

class Trainer {
 public:
  explicit Trainer(const TrainOptions& opt) : opt_(opt), cfg_(opt.cfg), model_(opt.cfg) {}
  TrainResult run();

 private:
  void load_images();
  data::Sample make_sample(int64_t phase, int64_t idx, int64_t epoch) const;
  void run_gan_epoch(int64_t epoch, int64_t start_batch);
  void run_seg_epoch(int64_t epoch, int64_t start_batch);
  void save_checkpoint(int64_t phase, int64_t epoch, int64_t batch) const;
  bool load_checkpoint(int64_t& phase, int64_t& epoch, int64_t& batch);
  void save_samples(int64_t epoch);
  void choose_thresholds();
  double validation_auroc();
  void log_row(const std::string& row);
  bool stopping() const { return opt_.stop && opt_.stop->load(); }
  std::string path(const std::string& name) const { return (fs::path(opt_.out_dir) / name).string(); }

  const TrainOptions& opt_;
  Config cfg_;
  AnomalyModel model_;
  std::shared_ptr<Discriminator> d_;
  std::unique_ptr<Optimised> opt_g_, opt_d_, opt_s_;
  std::vector<Tensor> train_images_, val_images_;  // (C, S, S) in [-1, 1], CPU
  std::vector<std::string> log_rows_;
  TrainResult result_;
  bool interrupted_ = false;
  // The running sums of the epoch in progress (losses, steps): stored in a checkpoint taken
  // inside an epoch, so that the resumed epoch logs the same averages as an uninterrupted
  // one (and not those of its last few steps, or zeros when none were left).
  EpochSums sums_;
};

void Trainer::load_images() {
  const auto& items = opt_.dataset.train;
  data::Split split = data::split_validation(static_cast<int64_t>(items.size()), static_cast<uint64_t>(cfg_.seed),
                                             cfg_.val_fraction);
  SAD_CHECK(!split.train.empty(), opt_.dataset.root, ": too few training images to hold out a validation set (",
            items.size(), ")");
  const int c = static_cast<int>(cfg_.channels), s = static_cast<int>(cfg_.image_size);
  ProgressBar bar("loading", static_cast<long>(items.size()), "img", opt_.quiet);
  for (int64_t i : split.train) {
    train_images_.push_back(data::load_model_input(items[static_cast<size_t>(i)].path, c, s));
    bar.advance(1);
  }
  for (int64_t i : split.validation) {
    val_images_.push_back(data::load_model_input(items[static_cast<size_t>(i)].path, c, s));
    bar.advance(1);
  }
  bar.finish();
}

data::Sample Trainer::make_sample(int64_t phase, int64_t idx, int64_t epoch) const {
  const Tensor& x = train_images_[static_cast<size_t>(idx)];
  Rng rng = Rng::stream(static_cast<uint64_t>(cfg_.seed),
                        {data::kStreamPerturb, static_cast<uint64_t>(phase), static_cast<uint64_t>(epoch),
                         static_cast<uint64_t>(idx)});
  data::PerturbOptions po;
  po.p_perturb = cfg_.p_perturb;
  data::OtherImages others{static_cast<int64_t>(train_images_.size()), idx,
                           [this](int64_t j) { return train_images_[static_cast<size_t>(j)]; }};
  data::Perturbed p = data::perturb(x, rng, po, others);
  return {x, p.image, p.mask, Tensor::full({1}, p.label)};
}

void Trainer::log_row(const std::string& row) {
  log_rows_.push_back(row);
  std::string text = "phase,epoch,steps,loss_d,loss_g,mse,ssim,adv,loss_s,val_image_auroc,images_per_s\n";
  for (const auto& r : log_rows_) text += r + "\n";
  write_text_atomic(path("train_log.csv"), text);
}

void Trainer::run_gan_epoch(int64_t epoch, int64_t start_batch) {
  const int64_t n = static_cast<int64_t>(train_images_.size());
  data::BatchLoader loader(n, [this](int64_t i, int64_t e) { return make_sample(kPhaseGan, i, e); },
                           {.batch_size = cfg_.batch, .shuffle = true, .drop_last = n > cfg_.batch,
                            .seed = static_cast<uint64_t>(cfg_.seed), .background = true});
  loader.start_epoch(epoch);
  Generator& g = model_.generator();
  const GanLossWeights w = gan_loss_weights(cfg_);
  char label[64];
  std::snprintf(label, sizeof label, "GAN %lld/%lld", static_cast<long long>(epoch + 1),
                static_cast<long long>(cfg_.epochs_gan));
  ProgressBar bar(label, static_cast<long>(loader.num_batches() * cfg_.batch), "img", opt_.quiet);
  if (start_batch == 0) sums_ = {};  // else: the interrupted epoch's sums, from the checkpoint
  EpochSums& e = sums_;
  int64_t b = 0;
  while (auto batch = loader.next()) {
    if (b++ < start_batch) continue;  // resuming inside an epoch
    GanStepResult r = gan_step(g, *d_, *opt_g_->adam, *opt_d_->adam, batch->fields[0].to(model_.device()),
                               batch->fields[1].to(model_.device()), w, {epoch, b});
    e.d += r.loss_d, e.g += r.loss_g, e.mse += r.mse, e.ssim += r.ssim, e.adv += r.adv, ++e.steps;
    char st[96];
    std::snprintf(st, sizeof st, "L_D %.4f L_G %.4f", e.d / e.steps, e.g / e.steps);
    bar.advance(static_cast<long>(batch->indices.size()), st);
    if (stopping()) {
      save_checkpoint(kPhaseGan, epoch, b);
      interrupted_ = true;
      return;
    }
  }
  double secs = bar.finish();
  result_.seconds_gan += secs;
  double k = static_cast<double>(std::max<int64_t>(e.steps, 1));
  char row[256];
  std::snprintf(row, sizeof row, "gan,%lld,%lld,%.6f,%.6f,%.6f,%.6f,%.6f,,,%.2f", static_cast<long long>(epoch + 1),
                static_cast<long long>(opt_g_->adam->steps()), e.d / k, e.g / k, e.mse / k, e.ssim / k, e.adv / k,
                bar.rate());
  log_row(row);
  char line[256];
  std::snprintf(line, sizeof line, "GAN epoch %lld/%lld: L_D %.4f L_G %.4f (mse %.4f ssim %.4f adv %.4f) %.1f img/s",
                static_cast<long long>(epoch + 1), static_cast<long long>(cfg_.epochs_gan), e.d / k, e.g / k,
                e.mse / k, e.ssim / k, e.adv / k, bar.rate());
  bar.line(line);
  save_samples(epoch);
  save_checkpoint(kPhaseGan, epoch + 1, 0);
}

void Trainer::run_seg_epoch(int64_t epoch, int64_t start_batch) {
  const int64_t n = static_cast<int64_t>(train_images_.size());
  data::BatchLoader loader(n, [this](int64_t i, int64_t e) { return make_sample(kPhaseSeg, i, e); },
                           {.batch_size = cfg_.batch, .shuffle = true, .drop_last = n > cfg_.batch,
                            .seed = static_cast<uint64_t>(cfg_.seed) + 1, .background = true});
  loader.start_epoch(epoch);
  Generator& g = model_.generator();
  Segmenter& s = *model_.segmenter();
  const SegLossSettings loss_settings = seg_loss_settings(cfg_);
  char label[64];
  std::snprintf(label, sizeof label, "S %lld/%lld", static_cast<long long>(epoch + 1),
                static_cast<long long>(cfg_.epochs_seg));
  ProgressBar bar(label, static_cast<long>(loader.num_batches() * cfg_.batch), "img", opt_.quiet);
  if (start_batch == 0) sums_ = {};  // else: the interrupted epoch's sums, from the checkpoint
  EpochSums& e = sums_;
  int64_t b = 0;
  while (auto batch = loader.next()) {
    if (b++ < start_batch) continue;  // resuming inside an epoch
    const Tensor& labels = batch->fields[3];  // (B, 1): the weak labels
    // Only the mask-supervised ablation reads the masks: no copy to the device otherwise.
    const Tensor masks = loss_settings.mask_supervised ? batch->fields[2].to(model_.device()) : Tensor();
    double lv = seg_step(g, s, *opt_s_->adam, loss_settings, batch->fields[1].to(model_.device()), masks,
                         labels.reshape({labels.dim(0)}).to(model_.device()), {epoch, b})
                    .loss;
    e.s += lv, ++e.steps;
    char st[64];
    std::snprintf(st, sizeof st, "L_S %.4f", e.s / e.steps);
    bar.advance(static_cast<long>(batch->indices.size()), st);
    if (stopping()) {
      save_checkpoint(kPhaseSeg, epoch, b);
      interrupted_ = true;
      return;
    }
  }
  double secs = bar.finish();
  result_.seconds_seg += secs;
  double auroc = validation_auroc();
  double k = static_cast<double>(std::max<int64_t>(e.steps, 1));
  char row[200];
  std::snprintf(row, sizeof row, "seg,%lld,%lld,,,,,,%.6f,%.4f,%.2f", static_cast<long long>(epoch + 1),
                static_cast<long long>(opt_s_->adam->steps()), e.s / k, auroc, bar.rate());
  log_row(row);
  char line[200];
  std::snprintf(line, sizeof line, "S epoch %lld/%lld: L_S %.4f, validation image AUROC %.4f, %.1f img/s",
                static_cast<long long>(epoch + 1), static_cast<long long>(cfg_.epochs_seg), e.s / k, auroc,
                bar.rate());
  bar.line(line);
  save_checkpoint(kPhaseSeg, epoch + 1, 0);
}

// Validation images, clean (label 0) and perturbed once (label 1), seeded per image.
struct ValidationSet {
  std::vector<Tensor> images;  // (C, S, S)
  std::vector<Tensor> masks;   // (1, S, S), empty for clean
  std::vector<uint8_t> labels;
};

ValidationSet make_validation_set(const std::vector<Tensor>& val, const Config& cfg) {
  ValidationSet vs;
  for (size_t i = 0; i < val.size(); ++i) {
    vs.images.push_back(val[i]);
    vs.masks.emplace_back();
    vs.labels.push_back(0);
  }
  data::PerturbOptions po;
  po.p_perturb = 1.0;  // each validation image once perturbed
  for (size_t i = 0; i < val.size(); ++i) {
    Rng rng = Rng::stream(static_cast<uint64_t>(cfg.seed), {data::kStreamValidation, static_cast<uint64_t>(i)});
    data::OtherImages others{static_cast<int64_t>(val.size()), static_cast<int64_t>(i),
                             [&val](int64_t j) { return val[static_cast<size_t>(j)]; }};
    data::Perturbed p = data::perturb(val[i], rng, po, others);
    if (p.label < 0.5f) continue;  // the perturbation gave up: no positive from this image
    vs.images.push_back(p.image);
    vs.masks.push_back(p.mask);
    vs.labels.push_back(1);
  }
  return vs;
}

AnomalyModel::Scored score_all(AnomalyModel& m, const std::vector<Tensor>& images, int64_t batch) {
  AnomalyModel::Scored all;
  const int64_t c = m.config().channels, s = m.config().image_size;
  std::vector<Tensor> maps;
  for (size_t i = 0; i < images.size(); i += static_cast<size_t>(batch)) {
    size_t e = std::min(images.size(), i + static_cast<size_t>(batch));
    Tensor x = Tensor::empty({static_cast<int64_t>(e - i), c, s, s});
    for (size_t j = i; j < e; ++j) {
      Tensor slot = x.slice0(static_cast<int64_t>(j - i), static_cast<int64_t>(j - i + 1)).reshape({c, s, s});
      slot.copy_from(images[j]);
    }
    AnomalyModel::Scored sc = m.score_batch(x);
    for (double v : sc.scores) all.scores.push_back(v);
    maps.push_back(sc.maps);
  }
  all.maps = Tensor::empty({static_cast<int64_t>(images.size()), 1, s, s});
  ops::concat({0}, maps, all.maps);  // along the batch
  return all;
}

double Trainer::validation_auroc() {
  ValidationSet vs = make_validation_set(val_images_, cfg_);
  AnomalyModel::Scored sc = score_all(model_, vs.images, cfg_.batch);
  std::vector<float> scores(sc.scores.begin(), sc.scores.end());
  auto a = eval::roc_auc(scores, vs.labels);
  return a ? *a : NAN;
}

void Trainer::choose_thresholds() {
  ValidationSet vs = make_validation_set(val_images_, cfg_);
  AnomalyModel::Scored sc = score_all(model_, vs.images, cfg_.batch);
  std::vector<float> scores(sc.scores.begin(), sc.scores.end());
  auto [lo, hi] = std::minmax_element(scores.begin(), scores.end());
  cfg_.image_score_min = *lo;
  cfg_.image_score_max = *hi;
  auto f1 = eval::f1_max(scores, vs.labels);
  cfg_.image_threshold = f1 ? f1->threshold : (*lo + *hi) / 2;
  // Pixel threshold: best pixel F1 on the perturbed images' masks.
  const int64_t s = cfg_.image_size, hw = s * s;
  std::vector<float> all_pixels = sc.maps.to_vector();
  std::vector<std::vector<uint8_t>> masks;
  std::vector<eval::ScoreMap> sm;
  float pmin = INFINITY, pmax = -INFINITY;
  for (size_t i = 0; i < vs.images.size(); ++i) {
    if (!vs.labels[i]) continue;
    std::vector<float> m = vs.masks[i].to_vector();
    masks.emplace_back(m.begin(), m.end());
    std::span<const float> px(all_pixels.data() + static_cast<int64_t>(i) * hw, static_cast<size_t>(hw));
    for (float v : px) pmin = std::min(pmin, v), pmax = std::max(pmax, v);
    sm.push_back({px, masks.back(), static_cast<int>(s), static_cast<int>(s)});
  }
  if (!sm.empty()) {
    auto pf = eval::pixel_f1_max(sm);
    cfg_.pixel_threshold = pf ? pf->threshold : (pmin + pmax) / 2;
    cfg_.pixel_score_min = pmin;
    cfg_.pixel_score_max = pmax;
  }
  model_.config() = cfg_;
}

void Trainer::save_samples(int64_t epoch) {
  // Rows: validation images | their reconstructions, up to 4.
  size_t k = std::min<size_t>(4, val_images_.size());
  if (k == 0) return;
  const int64_t c = cfg_.channels, s = cfg_.image_size;
  Tensor x = Tensor::empty({static_cast<int64_t>(k), c, s, s});
  for (size_t i = 0; i < k; ++i) {
    Tensor slot = x.slice0(static_cast<int64_t>(i), static_cast<int64_t>(i) + 1).reshape({c, s, s});
    slot.copy_from(val_images_[i]);
  }
  Tensor xr;
  {
    NoGradGuard ng;
    model_.generator().eval();
    xr = model_.generator().forward(Variable(x.to(model_.device()))).data().to(Device::cpu());
    model_.generator().train();
  }
  std::vector<float> a = x.to_vector(), r = xr.to_vector();
  const int64_t W = 2 * s, H = static_cast<int64_t>(k) * s;
  std::vector<float> img(static_cast<size_t>(c * H * W));
  for (size_t i = 0; i < k; ++i)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t y = 0; y < s; ++y)
        for (int64_t xx = 0; xx < s; ++xx) {
          size_t src = ((i * static_cast<size_t>(c) + static_cast<size_t>(ch)) * static_cast<size_t>(s) +
                        static_cast<size_t>(y)) * static_cast<size_t>(s) + static_cast<size_t>(xx);
          size_t row = static_cast<size_t>(ch * H + static_cast<int64_t>(i) * s + y) * static_cast<size_t>(W);
          img[row + static_cast<size_t>(xx)] = (a[src] + 1) / 2;
          img[row + static_cast<size_t>(s + xx)] = (r[src] + 1) / 2;
        }
  for (float& v : img) v = std::clamp(v, 0.0f, 1.0f);
  fs::create_directories(path("samples"));
  char name[64];
  std::snprintf(name, sizeof name, "samples/gan_epoch_%03lld.png", static_cast<long long>(epoch + 1));
  data::save_png(path(name), Tensor::from_vector(img, {c, H, W}));
}

void Trainer::save_checkpoint(int64_t phase, int64_t epoch, int64_t batch) const {
  std::vector<std::pair<std::string, Tensor>> t = model_.state();
  for (auto& [n, v] : d_->state()) t.emplace_back("D." + n, v);
  auto add_opt = [&](const char* name, const std::unique_ptr<Optimised>& o) {
    if (!o) return;
    t.emplace_back(std::string("opt.") + name + ".m", o->adam->m());
    t.emplace_back(std::string("opt.") + name + ".v", o->adam->v());
  };
  add_opt("g", opt_g_);
  add_opt("d", opt_d_);
  add_opt("s", opt_s_);
  std::map<std::string, std::string> meta{
      {"config", cfg_.to_json().dump()},
      {"phase", std::to_string(phase)},
      {"epoch", std::to_string(epoch)},
      {"batch", std::to_string(batch)},
      {"epoch_sums", batch > 0 ? sums_.str() : EpochSums{}.str()},
      {"steps.g", std::to_string(opt_g_ ? opt_g_->adam->steps() : 0)},
      {"steps.d", std::to_string(opt_d_ ? opt_d_->adam->steps() : 0)},
      {"steps.s", std::to_string(opt_s_ ? opt_s_->adam->steps() : 0)},
      {"seconds.gan", std::to_string(result_.seconds_gan)},
      {"seconds.seg", std::to_string(result_.seconds_seg)}};
  save_safetensors(path("checkpoint.safetensors"), t, meta);
}

bool Trainer::load_checkpoint(int64_t& phase, int64_t& epoch, int64_t& batch) {
  std::string p = path("checkpoint.safetensors");
  SafetensorsFile f = load_safetensors(p);
  Config saved = Config::from_json(Json::parse(f.metadata.at("config")), p);
  // The run must continue with the same settings and data (thresholds are set at the end);
  // the binary may have been rebuilt in between, so the commit is not compared.
  saved.commit = cfg_.commit;
  Json a = saved.to_json(), b = cfg_.to_json();
  SAD_CHECK(a.dump() == b.dump(), p, ": --resume with different settings than the interrupted run (",
            a.dump(), " vs ", b.dump(), ")");
  std::map<std::string, Tensor> by;
  for (auto& [n, t] : f.tensors) by[n] = t;
  auto take = [&](const std::string& prefix, Module& m) {
    std::vector<std::pair<std::string, Tensor>> st;
    for (auto& [n, t] : f.tensors)
      if (n.rfind(prefix, 0) == 0) st.emplace_back(n.substr(prefix.size()), t);
    m.load_state(st, p);
  };
  take("G.", model_.generator());
  if (model_.segmenter()) take("S.", *model_.segmenter());
  take("D.", *d_);
  auto load_opt = [&](const char* name, std::unique_ptr<Optimised>& o, const char* steps_key) {
    if (!o || !by.count(std::string("opt.") + name + ".m")) return;
    o->adam->m().copy_from(by[std::string("opt.") + name + ".m"].to(o->adam->m().device()));
    o->adam->v().copy_from(by[std::string("opt.") + name + ".v"].to(o->adam->v().device()));
    o->adam->set_steps(std::stoll(f.metadata.at(steps_key)));
  };
  load_opt("g", opt_g_, "steps.g");
  load_opt("d", opt_d_, "steps.d");
  load_opt("s", opt_s_, "steps.s");
  phase = std::stoll(f.metadata.at("phase"));
  epoch = std::stoll(f.metadata.at("epoch"));
  batch = std::stoll(f.metadata.at("batch"));
  // Checkpoints written before the sums were stored resume with an empty sum.
  sums_ = f.metadata.count("epoch_sums") ? EpochSums::parse(f.metadata.at("epoch_sums"), p) : EpochSums{};
  result_.seconds_gan = std::stod(f.metadata.at("seconds.gan"));
  result_.seconds_seg = std::stod(f.metadata.at("seconds.seg"));
  std::ifstream log(path("train_log.csv"));
  std::string line;
  std::getline(log, line);  // header
  while (std::getline(log, line))
    if (!line.empty()) log_rows_.push_back(line);
  return true;
}

TrainResult Trainer::run() {
  fs::create_directories(opt_.out_dir);
  cfg_.commit = SPARSEAD_GIT_COMMIT;
  cfg_.dataset_digest = dataset_digest(opt_.dataset.train);
  model_.config() = cfg_;
  load_images();
  model_.init(static_cast<uint64_t>(cfg_.seed));
  d_ = std::make_shared<Discriminator>(net_config(cfg_));
  Rng rd = Rng::stream(static_cast<uint64_t>(cfg_.seed), {0x44});  // 'D'
  init_parameters(*d_, rd);
  bool skip_gan = false;
  if (!opt_.init_generator.empty()) {
    GeneratorSource src = load_generator_source(opt_.init_generator);
    const Config& sc = src.cfg;
    SAD_CHECK(sc.image_size == cfg_.image_size && sc.width == cfg_.width && sc.channels == cfg_.channels,
              opt_.init_generator, ": its generator has S=", sc.image_size, " w=", sc.width, " C=", sc.channels,
              ", this run needs S=", cfg_.image_size, " w=", cfg_.width, " C=", cfg_.channels);
    model_.generator().load_state(src.state, opt_.init_generator);
    skip_gan = true;
  }
  model_.to(opt_.device);
  d_->to(opt_.device);
  opt_g_ = std::make_unique<Optimised>(model_.generator(), adam_config_g(cfg_));
  opt_d_ = std::make_unique<Optimised>(*d_, adam_config_d(cfg_));
  if (model_.segmenter()) opt_s_ = std::make_unique<Optimised>(*model_.segmenter(), adam_config_s(cfg_));
  int64_t phase = kPhaseGan, epoch = 0, batch = 0;
  if (opt_.resume) load_checkpoint(phase, epoch, batch);
  if (skip_gan && phase == kPhaseGan) phase = kPhaseSeg, epoch = 0, batch = 0;
  if (phase == kPhaseGan) {
    for (; epoch < cfg_.epochs_gan && !interrupted_; ++epoch, batch = 0) run_gan_epoch(epoch, batch);
    if (interrupted_) return result_;
    phase = kPhaseSeg, epoch = 0, batch = 0;
  }
  if (model_.segmenter())
    for (; epoch < cfg_.epochs_seg && !interrupted_; ++epoch, batch = 0) run_seg_epoch(epoch, batch);
  if (interrupted_) return result_;
  choose_thresholds();
  result_.model_path = path("model.safetensors");
  model_.save(result_.model_path);
  write_text_atomic(path("config.json"), cfg_.to_json().dump(2) + "\n");
  result_.completed = true;
  return result_;
}

}  // namespace

GeneratorSource load_generator_source(const std::string& path) {
  // A model file and a checkpoint both hold the config and G's tensors under "G.".
  SafetensorsFile f = load_safetensors(path);
  GeneratorSource src{config_from_metadata(f.metadata, path), {}};
  if (auto phase = f.metadata.find("phase"); phase != f.metadata.end()) {
    // A training checkpoint: its G is phase 1's result once phase 1 has run all its epochs
    // (the checkpoint written after the last GAN epoch) or the run has moved on to phase 2.
    auto at = [&](const char* key) { return f.metadata.count(key) ? f.metadata.at(key) : std::string(); };
    const bool phase1_done = phase->second == std::to_string(kPhaseSeg) ||
                             (at("epoch") == std::to_string(src.cfg.epochs_gan) && at("batch") == "0");
    SAD_CHECK(phase1_done, path, ": this checkpoint is still in phase 1 (its generator is not trained yet)");
  }
  for (auto& [n, t] : f.tensors)
    if (n.rfind("G.", 0) == 0) src.state.emplace_back(n.substr(2), t);
  SAD_CHECK(!src.state.empty(), path, ": holds no generator tensors");
  return src;
}

TrainResult train(const TrainOptions& opt) {
  SAD_CHECK(opt.cfg.channels == 1 || opt.cfg.channels == 3, "train: channels must be set from the data");
  Trainer t(opt);
  return t.run();
}

}  // namespace sad
