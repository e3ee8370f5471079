// The caching device allocator and the CUDA DeviceApi (tensor/device.h).
//
// cudaMalloc/cudaFree are slow and cudaFree synchronises the device, so freed blocks
// are kept in per-size-class free lists and handed out again. Size classes: requests
// up to 1 MiB round up to a multiple of 512 B, larger ones to a multiple of 2 MiB; a
// block is reused only for the same class (no splitting, so no fragmentation
// bookkeeping; the rounding bounds the waste at 2 MiB per large block). Because all
// work runs on one stream, a block freed on the host while kernels that use it are
// still queued can be handed out at once: the next user's work is queued after them.
// On cudaMalloc failure the cache is released (after a stream synchronisation) and the
// allocation retried once.
//
// SPARSEAD_CUDA_NO_CACHE=1 (set by gpu-check.sh for compute-sanitizer) bypasses the cache:
// every tensor gets a cudaMalloc of exactly its size and is freed with cudaFree at once,
// so memcheck sees a write past a tensor's end (the rounding would hide it) and a use
// after free (reuse would hide it).
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "kernels/cuda/cuda_context.h"
#include "kernels/cuda/cuda_ops.h"

namespace sad::cuda {

namespace {

constexpr size_t kSmallLimit = size_t{1} << 20;  // 1 MiB
constexpr size_t kSmallGrain = 512;
constexpr size_t kLargeGrain = size_t{2} << 20;  // 2 MiB

size_t size_class(size_t nbytes) {
  if (nbytes == 0) nbytes = 1;  // a real, distinct pointer even for empty tensors
  size_t grain = nbytes <= kSmallLimit ? kSmallGrain : kLargeGrain;
  return (nbytes + grain - 1) / grain * grain;
}

bool cache_bypassed() {
  static const bool bypass = [] {
    const char* v = std::getenv("SPARSEAD_CUDA_NO_CACHE");
    return v && std::string(v) == "1";
  }();
  return bypass;
}

class CachingAllocator final : public Allocator {
 public:
  void* allocate(size_t nbytes) override {
    const size_t size = size_class(nbytes);
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.num_allocs;
    void* p = nullptr;
    auto it = free_.find(size);
    if (bypass_) {
      p = device_malloc(nbytes == 0 ? 1 : nbytes);
    } else if (it != free_.end() && !it->second.empty()) {
      p = it->second.back();
      it->second.pop_back();
      stats_.cached_bytes -= size;
      ++stats_.num_cache_hits;
    } else {
      p = device_malloc(size);
    }
    live_.emplace(p, size);
    stats_.bytes_in_use += size;
    if (stats_.bytes_in_use > stats_.peak_bytes) stats_.peak_bytes = stats_.bytes_in_use;
    return p;
  }

  void deallocate(void* ptr, size_t nbytes) override {
    if (!ptr) return;
    std::lock_guard<std::mutex> lock(mu_);
    auto it = live_.find(ptr);
    if (it == live_.end() || it->second != size_class(nbytes)) {
      // Called from destructors (noexcept): a foreign or double free is memory
      // corruption, and continuing would hand the block out twice.
      std::fprintf(stderr, "sparsead: cuda allocator: free of unknown block %p (%zu bytes)\n", ptr, nbytes);
      std::abort();
    }
    const size_t size = it->second;
    live_.erase(it);
    stats_.bytes_in_use -= size;
    if (bypass_) {
      // Queued kernels may still use the block: cudaFree waits for the device.
      const cudaError_t err = cudaFree(ptr);
      if (err != cudaSuccess && err != cudaErrorCudartUnloading) {
        std::fprintf(stderr, "sparsead: cuda allocator: cudaFree failed: %s\n", cudaGetErrorString(err));
        std::abort();
      }
      return;
    }
    free_[size].push_back(ptr);
    stats_.cached_bytes += size;
  }

  void release_cached() {
    std::lock_guard<std::mutex> lock(mu_);
    release_cached_locked();
  }

  AllocatorStats stats() {
    std::lock_guard<std::mutex> lock(mu_);
    return stats_;
  }

  void reset_peak() {
    std::lock_guard<std::mutex> lock(mu_);
    stats_.peak_bytes = stats_.bytes_in_use;
  }

