#pragma once
// NumPy .npy files (format version 1.0 written; 1.0, 2.0 and 3.0 read), for handing arrays to Python.
#include <string>

#include "hybridlens/core/tensor.hpp"

namespace hl {

// Writes a C-order .npy v1.0 file: F32 -> '<f4', I32 -> '<i4', U8 -> '|u1' (other dtypes: hl::Error).
// The header is padded with spaces so that the data starts at a multiple of 64 bytes. Written to
// "<path>.tmp" and renamed into place.
void write_npy(const std::string& path, const Tensor& t);
void write_npy(const std::string& path, const float* data, const Shape& shape);

// Reads a .npy file into a new, owning CPU tensor: '<f4' -> F32, '<i4' -> I32, '<i8' -> I32 (each value
// checked to fit), '|u1' -> U8. C order only. Throws hl::Error "<path>: ..." for anything else
// (other dtypes, big-endian, Fortran order, a malformed header, truncated or surplus data).
Tensor read_npy(const std::string& path);

}  // namespace hl
