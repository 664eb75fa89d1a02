#pragma once
// Helpers for the io tests: a temporary directory per test and checks on hl::Error messages.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "hybridlens/core/error.hpp"

namespace hl_test {

class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = info ? std::string(info->test_suite_name()) + "." + info->name() : "io";
    path_ = std::filesystem::temp_directory_path() /
            ("hl_io_" + std::to_string(::getpid()) + "_" + std::to_string(counter++) + "_" + name);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  std::string str() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

inline void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), std::streamsize(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

inline std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The message of the hl::Error `f` throws, or "" (and a test failure) when it throws none.
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const hl::Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected an hl::Error, none was thrown";
  return "";
}

}  // namespace hl_test

// Expects `stmt` to throw hl::Error whose one-line message contains every one of the given strings.
#define HL_EXPECT_ERROR(stmt, ...)                                                                  \
  do {                                                                                              \
    const std::string hl_msg_ = ::hl_test::error_of([&] { stmt; });                                 \
    for (const std::string& hl_part_ : std::vector<std::string>{__VA_ARGS__})                       \
      EXPECT_NE(hl_msg_.find(hl_part_), std::string::npos)                                          \
          << "error message: " << hl_msg_ << "\n  should contain: " << hl_part_;                    \
    EXPECT_EQ(hl_msg_.find('\n'), std::string::npos) << "error message is not one line: " << hl_msg_; \
  } while (0)
