// The two training phases as one step loop, checkpoints and resume, the training log,
// reconstruction samples, and the validation at the end (thresholds, statistics, the
// collapse alarm).
#include "model/trainer.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "data/image.h"
#include "data/loader.h"
#include "data/perturb.h"
#include "data/tiles.h"
#include "layers/optim.h"
#include "layers/safetensors.h"
#include "model/build_info.h"
#include "model/losses.h"
#include "model/run_dir.h"
#include "model/train_parts.h"
#include "model/train_step.h"
#include "model/validation.h"
#include "tensor/file_io.h"
#include "tensor/text.h"

namespace sad {

namespace fs = std::filesystem;

namespace {

enum Phase : int64_t { kPhaseGan = 1, kPhaseSeg = 2 };

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

const char* kLogHeader =
    "phase,step,epoch,loss_d,loss_g,mse,ssim,adv,loss_s,val_image_auroc,val_image_auroc_se,images_per_s";

class Trainer {
 public:
  explicit Trainer(const TrainOptions& opt)
      : opt_(opt), cfg_(opt.cfg), model_(opt.cfg), progress_(opt.progress ? opt.progress : &plain_) {}
  TrainResult run();

 private:
  void load_images();
  data::Sample make_sample(int64_t phase, int64_t idx, int64_t epoch) const;
  Tensor random_crop(const Tensor& x, Rng& rng) const;
  void run_phase(int64_t phase, int64_t step, const PhasePlan& plan);
  void train_step(int64_t phase, const data::Batch& batch, int64_t epoch, int64_t step, int64_t total);
  void end_row(int64_t phase, int64_t step, const PhasePlan& plan, double period_seconds, int64_t period_images);
  void save_checkpoint(int64_t phase, int64_t step) const;
  void load_checkpoint(int64_t& phase, int64_t& step);
  void save_samples(int64_t step);
  void print_plan(bool skip_gan);
  void finish_validation();
  const ValidationSet& validation_set();
  bool stopping() const { return opt_.stop && opt_.stop->load(); }
  std::string path(const std::string& name) const { return (fs::path(opt_.out_dir) / name).string(); }
  void write_log() const;

