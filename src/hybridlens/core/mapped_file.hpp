#pragma once
// A read-only memory mapping of a whole file. Pages are read on demand, never copied whole.
#include <cstddef>
#include <memory>
#include <string>

namespace hl {

class MappedFile {
 public:
  // Throws hl::Error naming the path when the file is missing or cannot be mapped.
  static std::shared_ptr<MappedFile> open(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const unsigned char* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  MappedFile() = default;
  const unsigned char* data_ = nullptr;
  size_t size_ = 0;
  std::string path_;
};

}  // namespace hl
