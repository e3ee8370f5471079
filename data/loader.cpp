// BatchLoader (see loader.h): a single producer thread and a bounded queue. The producer
// makes batches with the same function the foreground mode calls, in the same order, so
// the two modes cannot disagree.
#include "data/loader.h"

#include <atomic>
#include <cstring>
#include <numeric>
#include <system_error>

#include "data/dataset.h"
#include "tensor/rng.h"

namespace sad::data {

BatchLoader::BatchLoader(int64_t num_items, SampleFn fn, LoaderOptions options)
    : num_items_(num_items), fn_(std::move(fn)), opt_(options) {
  SAD_CHECK(num_items_ > 0, "BatchLoader: no items");
  SAD_CHECK(fn_ != nullptr, "BatchLoader: no sample function");
  SAD_CHECK(opt_.batch_size > 0, "BatchLoader: batch_size must be positive, got ", opt_.batch_size);
  SAD_CHECK(opt_.prefetch >= 1, "BatchLoader: prefetch must be >= 1, got ", opt_.prefetch);
  SAD_CHECK(opt_.workers >= 1, "BatchLoader: workers must be >= 1, got ", opt_.workers);
  SAD_CHECK(!opt_.drop_last || num_items_ >= opt_.batch_size, "BatchLoader: drop_last with ", num_items_,
            " items and batch size ", opt_.batch_size, " leaves no batch");
}

BatchLoader::~BatchLoader() { stop_producer(); }

int64_t BatchLoader::num_batches() const {
  return opt_.drop_last ? num_items_ / opt_.batch_size : (num_items_ + opt_.batch_size - 1) / opt_.batch_size;
}

std::vector<int64_t> BatchLoader::epoch_order(int64_t epoch) const {
  std::vector<int64_t> order(static_cast<size_t>(num_items_));
  std::iota(order.begin(), order.end(), 0);
  if (opt_.shuffle) {
    Rng rng = Rng::stream(opt_.seed, {kStreamShuffle, static_cast<uint64_t>(epoch)});
    for (int64_t i = num_items_ - 1; i > 0; --i)  // Fisher-Yates
      std::swap(order[static_cast<size_t>(i)], order[rng.below(static_cast<uint64_t>(i + 1))]);
  }
  return order;
}

Batch BatchLoader::make_batch(int64_t b) const {
  const int64_t begin = b * opt_.batch_size;
  const int64_t end = std::min(num_items_, begin + opt_.batch_size);
  const int64_t n = end - begin;
  Batch batch;
  batch.epoch = epoch_;
  batch.batch_index = b;
  batch.indices.assign(order_.begin() + begin, order_.begin() + end);

  // Items are independent (their randomness depends on (epoch, index) only), so workers
  // may compute them in any order; the first error in batch order is the one reported.
  // Plain threads rather than OpenMP: the sample function may itself use OpenMP (resize),
  // and ThreadSanitizer can check std::thread synchronisation but not libgomp's.
  std::vector<Sample> samples(static_cast<size_t>(n));
  std::vector<std::exception_ptr> errors(static_cast<size_t>(n));
  std::atomic<int64_t> next_item{0};
  auto work = [&] {
    for (int64_t i; (i = next_item++) < n;) {
      try {
        samples[static_cast<size_t>(i)] = fn_(batch.indices[static_cast<size_t>(i)], epoch_);
      } catch (...) {
        errors[static_cast<size_t>(i)] = std::current_exception();
      }
    }
  };
  std::vector<std::thread> helpers;
  for (int w = 1; w < std::min<int64_t>(opt_.workers, n); ++w) {
    try {
      helpers.emplace_back(work);
    } catch (const std::system_error&) {
      break;  // no more threads available: the ones we have (and this one) do all the items
    }
  }
  work();
  for (std::thread& t : helpers) t.join();
  for (const auto& e : errors)
    if (e) std::rethrow_exception(e);

  const Sample& first = samples[0];
  SAD_CHECK(!first.empty(), "BatchLoader: item ", batch.indices[0], " produced no fields");
  for (size_t f = 0; f < first.size(); ++f) {
    const Tensor& t0 = first[f];
    SAD_CHECK(t0.defined() && t0.dtype() == DType::F32 && t0.device().is_cpu(), "BatchLoader: field ", f, " of item ",
              batch.indices[0], " must be a float32 CPU tensor");
    Shape shape{n};
    shape.insert(shape.end(), t0.shape().begin(), t0.shape().end());
    Tensor out = Tensor::empty(shape);
    for (int64_t i = 0; i < n; ++i) {
      const Sample& s = samples[static_cast<size_t>(i)];
      SAD_CHECK(s.size() == first.size(), "BatchLoader: item ", batch.indices[static_cast<size_t>(i)], " produced ",
                s.size(), " fields, item ", batch.indices[0], " produced ", first.size());
      const Tensor& t = s[f];
      SAD_CHECK(t.defined() && t.dtype() == DType::F32 && t.device().is_cpu() && t.shape() == t0.shape(),
                "BatchLoader: field ", f, " of item ", batch.indices[static_cast<size_t>(i)], " is ",
                t.defined() ? t.str() : "undefined", ", item ", batch.indices[0], " gave ", t0.str());
      std::memcpy(out.data<float>() + i * t0.numel(), t.data<float>(), t0.nbytes());
    }
    batch.fields.push_back(std::move(out));
  }
  return batch;
}

void BatchLoader::produce() {
  const int64_t nb = num_batches();
  for (int64_t b = next_batch_; b <= nb; ++b) {
    Entry e;
    if (b < nb) {
      try {
        e.batch = make_batch(b);
      } catch (...) {
        e.error = std::current_exception();
      }
    }
    std::unique_lock<std::mutex> lock(mu_);
    not_full_.wait(lock, [&] { return stop_ || static_cast<int>(queue_.size()) < opt_.prefetch; });
    if (stop_) return;
    const bool last = b == nb || e.error;
    queue_.push_back(std::move(e));
    not_empty_.notify_one();
    if (last) return;
  }
}

void BatchLoader::stop_producer() {
  if (thread_.joinable()) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    not_full_.notify_all();
    thread_.join();
  }
  queue_.clear();
  stop_ = false;
}