  const TrainOptions& opt_;
  Config cfg_;
  AnomalyModel model_;
  PlainProgress plain_;
  TrainProgress* progress_;
  std::shared_ptr<Discriminator> d_;
  std::unique_ptr<Optimised> opt_g_, opt_d_, opt_s_;
  // (C, S, S) in [-1, 1], CPU; tile mode: training images at their working size, and
  // validation crops (C, S, S).
  std::vector<Tensor> train_images_, val_images_;
  int64_t held_out_ = 0;  // held-out images (tile mode: val_crops crops of each in val_images_)
  // label_contrast: perturbed crops of the current log row, and those that kept y = 1 (for the
  // progress line only: a diagnostic, not part of the log or the checkpoint).
  int64_t contrast_perturbed_ = 0, contrast_kept_ = 0;
  std::unique_ptr<ValidationSet> val_set_;
  // The final phase-2 row's scores of the validation set: the finished model's, reused by
  // finish_validation instead of scoring the same images again.
  std::optional<AnomalyModel::Scored> final_scores_;
  std::vector<std::string> log_rows_;
  PhasePlan plan_gan_, plan_seg_;
  TrainResult result_;
  bool interrupted_ = false;
  PeriodSums sums_;
  // The step's guard (a device flag that makes every Adam skip once a loss is not finite) and
  // the losses it has not read yet: the host reads them at log rows and checkpoints only.
  StepGuard guard_;
  PendingLosses pending_;
  std::string row_losses_;      // the last log row's losses, for the progress bar
  std::string init_generator_;  // the --init-generator this run started from ("" when none)
  Tensor residual_floor_;       // fit_excess: (1, 1, S, S), made at phase 2's start and on resume
  void make_residual_floor();
};

void Trainer::load_images() {
  const auto& items = opt_.dataset.train;
  data::Split split = data::split_validation(static_cast<int64_t>(items.size()), static_cast<uint64_t>(cfg_.seed),
                                             cfg_.val_fraction, cfg_.val_min);
  SAD_CHECK(!split.train.empty(), opt_.dataset.root, ": too few training images to hold out a validation set (",
            items.size(), ")");
  const int c = static_cast<int>(cfg_.channels), s = static_cast<int>(cfg_.image_size);
  // Tile mode keeps each image at its working size; training crops it step by step.
  auto load = [&](int64_t i) {
    const std::string& p = items[static_cast<size_t>(i)].path;
    return cfg_.tiled() ? data::load_working_image(p, c, cfg_.tile_scale, s) : data::load_model_input(p, c, s);
  };
  progress_->start("loading", static_cast<int64_t>(items.size()), "img");
  for (int64_t i : split.train) {
    train_images_.push_back(load(i));
    progress_->advance(1, "");
  }
  held_out_ = static_cast<int64_t>(split.validation.size());
  for (int64_t i : split.validation) {
    Tensor x = load(i);
    if (!cfg_.tiled()) val_images_.push_back(x);
    // Tile mode validates on seeded S x S crops: affordable, and scored as a window is.
    for (int64_t k = 0; cfg_.tiled() && k < cfg_.val_crops; ++k) {
      Rng rng = Rng::stream(static_cast<uint64_t>(cfg_.seed),
                            {data::kStreamCrop, 0, static_cast<uint64_t>(i), static_cast<uint64_t>(k)});
      val_images_.push_back(random_crop(x, rng));
    }
    progress_->advance(1, "");
  }
  progress_->finish();
}

Tensor Trainer::random_crop(const Tensor& x, Rng& rng) const {
  const int64_t s = cfg_.image_size;
  const int64_t y = static_cast<int64_t>(rng.below(static_cast<uint64_t>(x.dim(1) - s + 1)));
  const int64_t xx = static_cast<int64_t>(rng.below(static_cast<uint64_t>(x.dim(2) - s + 1)));
  return data::crop(x, y, xx, s);
}

data::Sample Trainer::make_sample(int64_t phase, int64_t idx, int64_t epoch) const {
  // Tile mode: an S x S window of each image, its own stream per (phase, epoch, image, which).
  // The augment option then transforms it, from a stream of its own (none draws nothing).
  auto window = [&](int64_t j, uint64_t which) {
    const Tensor& img = train_images_[static_cast<size_t>(j)];
    const auto stream = [&](uint64_t id) {
      return Rng::stream(
          static_cast<uint64_t>(cfg_.seed),
          {id, static_cast<uint64_t>(phase), static_cast<uint64_t>(epoch), static_cast<uint64_t>(idx), which});
    };
    Tensor w = img;
    if (cfg_.tiled()) {
      Rng r = stream(data::kStreamCrop);
      w = random_crop(img, r);
    }
    if (cfg_.augment == Augment::None) return w;
    // Flips: identity, the left-right mirror, the half turn and both (the up-down mirror).
    Rng r = stream(data::kStreamAugment);
    const int k = static_cast<int>(r.below(cfg_.augment == Augment::Flips ? 4 : 8));
    return data::dihedral(w, cfg_.augment == Augment::Flips ? (k & 1) * 4 + (k & 2) : k);
  };
  const Tensor x = window(idx, 0);
  Rng rng = Rng::stream(static_cast<uint64_t>(cfg_.seed), {data::kStreamPerturb, static_cast<uint64_t>(phase),
                                                           static_cast<uint64_t>(epoch), static_cast<uint64_t>(idx)});
  data::PerturbOptions po;
  po.p_perturb = cfg_.p_perturb;
  po.p_crack = cfg_.p_crack;
  po.p_uneven = cfg_.p_uneven;
  data::OtherImages others{static_cast<int64_t>(train_images_.size()), idx,
                           [&window](int64_t j) { return window(j, 1 + static_cast<uint64_t>(j)); }};
  data::Perturbed p = data::perturb(x, rng, po, others);
  data::Sample sample(kFieldCount);
  sample[kFieldClean] = x;
  sample[kFieldInput] = p.image;
  sample[kFieldMask] = p.mask;
  sample[kFieldLabel] = Tensor::full({1}, p.label);
  return sample;
}

const ValidationSet& Trainer::validation_set() {
  if (!val_set_)
    val_set_ = std::make_unique<ValidationSet>(make_validation_set(val_images_, cfg_.seed, cfg_.val_perturbations));
  return *val_set_;
}

void Trainer::write_log() const {
  std::string text = std::string(kLogHeader) + "\n";
  for (const auto& r : log_rows_) text += r + "\n";
  write_file_atomic(path("train_log.csv"), text);
}

void Trainer::train_step(int64_t phase, const data::Batch& loaded, int64_t epoch, int64_t step, int64_t total) {
  const Device dev = model_.device();
  const TrainBatch batch(loaded);
  const StepPlace where{epoch, step + 1};
  schedule_learning_rates(cfg_, phase == kPhaseGan, step, total, opt_g_.get(), opt_d_.get(), opt_s_.get());
  if (phase == kPhaseGan) {
    GanStepResult r = gan_step(model_.generator(), *d_, *opt_g_->adam, *opt_d_->adam, batch.clean.to(dev),
                               batch.input.to(dev), gan_loss_weights(cfg_), where, {}, &guard_);
    if (opt_g_->ema.defined()) opt_g_->update_ema(cfg_.ema_g);
    pending_.push(r.losses);
  } else {
    SegLossSettings st = seg_loss_settings(cfg_);
    st.residual_floor = residual_floor_;
    // Only the mask-supervised ablation and label_contrast read the masks: no copy otherwise.
    const Tensor masks = st.needs_mask() ? batch.mask.to(dev) : Tensor();
    SegStepResult r = seg_step(model_.generator(), *model_.segmenter(), *opt_s_->adam, st, batch.input.to(dev), masks,
                               batch.labels.to(dev), where, &guard_);
    pending_.push(r.losses);
    if (opt_s_->ema.defined()) opt_s_->update_ema(cfg_.ema_s);
    contrast_perturbed_ += r.perturbed, contrast_kept_ += r.kept;
  }
  ++sums_.steps;
}

// Every training window once, in order and unperturbed (the clean field of phase 2's samples
// of epoch 0: the same crops and augmentation draws as training's first epoch), through G.
void Trainer::make_residual_floor() {
  data::BatchLoader loader(static_cast<int64_t>(train_images_.size()),
                           [this](int64_t i, int64_t e) { return make_sample(kPhaseSeg, i, e); },
                           {.batch_size = cfg_.batch, .shuffle = false, .drop_last = false, .background = false});
  loader.start_epoch(0, 0);
  std::vector<Tensor> clean;
  while (std::optional<data::Batch> b = loader.next()) clean.push_back(b->fields[kFieldClean]);
  residual_floor_ = fit_floor(model_.generator(), clean, cfg_.residual_kind, cfg_.fit_excess, model_.device());
}

void Trainer::run_phase(int64_t phase, int64_t step, const PhasePlan& plan) {
  const int64_t n = static_cast<int64_t>(train_images_.size());
  if (phase == kPhaseSeg && cfg_.fit_excess > 0 && cfg_.mode == Mode::SparseKl && !residual_floor_.defined())
    make_residual_floor();
  data::BatchLoader loader(n, [this, phase](int64_t i, int64_t e) { return make_sample(phase, i, e); },
                           {.batch_size = cfg_.batch,
                            .shuffle = true,
                            .drop_last = n > cfg_.batch,
                            .seed = static_cast<uint64_t>(cfg_.seed) + (phase == kPhaseSeg ? 1 : 0),
                            .background = true});
  progress_->start(phase == kPhaseGan ? "phase 1 (G, D)" : "phase 2 (S)", plan.total, "step");
  progress_->advance(step, "");
  pending_.reset(plan.log_every, phase == kPhaseGan ? 5 : 1, DType::F32, model_.device());
  row_losses_.clear();
  Clock::time_point period_start = Clock::now();
  int64_t period_images = 0;
  while (step < plan.total) {
    const int64_t epoch = step / plan.per_epoch;
    loader.start_epoch(epoch, step % plan.per_epoch);
    do {
      std::optional<data::Batch> batch = loader.next();
      SAD_CHECK(batch.has_value(), "trainer: the loader ended epoch ", epoch, " early");
      train_step(phase, *batch, epoch, step, plan.total);
      ++step;
      period_images += static_cast<int64_t>(batch->indices.size());
      progress_->advance(1, row_losses_);  // the last row's losses: a step reads none
      if (step % plan.log_every == 0 || step == plan.total) {
        end_row(phase, step, plan, seconds_since(period_start), period_images);
        period_start = Clock::now();
        period_images = 0;
        if (stopping()) break;
      } else if (stopping()) {
        sums_.add_rows(pending_.take(), phase == kPhaseGan, step, plan.per_epoch);  // the host's read
        save_checkpoint(phase, step);
        break;
      }
    } while (step < plan.total && step % plan.per_epoch != 0);
    if (stopping() && step < plan.total) {
      interrupted_ = true;
      break;
    }
  }
  progress_->finish();
  if (stopping() && !interrupted_) interrupted_ = true;  // a stop at the phase's last step
}

void Trainer::end_row(int64_t phase, int64_t step, const PhasePlan& plan, double period_seconds,
                      int64_t period_images) {
  (phase == kPhaseGan ? result_.seconds_gan : result_.seconds_seg) += period_seconds;
  sums_.add_rows(pending_.take(), phase == kPhaseGan, step, plan.per_epoch);  // the period's one host read
  const PeriodSums& e = sums_;
  const double k = static_cast<double>(std::max<int64_t>(e.steps, 1));
  const double rate = period_seconds > 0 ? static_cast<double>(period_images) / period_seconds : 0.0;
  const int64_t epoch = (step - 1) / plan.per_epoch + 1;  // the epoch this row ends in, from 1
  char row[320], line[320];
  // ema_g, ema_s: the phase's weight average takes over at its last step, before the row's
  // samples or validation and the checkpoint that closes the phase (so the next phase, a
  // resume and --init-generator all see it).
  Optimised* averaged = phase == kPhaseGan ? opt_g_.get() : opt_s_.get();
  if (step == plan.total && averaged && averaged->ema.defined()) averaged->adopt_ema();
  if (phase == kPhaseGan) {
    std::snprintf(row, sizeof row, "gan,%lld,%lld,%.6f,%.6f,%.6f,%.6f,%.6f,,,,%.2f", static_cast<long long>(step),
                  static_cast<long long>(epoch), e.d / k, e.g / k, e.mse / k, e.ssim / k, e.adv / k, rate);
    std::snprintf(line, sizeof line,
                  "phase 1 step %lld/%lld (epoch %lld): L_D %.4f L_G %.4f (mse %.4f ssim %.4f adv %.4f) %.1f img/s",
                  static_cast<long long>(step), static_cast<long long>(plan.total), static_cast<long long>(epoch),
                  e.d / k, e.g / k, e.mse / k, e.ssim / k, e.adv / k, rate);
    row_losses_ = line_text("L_D %.4f L_G %.4f", e.d / k, e.g / k);
    save_samples(step);
  } else {
    const int64_t row_index = (step + plan.log_every - 1) / plan.log_every;
    std::string val = ",";
    std::string val_text;
    if (step == plan.total || row_index % plan.val_every == 0) {
      const ValidationSet& vs = validation_set();
      AnomalyModel::Scored sc = score_images(model_, vs.images, cfg_.batch);
      if (step == plan.total) final_scores_ = sc;
      AurocWithError a = bootstrap_auroc(std::vector<float>(sc.scores.begin(), sc.scores.end()), vs.labels, cfg_.seed);
      char v[96];
      std::snprintf(v, sizeof v, "%.4f,%.4f", a.auroc, a.se);
      val = v;
      std::snprintf(v, sizeof v, ", validation image AUROC %.4f +- %.4f", a.auroc, a.se);
      val_text = v;
    }
    std::snprintf(row, sizeof row, "seg,%lld,%lld,,,,,,%.6f,%s,%.2f", static_cast<long long>(step),
                  static_cast<long long>(epoch), e.s / k, val.c_str(), rate);
    if (cfg_.label_contrast > 0 && contrast_perturbed_ > 0) {
      char kept[96];
      std::snprintf(kept, sizeof kept, ", label_contrast kept %lld of %lld perturbed",
                    static_cast<long long>(contrast_kept_), static_cast<long long>(contrast_perturbed_));
      val_text += kept;
    }
    contrast_perturbed_ = contrast_kept_ = 0;
    std::snprintf(line, sizeof line, "phase 2 step %lld/%lld (epoch %lld): L_S %.4f%s, %.1f img/s",
                  static_cast<long long>(step), static_cast<long long>(plan.total), static_cast<long long>(epoch),
                  e.s / k, val_text.c_str(), rate);
    row_losses_ = line_text("L_S %.4f", e.s / k);
  }
  log_rows_.push_back(row);
  sums_ = {};
  // The checkpoint first: it carries the log, so a crash between the two files leaves a log
  // that the resumed run rewrites from the checkpoint (no duplicate or missing rows).
  save_checkpoint(phase, step);
  write_log();
  progress_->line(line);
}

void Trainer::save_samples(int64_t step) {
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
  fs::create_directories(path("samples"));
  char name[64];
  std::snprintf(name, sizeof name, "samples/gan_step_%07lld.png", static_cast<long long>(step));
  data::save_png(path(name), side_by_side(x, xr));
}

void Trainer::save_checkpoint(int64_t phase, int64_t step) const {
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
  for (auto& [name, o] : {std::pair{"ema.g", opt_g_.get()}, std::pair{"ema.s", opt_s_.get()}})
    if (o && o->ema.defined()) t.emplace_back(name, o->ema);
  std::string log;
  for (const auto& r : log_rows_) log += r + "\n";
  const bool phase1_done = phase == kPhaseSeg || step >= plan_gan_.total;
  std::map<std::string, std::string> meta{{"config", cfg_.to_json().dump()},
                                          {"phase", std::to_string(phase)},
                                          {"step", std::to_string(step)},
                                          {"phase1_done", phase1_done ? "1" : "0"},
                                          {"period_sums", sums_.str()},
                                          {"steps.g", std::to_string(opt_g_ ? opt_g_->adam->steps() : 0)},
                                          {"steps.d", std::to_string(opt_d_ ? opt_d_->adam->steps() : 0)},
                                          {"steps.s", std::to_string(opt_s_ ? opt_s_->adam->steps() : 0)},
                                          {"seconds.gan", std::to_string(result_.seconds_gan)},
                                          {"seconds.seg", std::to_string(result_.seconds_seg)},
                                          {"log", log},
                                          {"init_generator", init_generator_}};
  save_safetensors(path("checkpoint.safetensors"), t, meta);
}

void Trainer::load_checkpoint(int64_t& phase, int64_t& step) {
  std::string p = path("checkpoint.safetensors");
  SafetensorsFile f = load_safetensors(p);
  Config saved = config_from_metadata(f.metadata, p);
  // The run must continue with the same settings and data (thresholds are set at the end);
  // the binary may have been rebuilt in between, so the commit is not compared. A run from
  // --init-generator recorded its generator's phase 1 (adopt_phase1), which a resume that
  // no longer names the generator takes from the checkpoint.
  saved.commit = cfg_.commit;
  if (auto g = f.metadata.find("init_generator"); g != f.metadata.end() && !g->second.empty()) {
    cfg_.adopt_phase1(saved);
    model_.config() = cfg_;
  }
  Json a = saved.to_json(), b = cfg_.to_json();
  if (a.dump() != b.dump()) {
    // Name the keys that differ (dataset_digest: other training images), not two whole configs.
    std::string diff;
    for (const auto& [key, value] : b.as_object()) {
      const Json* old = a.find(key);
      if (!old || !(*old == value))
        diff += (diff.empty() ? "" : ", ") + key + " " + value.dump() + " (run: " + (old ? old->dump() : "none") + ")";
    }
    SAD_FAIL(p, ": --resume with different settings or data than the interrupted run: ", diff);
  }
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
    if (!o) return;
    const std::string m = std::string("opt.") + name + ".m", v = std::string("opt.") + name + ".v";
    SAD_CHECK(by.count(m) && by.count(v), p, ": checkpoint has no optimiser state '", m, "'");
    o->adam->m().copy_from(by[m].to(o->adam->m().device()));
    o->adam->v().copy_from(by[v].to(o->adam->v().device()));
    o->adam->set_steps(meta_int(f, steps_key, p));
  };
  load_opt("g", opt_g_, "steps.g");
  load_opt("d", opt_d_, "steps.d");
  load_opt("s", opt_s_, "steps.s");
  phase = meta_int(f, "phase", p);
  SAD_CHECK(phase == kPhaseGan || phase == kPhaseSeg, p, ": checkpoint phase ", phase, " is not 1 or 2");
  step = meta_int(f, "step", p);
  // A weight average goes on while its phase is unfinished; once done, the network holds it.
  auto load_ema = [&](const char* name, Optimised* o, bool phase_done) {
    if (!o || !o->ema.defined()) return;
    if (phase_done) return void(o->ema = Tensor());
    SAD_CHECK(by.count(name), p, ": checkpoint has no '", name, "' (a weight average, config ema_g or ema_s)");
    o->ema.copy_from(by[name].to(o->ema.device()));
  };
  load_ema("ema.g", opt_g_.get(), meta_int(f, "phase1_done", p) != 0);
  load_ema("ema.s", opt_s_.get(), phase == kPhaseSeg && step >= plan_seg_.total);
  auto sums = f.metadata.find("period_sums");
  SAD_CHECK(sums != f.metadata.end(), p, ": checkpoint metadata has no 'period_sums'");
  sums_ = PeriodSums::parse(sums->second, p);
  result_.seconds_gan = meta_double(f, "seconds.gan", p);
  result_.seconds_seg = meta_double(f, "seconds.seg", p);
  // A run started from --init-generator stays one on resume (its summary says so).
  if (auto g = f.metadata.find("init_generator"); g != f.metadata.end()) init_generator_ = g->second;
  // The log is the checkpoint's: rows written after it (a crash between the checkpoint and
  // the log, or between two checkpoints) are dropped, so the resumed log has no duplicates.
  auto log = f.metadata.find("log");
  SAD_CHECK(log != f.metadata.end(), p, ": checkpoint metadata has no 'log'");
  std::istringstream in(log->second);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) log_rows_.push_back(line);
  write_log();
}

