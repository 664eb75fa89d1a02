#include "hybridlens/core/tensor.hpp"

#include <cstdlib>
#include <cstring>
#include <sstream>

namespace hl {

std::string Device::str() const {
  if (kind == DeviceKind::CPU) return "cpu";
  return "cuda:" + std::to_string(index);
}

std::string shape_str(const Shape& s) {
  std::ostringstream o;
  o << '[';
  for (size_t i = 0; i < s.size(); ++i) o << (i ? ", " : "") << s[i];
  o << ']';
  return o.str();
}

int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

Tensor Tensor::zeros(DType dtype, Shape shape) {
  for (int64_t d : shape) HL_CHECK(d >= 0, "negative dimension in shape ", shape_str(shape));
  const size_t bytes = size_t(shape_numel(shape)) * dtype_size(dtype);
  const size_t rounded = (bytes + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, rounded ? rounded : 64);
  HL_CHECK(p != nullptr, "out of memory allocating ", rounded, " bytes for a ", dtype_name(dtype),
           shape_str(shape), " tensor");
  std::memset(p, 0, rounded);
  std::shared_ptr<const void> owner(p, [](const void* q) { std::free(const_cast<void*>(q)); });
  return view(p, dtype, std::move(shape), std::move(owner));
}

Tensor Tensor::view(void* data, DType dtype, Shape shape, std::shared_ptr<const void> owner, Device device) {
  Tensor t;
  t.data_ = data;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  t.device_ = device;
  t.owner_ = std::move(owner);
  t.defined_ = true;
  return t;
}

int64_t Tensor::dim(int i) const {
  const int n = ndim();
  const int j = i < 0 ? i + n : i;
  HL_CHECK(j >= 0 && j < n, "dimension ", i, " out of range for tensor ", describe());
  return shape_[size_t(j)];
}

Tensor Tensor::reshape(Shape shape) const {
  HL_CHECK(shape_numel(shape) == numel(), "cannot reshape ", describe(), " to ", shape_str(shape));
  Tensor t = *this;
  t.shape_ = std::move(shape);
  return t;
}

Tensor Tensor::rows(int64_t begin, int64_t end) const {
  HL_CHECK(ndim() >= 1 && begin >= 0 && begin <= end && end <= shape_[0], "rows [", begin, ", ", end,
           ") out of range for tensor ", describe());
  const int64_t row = shape_[0] ? numel() / shape_[0] : 0;
  Tensor t = *this;
  t.data_ = static_cast<char*>(data_) + size_t(begin * row) * dtype_size(dtype_);
  t.shape_[0] = end - begin;
  return t;
}

std::string Tensor::describe() const { return std::string(dtype_name(dtype_)) + shape_str(shape_); }

}  // namespace hl