 private:
  void* device_malloc(size_t size) {
    void* p = nullptr;
    cudaError_t err = cudaMalloc(&p, size);
    if (err == cudaErrorMemoryAllocation) {
      (void)cudaGetLastError();
      release_cached_locked();
      err = cudaMalloc(&p, size);
      if (err == cudaErrorMemoryAllocation) {
        (void)cudaGetLastError();
        SAD_FAIL("cuda: out of device memory allocating ", size, " bytes (", stats_.bytes_in_use,
                 " bytes in use by tensors, peak ", stats_.peak_bytes, "; the cache was released and the ",
                 "allocation retried)");
      }
    }
    if (err != cudaSuccess) detail::fail_cuda(err, "cudaMalloc", __FILE__, __LINE__);
    ++stats_.num_device_mallocs;
    return p;
  }

  void release_cached_locked() {
    if (stats_.cached_bytes == 0) return;
    // Queued kernels may still use blocks freed on the host; let them finish first.
    SAD_CUDA_CHECK(cudaStreamSynchronize(stream()));
    for (auto& [size, blocks] : free_) {
      for (void* p : blocks) SAD_CUDA_CHECK(cudaFree(p));
      stats_.cached_bytes -= size * blocks.size();
      blocks.clear();
    }
    ++stats_.num_releases;
  }

  const bool bypass_ = cache_bypassed();
  std::mutex mu_;
  std::unordered_map<size_t, std::vector<void*>> free_;  // size class -> cached blocks
  std::unordered_map<void*, size_t> live_;               // block in use -> its size class
  AllocatorStats stats_;
};

// Never destroyed: tensors held in static objects may be freed after the CUDA runtime
// has shut down at exit, and freeing into a live cache is harmless; the driver
// reclaims everything when the process ends.
CachingAllocator& allocator() {
  static CachingAllocator* a = new CachingAllocator;
  return *a;
}

// Host <-> device copies wait for completion: the host buffer may be a temporary, and
// the caller reads the result at once. Device-side copies and fills are only queued on
// the stream: every later op and every copy to the host is ordered after them, so no
// observer can tell the difference, and the training loop never stalls on them.
void copy_to_host(void* dst, const void* src, size_t nbytes) {
  if (nbytes == 0) return;
  SAD_CUDA_CHECK(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyDeviceToHost, stream()));
  SAD_CUDA_CHECK(cudaStreamSynchronize(stream()));
}

void copy_from_host(void* dst, const void* src, size_t nbytes) {
  if (nbytes == 0) return;
  SAD_CUDA_CHECK(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyHostToDevice, stream()));
  SAD_CUDA_CHECK(cudaStreamSynchronize(stream()));
}

void copy_on_device(void* dst, const void* src, size_t nbytes) {
  if (nbytes == 0 || dst == src) return;
  SAD_CUDA_CHECK(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyDeviceToDevice, stream()));
}

void fill_zero(void* dst, size_t nbytes) {
  if (nbytes == 0) return;
  SAD_CUDA_CHECK(cudaMemsetAsync(dst, 0, nbytes, stream()));
}

}  // namespace

const DeviceApi* detail::device_api_impl() {
  static const DeviceApi api{"cuda", &allocator(), copy_to_host, copy_from_host, copy_on_device, fill_zero};
  return &api;
}

AllocatorStats allocator_stats() { return allocator().stats(); }
void reset_peak_stats() { allocator().reset_peak(); }
void release_cached_memory() { allocator().release_cached(); }

DeviceBuffer::DeviceBuffer(size_t nbytes) : ptr_(allocator().allocate(nbytes)), nbytes_(nbytes) {}

DeviceBuffer::~DeviceBuffer() {
  if (ptr_) allocator().deallocate(ptr_, nbytes_);
}

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& o) noexcept {
  if (this != &o) {
    if (ptr_) allocator().deallocate(ptr_, nbytes_);
    ptr_ = o.ptr_;
    nbytes_ = o.nbytes_;
    o.ptr_ = nullptr;
    o.nbytes_ = 0;
  }
  return *this;
}

}  // namespace sad::cuda