void Trainer::print_plan(bool skip_gan) {
  // A rough time from forward passes alone (no gradient, eval mode: nothing changes): a
  // training step costs about three forward passes of what it runs.
  const int64_t b = cfg_.batch, c = cfg_.channels, s = cfg_.image_size;
  const ForwardTimes t =
      time_forward_passes(model_.generator(), *d_, model_.segmenter(), Tensor::zeros({b, c, s, s}).to(model_.device()));
  const double t_g = t.g, t_d = t.d, t_s = t.s;
  const double step_gan = 3 * (t_g + 2 * t_d), step_seg = t_g + 3 * t_s;
  const int64_t gan = skip_gan ? 0 : plan_gan_.total;
  const double est = static_cast<double>(gan) * step_gan + static_cast<double>(plan_seg_.total) * step_seg;
  char line[400];
  std::snprintf(line, sizeof line,
                "plan: %lld training images (%lld held out), batch %lld, %lld steps an epoch; phase 1 %lld steps%s, "
                "phase 2 %lld steps; estimated %s (from forward-pass timings)",
                static_cast<long long>(train_images_.size()), static_cast<long long>(held_out_),
                static_cast<long long>(b), static_cast<long long>(plan_gan_.per_epoch),
                static_cast<long long>(plan_gan_.total), skip_gan ? " (from --init-generator, skipped)" : "",
                static_cast<long long>(plan_seg_.total), format_duration(est).c_str());
  progress_->line(line);
}

