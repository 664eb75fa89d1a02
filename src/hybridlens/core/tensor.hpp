#pragma once
// Tensor: a typed, contiguous, row-major view of memory on one device. A tensor either owns its buffer
// (allocated by a backend) or keeps alive whatever holds the memory (a mapped checkpoint file).
// Views (reshape, row ranges) share the owner. Copying a Tensor copies the view, never the data.
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "hybridlens/core/dtype.hpp"
#include "hybridlens/core/error.hpp"

namespace hl {

enum class DeviceKind : uint8_t { CPU, CUDA };

struct Device {
  DeviceKind kind = DeviceKind::CPU;
  int index = 0;
  bool operator==(const Device& o) const { return kind == o.kind && index == o.index; }
  std::string str() const;
};

inline Device cpu_device() { return Device{}; }

using Shape = std::vector<int64_t>;
std::string shape_str(const Shape& s);
int64_t shape_numel(const Shape& s);

class Tensor {
 public:
  Tensor() = default;

  // A new zero-filled, 64-byte aligned CPU tensor.
  static Tensor zeros(DType dtype, Shape shape);
  // A view of memory someone else owns; `owner` keeps that memory alive (may be null for borrowed memory
  // whose lifetime the caller guarantees).
  static Tensor view(void* data, DType dtype, Shape shape, std::shared_ptr<const void> owner,
                     Device device = cpu_device());

  bool defined() const { return defined_; }
  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int ndim() const { return int(shape_.size()); }
  int64_t dim(int i) const;  // negative counts from the end
  int64_t numel() const { return shape_numel(shape_); }
  size_t nbytes() const { return size_t(numel()) * dtype_size(dtype_); }
  Device device() const { return device_; }
  const std::shared_ptr<const void>& owner() const { return owner_; }

  void* raw() { return data_; }
  const void* raw() const { return data_; }
  template <class T>
  T* data() {
    check_type<T>();
    return static_cast<T*>(data_);
  }
  template <class T>
  const T* data() const {
    check_type<T>();
    return static_cast<const T*>(data_);
  }

  // Same data, new shape with the same element count.
  Tensor reshape(Shape shape) const;
  // Rows [begin, end) of dimension 0.
  Tensor rows(int64_t begin, int64_t end) const;
  // "F32[3, 4]"
  std::string describe() const;

 private:
  template <class T>
  void check_type() const;

  void* data_ = nullptr;
  DType dtype_ = DType::F32;
  Shape shape_;
  Device device_;
  std::shared_ptr<const void> owner_;
  bool defined_ = false;
};

template <class T>
void Tensor::check_type() const {
  DType want;
  if constexpr (std::is_same_v<T, float>) want = DType::F32;
  else if constexpr (std::is_same_v<T, uint16_t>) {
    HL_CHECK(dtype_ == DType::BF16 || dtype_ == DType::F16, "tensor ", describe(), " read as 16-bit");
    return;
  } else if constexpr (std::is_same_v<T, int32_t>) want = DType::I32;
  else if constexpr (std::is_same_v<T, uint8_t>) want = DType::U8;
  else static_assert(sizeof(T) == 0, "unsupported element type");
  HL_CHECK(dtype_ == want, "tensor ", describe(), " read as ", dtype_name(want));
}

}  // namespace hl
