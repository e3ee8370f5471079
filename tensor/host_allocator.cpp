// The CPU backend's caching allocator (tensor/host_allocator.h).
#include "tensor/host_allocator.h"

#include <bit>
#include <cstdlib>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "tensor/check.h"

namespace sad {

namespace {

constexpr size_t kAlign = 64;                   // whole cache lines for the kernels and OpenBLAS
constexpr size_t kCacheMin = size_t{64} << 10;  // smaller blocks: plain malloc

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;  // ASan must see every block's own lifetime
#else
constexpr bool kSanitized = false;
#endif

size_t cap_from_env() {
  if (kSanitized) return 0;
  const char* v = std::getenv("SPARSEAD_HOST_CACHE_MB");
  if (!v || !*v) return size_t{2048} << 20;
  char* end = nullptr;
  const long long mb = std::strtoll(v, &end, 10);
  SAD_CHECK(end && *end == '\0' && mb >= 0 && mb <= (1LL << 30),
            "SPARSEAD_HOST_CACHE_MB: expected a number of MiB >= 0, got '", v, "'");
  return static_cast<size_t>(mb) << 20;
}

void* system_alloc(size_t bytes) {
  void* p = std::aligned_alloc(kAlign, bytes);
  SAD_CHECK(p != nullptr, "out of host memory allocating ", bytes, " bytes");
  return p;
}

class CachingHostAllocator final : public Allocator {
 public:
  CachingHostAllocator() : cap_(cap_from_env()) {}

  void* allocate(size_t nbytes) override {
    if (cap_ == 0 || nbytes < kCacheMin) return system_alloc(nbytes == 0 ? kAlign : host_size_class(nbytes));
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
    if (cap_ == 0 || nbytes < kCacheMin) return std::free(ptr);
    const size_t cls = host_size_class(nbytes);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (cached_ + cls <= cap_) {
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
    std::lock_guard<std::mutex> lock(mu_);
    return {cap_ > 0, cap_, cached_, hits_, misses_};
  }

 private:
  const size_t cap_;
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

size_t host_size_class(size_t nbytes) {
  if (nbytes < kCacheMin) return (nbytes + kAlign - 1) / kAlign * kAlign;
  const size_t step = std::bit_floor(nbytes) / 8;  // >= 8 KiB, a multiple of kAlign
  return (nbytes + step - 1) / step * step;
}

Allocator& host_allocator() { return the_allocator(); }
HostCacheStats host_cache_stats() { return the_allocator().stats(); }
void host_cache_release() { the_allocator().release(); }

}  // namespace sad
