// Tensor: a float32 (or, on the CPU, float64) NCHW array, contiguous, on one device.
// Storage is shared between a tensor and its views (reshape, batch slices, arena
// slices); a view is always a contiguous run of its storage, so every kernel sees a
// plain pointer plus a shape. float64 exists for the double-precision gradient
// checks of the CPU reference; the CUDA backend is float32 only.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "tensor/check.h"
#include "tensor/device.h"

namespace sad {

using Shape = std::vector<int64_t>;
std::string shape_str(const Shape& s);  // "(2, 3, 4)"
int64_t shape_numel(const Shape& s);

// Move-only owner of one device allocation.
class Storage {
 public:
  Storage(size_t nbytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  Storage(Storage&&) = delete;
  Storage& operator=(Storage&&) = delete;

  void* data() const { return ptr_; }
  size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }

 private:
  void* ptr_ = nullptr;
  size_t nbytes_ = 0;
  Device device_;
};

class Tensor {
 public:
  Tensor() = default;  // undefined: defined() is false

  static Tensor empty(const Shape& shape, DType dtype = DType::F32, Device device = Device::cpu());
  static Tensor zeros(const Shape& shape, DType dtype = DType::F32, Device device = Device::cpu());
  static Tensor full(const Shape& shape, double value, DType dtype = DType::F32, Device device = Device::cpu());
  // From host values (converted to dtype), placed on device.
  static Tensor from_vector(const std::vector<float>& values, const Shape& shape, DType dtype = DType::F32,
                            Device device = Device::cpu());
  static Tensor from_vector_f64(const std::vector<double>& values, const Shape& shape, DType dtype = DType::F64,
                                Device device = Device::cpu());
  static Tensor scalar(double value, DType dtype = DType::F32, Device device = Device::cpu()) {
    return full({1}, value, dtype, device);
  }

  bool defined() const { return storage_ != nullptr; }
  const Shape& shape() const { return shape_; }
  int ndim() const { return static_cast<int>(shape_.size()); }
  int64_t dim(int i) const;  // negative i counts from the end
  int64_t numel() const { return numel_; }
  size_t nbytes() const { return static_cast<size_t>(numel_) * dtype_size(dtype_); }
  DType dtype() const { return dtype_; }
  Device device() const;
  bool same_shape(const Tensor& o) const { return shape_ == o.shape_; }
  std::string str() const;  // "F32(2, 3) on cpu"

  // Raw pointer to the first element (host or device memory). The typed accessors
  // check that T matches the dtype.
  void* raw() const;
  template <typename T>
  T* data() const;

  // Views sharing storage.
  Tensor reshape(const Shape& shape) const;
  Tensor slice0(int64_t begin, int64_t end) const;           // rows [begin, end) of dim 0
  Tensor view_at(int64_t offset, const Shape& shape) const;  // elements [offset, offset + numel)

  // Copies.
  Tensor clone() const;
  Tensor to(Device device) const;     // same tensor if already there
  Tensor to(DType dtype) const;       // CPU only; same tensor if already that dtype
  void copy_from(const Tensor& src);  // same shape and dtype, any devices
  void zero_();

  // Host access for tests, IO and printing (copies from the device if needed).
  std::vector<float> to_vector() const;
  std::vector<double> to_vector_f64() const;
  double item() const;  // a one-element tensor's value

  const std::shared_ptr<Storage>& storage() const { return storage_; }
  int64_t offset() const { return offset_; }

 private:
  std::shared_ptr<Storage> storage_;
  int64_t offset_ = 0;  // in elements
  int64_t numel_ = 0;
  Shape shape_;
  DType dtype_ = DType::F32;
};

// A new, uninitialised tensor with t's shape, dtype and device.
inline Tensor empty_like(const Tensor& t) { return Tensor::empty(t.shape(), t.dtype(), t.device()); }
inline Tensor zeros_like(const Tensor& t) { return Tensor::zeros(t.shape(), t.dtype(), t.device()); }

template <>
inline float* Tensor::data<float>() const {
  SAD_CHECK(dtype_ == DType::F32, "tensor ", str(), " accessed as float32");
  return static_cast<float*>(raw());
}
template <>
inline double* Tensor::data<double>() const {
  SAD_CHECK(dtype_ == DType::F64, "tensor ", str(), " accessed as float64");
  return static_cast<double*>(raw());
}

}  // namespace sad
