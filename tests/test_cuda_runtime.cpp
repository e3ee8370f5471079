// The CUDA backend's runtime pieces: device selection (runs everywhere), the checked-call
// macros' error messages (run wherever the backend is built, GPU or not), and, with a
// GPU, the caching allocator's statistics and the deterministic whole-tensor sum that
// losses and reductions build on.
#include <cmath>
#include <string>

#include "cuda_parity_util.h"
#include "kernels/ops.h"
#if SPARSEAD_HAVE_CUDA_OPS
#include "kernels/cuda/cuda_context.h"
#endif

// Selected by gpu-check.sh and compute-sanitizer as --test-suite=cuda.
TEST_SUITE_BEGIN("cuda");

using namespace sad;
using namespace sad::test;

TEST_CASE("device: resolve_device picks the CPU without a GPU and refuses cuda clearly") {
  CHECK(resolve_device("cpu") == Device::cpu());
  CHECK_THROWS_AS(resolve_device("tpu"), Error);
  if (cuda_available()) {
    CHECK(resolve_device("auto") == Device::cuda(0));
    CHECK(resolve_device("cuda") == Device::cuda(0));
  } else {
    CHECK(resolve_device("auto") == Device::cpu());
    CHECK_THROWS_WITH_AS(resolve_device("cuda"), doctest::Contains("--device cuda"), Error);
    // No backend registered: a CUDA tensor cannot be made, and says why.
    CHECK_THROWS_WITH_AS(Tensor::zeros({2}, DType::F32, Device::cuda(0)), doctest::Contains("not available"), Error);
  }
}

#if SPARSEAD_HAVE_CUDA_OPS
TEST_CASE("cuda errors: checked calls throw sad::Error naming the call / the error and file:line") {
  // The runtime and the libraries name their error codes without a GPU.
  CHECK_THROWS_WITH_AS(SAD_CUDA_CHECK(cudaErrorInvalidValue), doctest::Contains("cudaErrorInvalidValue"), Error);
  CHECK_THROWS_WITH_AS(SAD_CUBLAS_CHECK(CUBLAS_STATUS_NOT_INITIALIZED),
                       doctest::Contains("CUBLAS_STATUS_NOT_INITIALIZED"), Error);
  CHECK_THROWS_WITH_AS(SAD_CUDNN_CHECK(CUDNN_STATUS_BAD_PARAM), doctest::Contains("CUDNN_STATUS_BAD_PARAM"), Error);
  // A real call that fails everywhere (no device -1): the message holds the call as
  // written, the runtime's error name and where the check is.
  bool threw = false;
  try {
    SAD_CUDA_CHECK(cudaSetDevice(-1));
  } catch (const Error& e) {
    threw = true;
    const std::string msg = e.what();
    INFO(msg);
    CHECK(msg.find("cudaSetDevice(-1) failed: cudaError") != std::string::npos);
    CHECK(msg.find("tests/test_cuda_runtime.cpp:") != std::string::npos);
  }
  CHECK(threw);
  // With a working GPU the failed call's error was cleared and does not surface at the
  // next check (without one, initialisation errors stay: nothing CUDA runs then anyway).
  if (cuda_available()) CHECK(cudaGetLastError() == cudaSuccess);
  CHECK_NOTHROW(SAD_CUDA_CHECK(cudaSuccess));
}
TEST_CASE("cuda allocator: blocks are reused and statistics add up" * doctest::skip(!sad::cuda_available())) {
  cuda::synchronize();
  const cuda::AllocatorStats s0 = cuda::allocator_stats();
  {
    Tensor a = Tensor::empty({1000}, DType::F32, Device::cuda(0));  // 4000 B -> the 4096 B class
    const cuda::AllocatorStats s1 = cuda::allocator_stats();
    CHECK(s1.bytes_in_use == s0.bytes_in_use + 4096);
    CHECK(s1.num_allocs == s0.num_allocs + 1);
  }
  const cuda::AllocatorStats s2 = cuda::allocator_stats();
  CHECK(s2.bytes_in_use == s0.bytes_in_use);
  CHECK(s2.cached_bytes >= 4096);
  {
    Tensor b = Tensor::empty({1010}, DType::F32, Device::cuda(0));  // 4040 B: the same class, from the cache
    const cuda::AllocatorStats s3 = cuda::allocator_stats();
    CHECK(s3.num_cache_hits == s2.num_cache_hits + 1);
    CHECK(s3.num_device_mallocs == s2.num_device_mallocs);
    CHECK(s3.peak_bytes >= s3.bytes_in_use);
    // A large block rounds to 2 MiB.
    Tensor big = Tensor::empty({(3 << 20) / 4}, DType::F32, Device::cuda(0));  // 3 MiB -> 4 MiB
    CHECK(cuda::allocator_stats().bytes_in_use == s3.bytes_in_use + (size_t{4} << 20));
  }
  cuda::release_cached_memory();
  const cuda::AllocatorStats s4 = cuda::allocator_stats();
  CHECK(s4.cached_bytes == 0);
  CHECK(s4.num_releases == s2.num_releases + 1);
  cuda::reset_peak_stats();
  CHECK(cuda::allocator_stats().peak_bytes == s4.bytes_in_use);
  // Copies round-trip through the stream.
  Tensor h = random_f32({3, 5}, 7);
  CHECK(h.to(Device::cuda(0)).clone().to_vector() == h.to_vector());
}

