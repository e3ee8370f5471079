// Tensor, Storage and the device registry; the CPU backend's memory functions.
#include "tensor/tensor.h"

#include <cstdlib>
#include <cstring>
#include <sstream>

#include "tensor/host_allocator.h"

namespace sad {

// ---- Devices ------------------------------------------------------------------------------

std::string Device::str() const { return is_cpu() ? std::string("cpu") : "cuda:" + std::to_string(index); }

const char* dtype_name(DType t) { return t == DType::F32 ? "F32" : "F64"; }

namespace {

void cpu_copy(void* dst, const void* src, size_t n) {
  if (n) std::memcpy(dst, src, n);
}
void cpu_zero(void* dst, size_t n) {
  if (n) std::memset(dst, 0, n);
}

const DeviceApi g_cpu_api{"cpu", &host_allocator(), cpu_copy, cpu_copy, cpu_copy, cpu_zero};
const DeviceApi* g_apis[kNumDeviceTypes] = {&g_cpu_api, nullptr};

}  // namespace

void register_device_api(DeviceType type, const DeviceApi* api) { g_apis[static_cast<int>(type)] = api; }

bool device_api_registered(DeviceType type) { return g_apis[static_cast<int>(type)] != nullptr; }

const DeviceApi& device_api(DeviceType type) {
  const DeviceApi* api = g_apis[static_cast<int>(type)];
  SAD_CHECK(api != nullptr, "device backend '", type == DeviceType::CUDA ? "cuda" : "cpu",
            "' is not available (not built, no GPU, or not selected through resolve_device)");
  return *api;
}

// ---- Storage -------------------------------------------------------------------------------

Storage::Storage(size_t nbytes, Device device) : nbytes_(nbytes), device_(device) {
  ptr_ = device_api(device.type).allocator->allocate(nbytes);
}

Storage::~Storage() {
  if (ptr_) device_api(device_.type).allocator->deallocate(ptr_, nbytes_);
}

// ---- Shapes --------------------------------------------------------------------------------

std::string shape_str(const Shape& s) {
  std::ostringstream os;
  os << "(";
  for (size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
  os << ")";
  return os.str();
}

int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) {
    SAD_CHECK(d >= 0, "negative dimension in shape ", shape_str(s));
    n *= d;
  }
  return n;
}

// ---- Tensor --------------------------------------------------------------------------------

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  SAD_CHECK(!(device.is_cuda() && dtype == DType::F64), "float64 tensors are CPU only (shape ", shape_str(shape), ")");
  Tensor t;
  t.shape_ = shape;
  t.numel_ = shape_numel(shape);
  t.dtype_ = dtype;
  t.storage_ = std::make_shared<Storage>(t.nbytes(), device);
  return t;
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  t.zero_();
  return t;
}

Tensor Tensor::full(const Shape& shape, double value, DType dtype, Device device) {
  int64_t n = shape_numel(shape);
  return from_vector_f64(std::vector<double>(static_cast<size_t>(n), value), shape, dtype, device);
}

Tensor Tensor::from_vector(const std::vector<float>& values, const Shape& shape, DType dtype, Device device) {
  return from_vector_f64(std::vector<double>(values.begin(), values.end()), shape, dtype, device);
}

Tensor Tensor::from_vector_f64(const std::vector<double>& values, const Shape& shape, DType dtype, Device device) {
  SAD_CHECK(static_cast<int64_t>(values.size()) == shape_numel(shape), "from_vector: ", values.size(),
            " values for shape ", shape_str(shape));
  Tensor host = empty(shape, dtype, Device::cpu());
  if (dtype == DType::F64) {
    std::copy(values.begin(), values.end(), host.data<double>());
  } else {
    float* p = host.data<float>();
    for (size_t i = 0; i < values.size(); ++i) p[i] = static_cast<float>(values[i]);
  }
  return host.to(device);
}

int64_t Tensor::dim(int i) const {
  int n = ndim();
  int j = i < 0 ? i + n : i;
  SAD_CHECK(j >= 0 && j < n, "dimension ", i, " out of range for shape ", shape_str(shape_));
  return shape_[static_cast<size_t>(j)];
}

Device Tensor::device() const {
  SAD_CHECK(defined(), "device() of an undefined tensor");
  return storage_->device();
}

