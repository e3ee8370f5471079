// Devices and the interface a backend implements so that tensors can live on it.
// The tensor layer knows only this interface; the CUDA backend (kernels/cuda) registers
// an implementation at run time, so nothing here depends on CUDA.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace sad {

enum class DeviceType : uint8_t { CPU = 0, CUDA = 1 };
inline constexpr int kNumDeviceTypes = 2;

struct Device {
  DeviceType type = DeviceType::CPU;
  int index = 0;

  static constexpr Device cpu() { return {DeviceType::CPU, 0}; }
  static constexpr Device cuda(int i = 0) { return {DeviceType::CUDA, i}; }
  bool is_cpu() const { return type == DeviceType::CPU; }
  bool is_cuda() const { return type == DeviceType::CUDA; }
  bool operator==(const Device&) const = default;
  std::string str() const;
};

enum class DType : uint8_t { F32 = 0, F64 = 1 };
inline constexpr size_t dtype_size(DType t) { return t == DType::F32 ? 4 : 8; }
const char* dtype_name(DType t);

// Raw device memory. Implementations may cache (the CUDA allocator does).
class Allocator {
 public:
  virtual ~Allocator() = default;
  virtual void* allocate(size_t nbytes) = 0;
  virtual void deallocate(void* ptr, size_t nbytes) = 0;
};

// What a backend provides to the tensor layer: memory, copies in and out, zero-fill.
// Copies are synchronous with respect to the host (simple and safe; the hot paths
// never copy between devices).
struct DeviceApi {
  const char* name = "";
  Allocator* allocator = nullptr;
  void (*copy_to_host)(void* dst, const void* src, size_t nbytes) = nullptr;
  void (*copy_from_host)(void* dst, const void* src, size_t nbytes) = nullptr;
  void (*copy_on_device)(void* dst, const void* src, size_t nbytes) = nullptr;
  void (*fill_zero)(void* dst, size_t nbytes) = nullptr;
};

// Registration: the CPU backend is always present; the CUDA backend registers itself
// when kernels/ selects it (see kernels/device_select.h).
void register_device_api(DeviceType type, const DeviceApi* api);
const DeviceApi& device_api(DeviceType type);  // throws if that backend is absent
bool device_api_registered(DeviceType type);

}  // namespace sad