TEST_CASE("cuda sum_all: matches a double sum and repeats bit for bit" * doctest::skip(!sad::cuda_available())) {
  // Lengths around the block and grid sizes: empty, one, one block +- 1, the grid cap.
  for (int64_t n : {int64_t{0}, int64_t{1}, int64_t{255}, int64_t{257}, int64_t{256 * 1024 + 3}, int64_t{3000017}}) {
    const uint64_t seed = 70 + static_cast<uint64_t>(n % 97);
    Tensor x = random_f32({n}, seed, -1.0, 2.0);
    double ref = 0;
    for (float v : x.to_vector()) ref += v;
    const double scale = n > 0 ? 1.0 / static_cast<double>(n) : 1.0;
    Tensor xc = x.to(cuda_device());
    GuardedCuda out({1}), again({1});
    cuda::sum_all(xc, out.view(), scale);
    cuda::sum_all(xc, again.view(), scale);
    // Double accumulation of float inputs: only the final rounding to float remains.
    check_parity(out.view(), Tensor::from_vector_f64({ref * scale}, {1}), 1e-7, 1e-6, "sum_all n=" + std::to_string(n));
    check_bitwise_equal(again.view(), out.view(), "sum_all n=" + std::to_string(n));
    out.check_guards("sum_all n=" + std::to_string(n));
  }
}
#endif

#if SPARSEAD_HAVE_CUDA_OPS
namespace {
// Free device memory of at least `bytes` (evaluated once, at registration, like cuda_available).
bool device_has(size_t bytes) {
  if (!cuda_available()) return false;
  size_t free_bytes = 0, total = 0;
  return cudaMemGetInfo(&free_bytes, &total) == cudaSuccess && free_bytes >= bytes;
}
}  // namespace

// Every element-wise kernel and the reductions index with 64 bits; no other test reaches 2^31
// elements. 2^31 + 2^20 + 7 floats (8.6 GB): fill, an in-place unary op, the whole sum, and the
// last elements read back. Skipped where the device lacks 10 GB free.
TEST_CASE("cuda 64-bit indexing: fill and unary and sum over more than 2^31 elements" *
          doctest::skip(!device_has(size_t{10} << 30))) {
  const int64_t n = (int64_t{1} << 31) + (int64_t{1} << 20) + 7;
  Tensor t = Tensor::empty({n}, DType::F32, Device::cuda(0));
  ops::fill(t, 0.5f);
  ops::unary_forward({ops::UnaryKind::Affine, 2.0f, -0.75f}, t, t);  // 0.25 everywhere
  const std::vector<float> tail = t.slice0(n - 5, n).to(Device::cpu()).to_vector();
  for (float v : tail) CHECK(v == 0.25f);
  CHECK(t.slice0(int64_t{1} << 31, (int64_t{1} << 31) + 1).to(Device::cpu()).item() == 0.25);
  Tensor sum = Tensor::empty(ops::reduce_shape({ops::ReduceKind::Sum, -1}, t.shape()), DType::F32, Device::cuda(0));
  ops::reduce_forward({ops::ReduceKind::Sum, -1}, t, sum);
  const double expected = 0.25 * static_cast<double>(n);
  INFO("sum " << sum.to(Device::cpu()).item() << ", expected " << expected);
  CHECK(std::abs(sum.to(Device::cpu()).item() - expected) <= 1e-5 * expected);
}
#endif

TEST_SUITE_END();
