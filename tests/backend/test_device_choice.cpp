// --device: parsing, the CPU default, and the one-line errors for a CUDA device in a build without CUDA or
// on a machine without one (these run everywhere; the CUDA backend's own tests are in tests/backend/cuda).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <sys/wait.h>

#include "hybridlens/backend/make_backend.hpp"
#include "support/fixtures.hpp"

namespace hl {
namespace {

std::string error_of(const std::string& text) {
  try {
    make_backend(text);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(DeviceChoice, ParsesCpuCudaAndIndex) {
  EXPECT_EQ(parse_device("cpu"), cpu_device());
  EXPECT_EQ(parse_device("cuda"), (Device{DeviceKind::CUDA, 0}));
  EXPECT_EQ(parse_device("cuda:3"), (Device{DeviceKind::CUDA, 3}));
  for (const char* bad : {"gpu", "cuda:", "cuda:x", "cuda:-1", "cuda:1x", "CPU", ""}) {
    const std::string e = error_of(bad);
    EXPECT_NE(e.find("is not a device (expected cpu, cuda or cuda:N)"), std::string::npos) << bad << ": " << e;
  }
  EXPECT_STREQ(make_backend("cpu")->name(), "cpu");
}

TEST(DeviceChoice, CudaWithoutCudaIsOneClearError) {
  std::string why;
  if (cuda_device_count(&why) > 0) GTEST_SKIP() << "a CUDA device is present (tests/backend/cuda covers it)";
  const std::string e = error_of("cuda");
  if (!built_with_cuda()) {
    EXPECT_NE(e.find("built without CUDA"), std::string::npos) << e;
    EXPECT_EQ(why, "hybridlens was built without CUDA");
  } else {
    EXPECT_NE(e.find("no CUDA device"), std::string::npos) << e;
  }
  EXPECT_EQ(e.find('\n'), std::string::npos) << e;
}

TEST(DeviceChoice, CliRejectsBadDeviceWithOneLine) {
  const std::string dir = test::temp_dir("device_cli");
  const std::string model = std::string(HL_FIXTURES_DIR) + "/rg_mqa_f32";
  for (const char* dev : {"gpu", "cuda:9"}) {
    const std::string cmd = std::string(HL_CLI_PATH) + " forward --model " + model + " --ids 2,5 --logits-out " + dir +
                            "/l.npy --device " + dev + " >" + dir + "/out 2>" + dir + "/err";
    const int status = std::system(cmd.c_str());
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 1) << dev;
    std::ifstream f(dir + "/err");
    std::stringstream s;
    s << f.rdbuf();
    const std::string err = s.str();
    EXPECT_EQ(err.rfind("hybridlens: error: --device", 0), 0u) << err;
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  }
}

}  // namespace
}  // namespace hl
