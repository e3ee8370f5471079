// Training a tiny run in tests: the options every trainer test sets the same way.
#pragma once

#include <atomic>
#include <string>

#include "data/dataset.h"
#include "model/trainer.h"

namespace sad::test {

// Trains cfg (finalised) on the MVTec-layout folder ds into out, quietly; stop and resume as
// in TrainOptions.
inline TrainResult train_quietly(const std::string& ds, const std::string& out, const Config& cfg,
                                 const std::atomic<bool>* stop = nullptr, bool resume = false) {
  TrainOptions o;
  o.dataset = data::read_mvtec(ds);
  o.out_dir = out;
  o.cfg = cfg;
  o.quiet = true;
  o.stop = stop;
  o.resume = resume;
  return train(o);
}

}  // namespace sad::test