void Trainer::finish_validation() {
  const ValidationSet& vs = validation_set();
  AnomalyModel::Scored sc = final_scores_ ? *final_scores_ : score_images(model_, vs.images, cfg_.batch);
  // score_reference = mean: the reference comes from the clean held-out images, and the
  // thresholds are chosen on leave-one-out scores against it (phase 2's scores did not
  // subtract one; its maps, which the reference does not touch, are kept).
  if (cfg_.score_reference == ScoreReference::Mean) {
    model_.set_score_reference(mean_smoothed_map(model_, val_images_, cfg_.batch));
    sc.scores = leave_one_out_scores(model_, vs, cfg_.batch);
  }
  choose_thresholds(vs, sc, cfg_);
  ValidationStats st = validation_stats(vs, sc, cfg_.pixel_threshold, static_cast<uint64_t>(cfg_.seed));
  st.g_ssim = generator_ssim(model_, val_images_, cfg_.batch);
  const std::string alarm = collapse_alarm(st, cfg_.mode);
  record_validation(st, alarm, cfg_);
  model_.config() = cfg_;
  result_.alarm = alarm;
  char line[400];
  std::snprintf(line, sizeof line,
                "validation (%lld held-out images, %lld scored): image AUROC %.4f +- %.4f, pixel AUROC %.4f, "
                "%.1f %% of pixels above the pixel threshold, %lld distinct scores, G's SSIM %.3f",
                static_cast<long long>(held_out_), static_cast<long long>(st.images), st.image_auroc, st.image_auroc_se,
                st.pixel_auroc, 100 * st.above_threshold, static_cast<long long>(st.distinct_scores), st.g_ssim);
  progress_->line(line);  // the caller reports result_.alarm
}

