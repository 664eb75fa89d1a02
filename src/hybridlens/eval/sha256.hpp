#pragma once
// SHA-256 (FIPS 180-4) of bytes, as lowercase hex: content hashes of config files, haystacks, prompts
// and result-cell keys in the results database.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace hl {

class Sha256 {
 public:
  Sha256();
  void update(const void* data, size_t bytes);
  void update(std::string_view s) { update(s.data(), s.size()); }
  // Finishes and returns the digest as 64 lowercase hex digits; the object is spent afterwards.
  std::string hex();

 private:
  void block(const uint8_t* p);
  uint32_t h_[8];
  uint8_t buf_[64];
  size_t buf_len_ = 0;
  uint64_t total_ = 0;
};

std::string sha256_hex(std::string_view bytes);
// Hash of token ids as little-endian int32 bytes.
std::string sha256_hex(std::span<const int32_t> ids);
// Hash of a file's bytes; throws hl::Error "<path>: cannot read" when it cannot be opened.
std::string sha256_file(const std::string& path);

}  // namespace hl
