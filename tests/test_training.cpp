// End-to-end checks of the framework: a small conv net overfits a fixed batch (the loss
// falls at least 10x), and training is deterministic: the same seed and steps give
// bit-identical parameters, whatever the CPU thread count.
#include <omp.h>

#include "layers/example_net.h"
#include "test_util.h"

using namespace sad;

TEST_CASE("training: a small conv net overfits a fixed batch (loss falls 10x)") {
  auto [losses, params] = train_fixed_batch(7, 150);
  INFO("seed 7, first loss " << losses.front() << ", last loss " << losses.back());
  CHECK(losses.back() < losses.front() / 10);
  for (double l : losses) REQUIRE(std::isfinite(l));
}

TEST_CASE("training: same seed and steps give bit-identical parameters") {
  auto a = train_fixed_batch(5, 8);
  auto b = train_fixed_batch(5, 8);
  CHECK(a.losses == b.losses);
  CHECK(a.params == b.params);
  auto c = train_fixed_batch(6, 8);
  CHECK(c.params != a.params);
}

TEST_CASE("training: results do not depend on the CPU thread count") {
  int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  auto one = train_fixed_batch(5, 4);
  omp_set_num_threads(2);
  auto two = train_fixed_batch(5, 4);
  omp_set_num_threads(saved);
  CHECK(one.losses == two.losses);
  CHECK(one.params == two.params);
}