TrainResult Trainer::run() {
  fs::create_directories(opt_.out_dir);
  RunLock lock(opt_.out_dir);
  if (opt_.restart_failed_start) {
    SAD_CHECK(is_failed_start(opt_.out_dir), opt_.out_dir, ": not a run that failed before its first checkpoint");
    for (const auto& e : fs::directory_iterator(opt_.out_dir))
      if (e.path().filename() != ".lock") fs::remove_all(e.path());
  }
  std::ofstream(path(kRunMarker)) << "a sparsead training run\n";
  remove_stale_temps(opt_.out_dir);
  cfg_.commit = build_commit();
  cfg_.dataset_digest = data::dataset_digest(opt_.dataset.train);
  model_.config() = cfg_;
  load_images();
  model_.init(static_cast<uint64_t>(cfg_.seed));
  d_ = std::make_shared<Discriminator>(net_config(cfg_));
  Rng rd = Rng::stream(static_cast<uint64_t>(cfg_.seed), {0x44});  // 'D'
  init_parameters(*d_, rd);
  bool skip_gan = false;
  init_generator_ = opt_.init_generator;
  if (!opt_.init_generator.empty()) {
    GeneratorSource src = load_generator_source(opt_.init_generator);
    const Config& sc = src.cfg;
    SAD_CHECK(sc.image_size == cfg_.image_size && sc.width == cfg_.width && sc.channels == cfg_.channels,
              opt_.init_generator, ": its generator has S=", sc.image_size, " w=", sc.width, " C=", sc.channels,
              ", this run needs S=", cfg_.image_size, " w=", cfg_.width, " C=", cfg_.channels);
    model_.generator().load_state(src.state, opt_.init_generator);
    // Phase 1 does not run: the model file records the phase 1 its G had (info shows the
    // generator's budget and rates, not this run's unused defaults).
    cfg_.adopt_phase1(sc);
    model_.config() = cfg_;
    skip_gan = true;
  }
  model_.to(opt_.device);
  d_->to(opt_.device);
  opt_g_ = std::make_unique<Optimised>(model_.generator(), adam_config_g(cfg_));
  opt_d_ = std::make_unique<Optimised>(*d_, adam_config_d(cfg_));
  if (model_.segmenter()) opt_s_ = std::make_unique<Optimised>(*model_.segmenter(), adam_config_s(cfg_));
  guard_.flag = Tensor::zeros({1}, DType::F32, opt_.device);
  for (Optimised* o : {opt_g_.get(), opt_d_.get(), opt_s_.get()})
    if (o) o->adam->set_skip_flag(guard_.flag);

  const int64_t n = static_cast<int64_t>(train_images_.size());
  const int64_t per_epoch = n > cfg_.batch ? n / cfg_.batch : 1;  // drop_last when more than a batch
  plan_gan_ = make_plan(cfg_.planned_steps_gan(per_epoch), per_epoch, cfg_.epochs_gan >= 0);
  plan_seg_ = make_plan(cfg_.planned_steps_seg(per_epoch), per_epoch, cfg_.epochs_seg >= 0);
  result_.steps_gan = plan_gan_.total;
  result_.steps_seg = plan_seg_.total;
  if (cfg_.ema_g > 0 && !skip_gan && plan_gan_.total > 0) opt_g_->start_ema();
  if (cfg_.ema_s > 0 && opt_s_ && plan_seg_.total > 0) opt_s_->start_ema();

  int64_t phase = kPhaseGan, step = 0;
  if (opt_.resume)
    load_checkpoint(phase, step);
  else
    print_plan(skip_gan);
  skip_gan = skip_gan || !init_generator_.empty();
  if (skip_gan) result_.steps_gan = 0;  // phase 1 did not run here (the plan line says whose it was)
  if (skip_gan && phase == kPhaseGan) phase = kPhaseSeg, step = 0;
  if (phase == kPhaseGan) {
    if (step < plan_gan_.total) run_phase(kPhaseGan, step, plan_gan_);
    if (interrupted_) return result_;
    phase = kPhaseSeg, step = 0;
  }
  if (model_.segmenter() && step < plan_seg_.total) run_phase(kPhaseSeg, step, plan_seg_);
  if (interrupted_) return result_;
  finish_validation();
  result_.model_path = path("model.safetensors");
  model_.save(result_.model_path);
  write_file_atomic(path("config.json"), cfg_.to_json().dump(2) + "\n");
  // What the run cost, for scripts (scripts/eval-real.sh): steps, seconds, the alarm.
  Json summary = Json::object();
  summary.set("steps_gan", skip_gan ? int64_t{0} : plan_gan_.total);
  summary.set("steps_seg", plan_seg_.total);
  summary.set("seconds_gan", result_.seconds_gan);
  summary.set("seconds_seg", result_.seconds_seg);
  summary.set("generator_from", init_generator_);
  summary.set("alarm", result_.alarm);
  write_file_atomic(path("summary.json"), summary.dump(2) + "\n");
  result_.completed = true;
  return result_;
}

}  // namespace

TrainResult train(const TrainOptions& opt) {
  SAD_CHECK(opt.cfg.channels == 1 || opt.cfg.channels == 3, "train: channels must be set from the data");
  Trainer t(opt);
  return t.run();
}

}  // namespace sad