void BatchLoader::start_epoch(int64_t epoch, int64_t first_batch) {
  SAD_CHECK(epoch >= 0, "BatchLoader: epoch must be >= 0, got ", epoch);
  SAD_CHECK(first_batch >= 0 && first_batch <= num_batches(), "BatchLoader: first batch ", first_batch, " outside [0, ",
            num_batches(), "]");
  stop_producer();
  epoch_ = epoch;
  order_ = epoch_order(epoch);
  next_batch_ = first_batch;
  finished_ = false;
  if (opt_.background) thread_ = std::thread([this] { produce(); });
}

std::optional<Batch> BatchLoader::next() {
  SAD_CHECK(epoch_ >= 0, "BatchLoader: next() before start_epoch()");
  if (finished_) return std::nullopt;
  if (!opt_.background) {
    if (next_batch_ >= num_batches()) {
      finished_ = true;
      return std::nullopt;
    }
    try {
      return make_batch(next_batch_++);
    } catch (...) {
      finished_ = true;
      throw;
    }
  }
  Entry e;
  {
    std::unique_lock<std::mutex> lock(mu_);
    not_empty_.wait(lock, [&] { return !queue_.empty(); });
    e = std::move(queue_.front());
    queue_.pop_front();
  }
  not_full_.notify_one();
  if (e.error) {
    finished_ = true;
    std::rethrow_exception(e.error);
  }
  if (!e.batch) finished_ = true;
  return std::move(e.batch);
}

}  // namespace sad::data
