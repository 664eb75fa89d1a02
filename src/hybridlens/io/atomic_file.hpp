#pragma once
// Writing a file so that readers never see half of it: the bytes go to "<path>.tmp", which is renamed
// over <path> by commit(). A writer destroyed without commit() (an exception on the way) removes the
// temporary file and leaves <path> as it was.
#include <cstddef>
#include <string>

namespace hl {

class AtomicFileWriter {
 public:
  // Throws hl::Error "<path>: cannot write: <reason>" when "<path>.tmp" cannot be created.
  explicit AtomicFileWriter(const std::string& path);
  ~AtomicFileWriter();
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

  void write(const void* data, size_t bytes);
  void write(const std::string& s) { write(s.data(), s.size()); }
  // Flushes, closes and renames the temporary file to the final path.
  void commit();

  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::string tmp_path_;
  int fd_ = -1;
  bool committed_ = false;
};

}  // namespace hl
