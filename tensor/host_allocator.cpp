// The CPU backend's caching allocator (tensor/host_allocator.h).
#include "tensor/host_allocator.h"

#include <atomic>
#include <bit>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "tensor/check.h"
#include "tensor/text.h"

namespace sad {

namespace {

constexpr size_t kAlign = 64;                   // whole cache lines for the kernels and OpenBLAS
constexpr size_t kCacheMin = size_t{64} << 10;  // smaller blocks: plain malloc

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;  // ASan must see every block's own lifetime
#else
constexpr bool kSanitized = false;
#endif

size_t cap_from_env() { return kSanitized ? 0 : host_cache_cap_bytes(std::getenv("SPARSEAD_HOST_CACHE_MB")); }

void* system_alloc(size_t bytes) {
  void* p = std::aligned_alloc(kAlign, bytes);
  SAD_CHECK(p != nullptr, "out of host memory allocating ", bytes, " bytes");
  return p;
}

class CachingHostAllocator final : public Allocator {
 public:
  void* allocate(size_t nbytes) override {
    if (nbytes < kCacheMin || cap() == 0) return system_alloc(nbytes == 0 ? kAlign : host_size_class(nbytes));
    const size_t cls = host_size_class(nbytes);
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = free_.find(cls);
      if (it != free_.end() && !it->second.empty()) {
        void* p = it->second.back();
        it->second.pop_back();
        cached_ -= cls;
        ++hits_;
        return p;
      }
      ++misses_;
    }
    return system_alloc(cls);
  }

  void deallocate(void* ptr, size_t nbytes) override {
    if (!ptr) return;
    if (nbytes < kCacheMin || cap() == 0) return std::free(ptr);
    const size_t cls = host_size_class(nbytes);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (cached_ + cls <= cap()) {
        free_[cls].push_back(ptr);
        cached_ += cls;
        return;
      }
    }
    std::free(ptr);
  }

  void release() {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [cls, blocks] : free_)
      for (void* p : blocks) std::free(p);
    free_.clear();
    cached_ = 0;
  }

  HostCacheStats stats() {
    const size_t c = cap();
    std::lock_guard<std::mutex> lock(mu_);
    return {c > 0, c, cached_, hits_, misses_};
  }

  // SPARSEAD_HOST_CACHE_MB, read at the first large block rather than when the allocator is
  // built (during static initialisation, where a bad value could only terminate): a bad value
  // is then a sad::Error like any other, and is raised again until it is fixed.
  size_t cap() {
    int64_t c = cap_.load(std::memory_order_relaxed);
    if (c < 0) {
      c = static_cast<int64_t>(cap_from_env());
      cap_.store(c, std::memory_order_relaxed);
    }
    return static_cast<size_t>(c);
  }

 private:
  std::atomic<int64_t> cap_{-1};  // -1: not read yet
  std::mutex mu_;
  std::unordered_map<size_t, std::vector<void*>> free_;  // size class -> free blocks, last freed last
  size_t cached_ = 0;
  int64_t hits_ = 0, misses_ = 0;
};

// Built on first use (the environment is read then) and never destroyed: a tensor held by
// a static object may be freed after every other static is gone.
CachingHostAllocator& the_allocator() {
  static CachingHostAllocator* a = new CachingHostAllocator;
  return *a;
}

}  // namespace

size_t host_cache_cap_bytes(const char* value) {
  if (!value || !*value) return size_t{2048} << 20;
  const std::optional<int64_t> mb = parse_int64(value);
  SAD_CHECK(mb && *mb >= 0 && *mb <= (int64_t{1} << 30), "SPARSEAD_HOST_CACHE_MB='", value,
            "' is not a number of MiB in [0, 2^30]");
  return static_cast<size_t>(*mb) << 20;
}

size_t host_size_class(size_t nbytes) {
  if (nbytes < kCacheMin) return (nbytes + kAlign - 1) / kAlign * kAlign;
  const size_t step = std::bit_floor(nbytes) / 8;  // >= 8 KiB, a multiple of kAlign
  return (nbytes + step - 1) / step * step;
}

Allocator& host_allocator() { return the_allocator(); }
HostCacheStats host_cache_stats() { return the_allocator().stats(); }
void host_cache_release() { the_allocator().release(); }

}  // namespace sad
