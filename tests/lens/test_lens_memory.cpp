// The lens keeps O(T x heads) extra memory: a 32k-token prompt through a small Jamba (global attention)
// with entropy recording stays within a stated bound, far below a T x T attention matrix.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <fstream>
#include <random>

#include "hybridlens/io/npy.hpp"
#include "hybridlens/model/random_checkpoint.hpp"
#include "support/fixtures.hpp"

extern char** environ;

namespace hl {
namespace {

// Runs the CLI and returns its peak resident set size in bytes (or -1 if it failed).
int64_t peak_rss_of(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  std::string exe = HL_CLI_PATH;
  argv.push_back(exe.data());
  std::vector<std::string> copy = args;
  for (std::string& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  if (posix_spawn(&pid, exe.c_str(), &fa, nullptr, argv.data(), environ) != 0) return -1;
  posix_spawn_file_actions_destroy(&fa);
  int status = 0;
  struct rusage ru {};
  if (wait4(pid, &status, 0, &ru) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return -1;
  return int64_t(ru.ru_maxrss) * 1024;
}

// A file of n token ids (BOS 1 first), as --ids-file reads it.
std::string ids_file(int n, const std::string& dir) {
  std::mt19937 rng(5);
  const std::string path = dir + "/ids_" + std::to_string(n) + ".txt";
  std::ofstream f(path);
  f << 1;
  for (int i = 1; i < n; ++i) f << (i % 20 ? "," : "\n") << 3 + rng() % 500;
  return path;
}

TEST(LensMemory, EntropyRecordingOver32kTokensStaysLinear) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "measures the optimized build's memory; AddressSanitizer's shadow memory would dominate";
#endif
  RandomCheckpointOptions o;
  o.arch = "jamba";
  o.preset = "tiny";  // 8 layers, 2 global-attention layers, 4 heads, 2 KV heads, head_dim 16
  o.dtype = DType::F32;
  o.out_dir = test::temp_dir("jamba_32k");
  write_random_checkpoint(o);
  const std::string dir = test::temp_dir("mem");
  const int T = 32768;
  const int64_t base = peak_rss_of({"generate", "--model", o.out_dir, "--ids-file", ids_file(16, dir), "--max-new-tokens", "2",
                                    "--entropy-out", dir + "/e16.npy"});
  ASSERT_GT(base, 0);
  const int64_t peak = peak_rss_of({"generate", "--model", o.out_dir, "--ids-file", ids_file(T, dir), "--max-new-tokens", "2",
                                    "--entropy-out", dir + "/e.npy", "--threads", "2"});
  ASSERT_GT(peak, 0);
  const Tensor e = read_npy(dir + "/e.npy");
  ASSERT_EQ(e.shape(), (Shape{2, 4, T + 1}));
  // What a long prompt must add: the global KV caches (2 layers x K and V x T x 2 KV heads x 16 floats,
  // doubled while a cache grows), the recordings (2 layers x 4 heads x T floats, capacity doubling),
  // one score row per thread and head (2 x 4 x T floats) and the prompt's ids (argv and vectors),
  // plus 32 MB for 512-token chunk activations and allocator slack.
  const int64_t kv = 2LL * 2 * T * 2 * 16 * 4;
  const int64_t recording = 2LL * 4 * T * 4;
  const int64_t rows = 2LL * 4 * T * 4;
  const int64_t ids = int64_t(T) * 16;
  const int64_t bound = base + 2 * kv + 2 * recording + rows + ids + (32LL << 20);
  const int64_t txt = int64_t(T) * T * 4;  // one T x T float matrix for one head
  RecordProperty("peak_rss_bytes", std::to_string(peak));
  RecordProperty("bound_bytes", std::to_string(bound));
  EXPECT_LE(peak, bound) << "peak RSS " << peak / 1e6 << " MB vs bound " << bound / 1e6 << " MB (base "
                         << base / 1e6 << " MB)";
  EXPECT_LT(peak, txt / 16) << "a single T x T matrix would be " << txt / 1e9 << " GB";
  std::cout << "peak RSS " << peak / 1e6 << " MB, bound " << bound / 1e6 << " MB, base " << base / 1e6 << " MB\n";
}

}  // namespace
}  // namespace hl
