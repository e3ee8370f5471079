// The batch loader: turns a list of items into batches for one epoch at a time, in an
// order fixed by (seed, epoch), optionally on a background thread with a bounded prefetch
// queue so that decoding and perturbation overlap the training step.
//
// Determinism: the per-item transform gets (item index, epoch) and must draw its
// randomness from Rng::stream(seed, {purpose, epoch, index}); the epoch's order comes from
// Rng::stream(seed, {kStreamShuffle, epoch}). Nothing depends on timing or threads, so the
// batches are identical with or without the background thread and for any worker count.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "tensor/tensor.h"

namespace sad::data {

// One item's sample: a fixed number of fields (e.g. x~ (C, S, S), m (1, S, S), y (1)),
// each of the same shape for every item.
using Sample = std::vector<Tensor>;
using SampleFn = std::function<Sample(int64_t item_index, int64_t epoch)>;

struct Batch {
  std::vector<Tensor> fields;    // field k stacked: (B, ...shape of field k), float32 CPU
  std::vector<int64_t> indices;  // the item indices, in batch order
  int64_t epoch = 0;
  int64_t batch_index = 0;  // position within the epoch
};

struct LoaderOptions {
  int64_t batch_size = 16;
  bool shuffle = true;     // seeded per epoch
  bool drop_last = false;  // drop a final partial batch
  uint64_t seed = 0;
  bool background = true;  // produce batches on a background thread
  int prefetch = 2;        // batches the background thread may run ahead (>= 1)
  int workers = 1;         // threads computing the items of one batch (the SampleFn must be thread-safe if > 1)
};

class BatchLoader {
 public:
  BatchLoader(int64_t num_items, SampleFn fn, LoaderOptions options);
  ~BatchLoader();  // stops and joins the background thread
  BatchLoader(const BatchLoader&) = delete;
  BatchLoader& operator=(const BatchLoader&) = delete;

  int64_t num_items() const { return num_items_; }
  int64_t num_batches() const;
  // The item indices of an epoch in visiting order (a seeded permutation, or 0..n-1).
  std::vector<int64_t> epoch_order(int64_t epoch) const;

  // Starts producing an epoch's batches from batch `first_batch` on (abandoning any epoch in
  // progress); a resumed run starts inside an epoch without making the batches it skips.
  void start_epoch(int64_t epoch, int64_t first_batch = 0);
  // The next batch of the current epoch, or nullopt at its end. An exception thrown by
  // the SampleFn is rethrown here, in the consumer's thread, in batch order.
  std::optional<Batch> next();

 private:
  struct Entry {
    std::optional<Batch> batch;  // nullopt with no error: end of epoch
    std::exception_ptr error;
  };

  Batch make_batch(int64_t b) const;
  void produce();
  void stop_producer();

  int64_t num_items_;
  SampleFn fn_;
  LoaderOptions opt_;

  int64_t epoch_ = -1;
  std::vector<int64_t> order_;
  int64_t next_batch_ = 0;  // the next batch to make
  bool finished_ = true;

  std::thread thread_;
  std::mutex mu_;
  std::condition_variable not_empty_, not_full_;
  std::deque<Entry> queue_;
  bool stop_ = false;
};

}  // namespace sad::data
