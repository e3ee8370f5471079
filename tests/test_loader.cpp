// The batch loader: identical batches with and without the background thread and for
// any worker count, seeded per-epoch order, exceptions delivered to the consumer in
// batch order, bounded prefetch and clean shutdown mid-epoch.
#include <atomic>
#include <chrono>
#include <set>
#include <thread>

#include "data/dataset.h"
#include "data/loader.h"
#include "test_util.h"

using namespace sad;
using namespace sad::data;

namespace {

constexpr uint64_t kSeed = 77;

// A sample whose values depend only on (index, epoch) through the seeded stream, like a
// real perturbation: field 0 is (2, 3) random values, field 1 is (1) the index.
Sample make_sample(int64_t index, int64_t epoch) {
  Rng rng = Rng::stream(kSeed, {kStreamPerturb, static_cast<uint64_t>(epoch), static_cast<uint64_t>(index)});
  std::vector<float> v(6);
  for (float& x : v) x = static_cast<float>(rng.uniform());
  return {Tensor::from_vector(v, {2, 3}), Tensor::from_vector({static_cast<float>(index)}, {1})};
}

std::vector<Batch> run_epoch(BatchLoader& loader, int64_t epoch) {
  loader.start_epoch(epoch);
  std::vector<Batch> out;
  while (auto b = loader.next()) out.push_back(std::move(*b));
  CHECK_FALSE(loader.next().has_value());  // stays at the end
  return out;
}

void check_same(const std::vector<Batch>& a, const std::vector<Batch>& b, const std::string& what) {
  REQUIRE_MESSAGE(a.size() == b.size(), what);
  for (size_t i = 0; i < a.size(); ++i) {
    CHECK_MESSAGE(a[i].indices == b[i].indices, what << " batch " << i);
    CHECK(a[i].batch_index == b[i].batch_index);
    REQUIRE(a[i].fields.size() == b[i].fields.size());
    for (size_t f = 0; f < a[i].fields.size(); ++f) {
      CHECK(a[i].fields[f].shape() == b[i].fields[f].shape());
      CHECK_MESSAGE(a[i].fields[f].to_vector() == b[i].fields[f].to_vector(), what << " batch " << i << " field " << f);
    }
  }
}

}  // namespace

TEST_CASE("BatchLoader: same batches with and without the background thread") {
  LoaderOptions fg;
  fg.batch_size = 4;
  fg.seed = kSeed;
  fg.background = false;
  LoaderOptions bg = fg;
  bg.background = true;
  bg.prefetch = 1;
  LoaderOptions par = bg;
  par.workers = 3;
  par.prefetch = 3;
  BatchLoader a(11, make_sample, fg), b(11, make_sample, bg), c(11, make_sample, par);
  CHECK(a.num_batches() == 3);  // 4 + 4 + 3
  for (int64_t epoch : {0, 1, 5}) {
    std::vector<Batch> ea = run_epoch(a, epoch);
    check_same(ea, run_epoch(b, epoch), "background");
    check_same(ea, run_epoch(c, epoch), "3 workers");
    REQUIRE(ea.size() == 3);
    CHECK(ea[0].fields[0].shape() == Shape{4, 2, 3});
    CHECK(ea[2].fields[1].shape() == Shape{3, 1});
    CHECK(ea[2].epoch == epoch);
    // Every item once per epoch, and the stacked values are the item's own sample.
    std::set<int64_t> seen;
    for (const Batch& bt : ea)
      for (size_t i = 0; i < bt.indices.size(); ++i) {
        seen.insert(bt.indices[i]);
        CHECK(bt.fields[1].to_vector()[i] == static_cast<float>(bt.indices[i]));
        const auto expect = make_sample(bt.indices[i], epoch)[0].to_vector();
        const auto got = bt.fields[0].to_vector();
        CHECK(std::vector<float>(got.begin() + i * 6, got.begin() + (i + 1) * 6) == expect);
      }
    CHECK(seen.size() == 11);
  }
  // The shuffle is seeded per epoch: epochs differ, a replay of an epoch does not.
  CHECK(a.epoch_order(0) != a.epoch_order(1));
  CHECK(a.epoch_order(3) == b.epoch_order(3));
  LoaderOptions plain = fg;
  plain.shuffle = false;
  plain.drop_last = true;
  BatchLoader d(11, make_sample, plain);
  CHECK(d.num_batches() == 2);
  std::vector<Batch> ed = run_epoch(d, 0);
  REQUIRE(ed.size() == 2);
  CHECK(ed[1].indices == std::vector<int64_t>{4, 5, 6, 7});
}

TEST_CASE("BatchLoader: an exception in the sample function reaches the consumer in order") {
  auto failing = [](int64_t index, int64_t epoch) -> Sample {
    if (index == 6) throw Error("bad image 6");
    return make_sample(index, epoch);
  };
  for (bool background : {false, true}) {
    for (int workers : {1, 2}) {
      LoaderOptions opt;
      opt.batch_size = 3;
      opt.shuffle = false;
      opt.background = background;
      opt.workers = workers;
      BatchLoader loader(10, failing, opt);
      loader.start_epoch(0);
      CHECK(loader.next().has_value());  // items 0..2
      CHECK(loader.next().has_value());  // items 3..5
      CHECK_THROWS_WITH_AS(loader.next(), "bad image 6", Error);
      CHECK_FALSE(loader.next().has_value());  // the epoch ended with the error
      // A new epoch starts cleanly after an error.
      loader.start_epoch(1);
      CHECK(loader.next().has_value());
    }
  }
  // A sample of the wrong shape is an error naming the item.
  auto ragged = [](int64_t index, int64_t) -> Sample { return {Tensor::zeros({index == 2 ? 3 : 2})}; };
  LoaderOptions opt;
  opt.shuffle = false;
  opt.batch_size = 4;
  BatchLoader loader(4, ragged, opt);
  loader.start_epoch(0);
  CHECK_THROWS_WITH_AS(loader.next(), doctest::Contains("field 0 of item 2"), Error);
}

TEST_CASE("BatchLoader: bounded prefetch and clean shutdown mid-epoch") {
  std::atomic<int> calls{0};
  auto counted = [&](int64_t index, int64_t epoch) {
    ++calls;
    return make_sample(index, epoch);
  };
  LoaderOptions opt;
  opt.batch_size = 2;
  opt.prefetch = 2;
  {
    BatchLoader loader(40, counted, opt);
    loader.start_epoch(0);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    // At most `prefetch` batches queued plus one made and waiting for room.
    CHECK(calls.load() <= (opt.prefetch + 1) * 2);
    auto b = loader.next();
    REQUIRE(b.has_value());
    // Restarting mid-epoch abandons the rest and replays from the start.
    loader.start_epoch(0);
    auto again = loader.next();
    REQUIRE(again.has_value());
    CHECK(again->indices == b->indices);
  }  // destroyed with the producer blocked on a full queue: must join, not hang
  CHECK(calls.load() < 40);

  BatchLoader unstarted(3, make_sample, opt);
  CHECK_THROWS_WITH_AS(unstarted.next(), doctest::Contains("before start_epoch"), Error);
  CHECK_THROWS_AS(BatchLoader(0, make_sample, opt), Error);
  LoaderOptions bad = opt;
  bad.batch_size = 0;
  CHECK_THROWS_AS(BatchLoader(3, make_sample, bad), Error);
}