std::string Tensor::str() const {
  if (!defined()) return "undefined tensor";
  return std::string(dtype_name(dtype_)) + shape_str(shape_) + " on " + device().str();
}

void* Tensor::raw() const {
  SAD_CHECK(defined(), "data access to an undefined tensor");
  return static_cast<char*>(storage_->data()) + offset_ * static_cast<int64_t>(dtype_size(dtype_));
}

Tensor Tensor::reshape(const Shape& shape) const {
  SAD_CHECK(shape_numel(shape) == numel_, "reshape of ", str(), " to ", shape_str(shape), ": element counts differ");
  Tensor t = *this;
  t.shape_ = shape;
  return t;
}

Tensor Tensor::slice0(int64_t begin, int64_t end) const {
  SAD_CHECK(ndim() >= 1 && 0 <= begin && begin <= end && end <= shape_[0], "slice0 [", begin, ", ", end, ") of ",
            str());
  Tensor t = *this;
  int64_t row = shape_[0] == 0 ? 0 : numel_ / shape_[0];
  t.shape_[0] = end - begin;
  t.offset_ = offset_ + begin * row;
  t.numel_ = (end - begin) * row;
  return t;
}

Tensor Tensor::view_at(int64_t offset, const Shape& shape) const {
  int64_t n = shape_numel(shape);
  SAD_CHECK(offset >= 0 && offset + n <= numel_, "view_at(", offset, ", ", shape_str(shape), ") outside ", str());
  Tensor t = *this;
  t.shape_ = shape;
  t.numel_ = n;
  t.offset_ = offset_ + offset;
  return t;
}

Tensor Tensor::clone() const {
  Tensor t = empty(shape_, dtype_, device());
  t.copy_from(*this);
  return t;
}

Tensor Tensor::to(Device device) const {
  if (this->device() == device) return *this;
  Tensor t = empty(shape_, dtype_, device);
  t.copy_from(*this);
  return t;
}

Tensor Tensor::to(DType dtype) const {
  if (dtype == dtype_) return *this;
  SAD_CHECK(device().is_cpu(), "dtype conversion of ", str(), " is CPU only");
  Tensor t = empty(shape_, dtype, Device::cpu());
  if (dtype == DType::F64) {
    const float* s = data<float>();
    double* d = t.data<double>();
    for (int64_t i = 0; i < numel_; ++i) d[i] = s[i];
  } else {
    const double* s = data<double>();
    float* d = t.data<float>();
    for (int64_t i = 0; i < numel_; ++i) d[i] = static_cast<float>(s[i]);
  }
  return t;
}

void Tensor::copy_from(const Tensor& src) {
  SAD_CHECK(defined() && src.defined(), "copy_from with an undefined tensor");
  SAD_CHECK(shape_ == src.shape_ && dtype_ == src.dtype_, "copy_from ", src.str(), " into ", str());
  Device d = device(), s = src.device();
  if (d.is_cpu() && s.is_cpu()) {
    device_api(DeviceType::CPU).copy_on_device(raw(), src.raw(), nbytes());
  } else if (d.is_cpu()) {
    device_api(s.type).copy_to_host(raw(), src.raw(), nbytes());
  } else if (s.is_cpu()) {
    device_api(d.type).copy_from_host(raw(), src.raw(), nbytes());
  } else {
    SAD_CHECK(d == s, "copy between two different accelerators ", s.str(), " -> ", d.str());
    device_api(d.type).copy_on_device(raw(), src.raw(), nbytes());
  }
}

void Tensor::zero_() {
  SAD_CHECK(defined(), "zero_ of an undefined tensor");
  device_api(device().type).fill_zero(raw(), nbytes());
}

std::vector<double> Tensor::to_vector_f64() const {
  Tensor h = to(Device::cpu()).to(DType::F64);
  const double* p = h.data<double>();
  return std::vector<double>(p, p + numel_);
}

std::vector<float> Tensor::to_vector() const {
  Tensor h = to(Device::cpu()).to(DType::F32);
  const float* p = h.data<float>();
  return std::vector<float>(p, p + numel_);
}

double Tensor::item() const {
  SAD_CHECK(numel_ == 1, "item() of ", str(), ": not a one-element tensor");
  return to_vector_f64()[0];
}

}  // namespace sad
