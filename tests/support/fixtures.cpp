#include "support/fixtures.hpp"

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <unistd.h>

#include "hybridlens/io/json_file.hpp"
#include "hybridlens/model/random_checkpoint.hpp"
#include "hybridlens/model/registry.hpp"

namespace fs = std::filesystem;

namespace hl::test {

std::vector<Fixture> fixtures_of(const std::string& arch) {
  std::vector<Fixture> out;
  const fs::path root(HL_FIXTURES_DIR);
  if (!fs::is_directory(root)) return out;
  std::vector<fs::path> dirs;
  for (const auto& e : fs::directory_iterator(root))
    if (e.is_directory() && fs::exists(e.path() / "cases.json")) dirs.push_back(e.path());
  std::sort(dirs.begin(), dirs.end());
  for (const fs::path& d : dirs) {
    if (architecture_of(d.string()) != arch) continue;
    Fixture f;
    f.name = d.filename().string();
    f.dir = d.string();
    f.arch = arch;
    f.meta = read_json_file((d / "cases.json").string());
    for (const auto& c : f.meta.at("cases")) {
      FixtureCase fc;
      fc.text = c.value("text", "");
      fc.ids = c.at("ids").get<std::vector<int32_t>>();
      fc.logits_path = (d / c.at("logits").get<std::string>()).string();
      if (c.contains("entropy") && c["entropy"].is_string()) fc.entropy_path = (d / c["entropy"].get<std::string>()).string();
      fc.greedy_new_ids = c.at("greedy_new_ids").get<std::vector<int32_t>>();
      f.cases.push_back(std::move(fc));
    }
    out.push_back(std::move(f));
  }
  return out;
}

namespace {
struct TempRoot {
  fs::path path;
  TempRoot() {
    path = fs::temp_directory_path() / ("hl_tests_" + std::to_string(::getpid()));
    fs::create_directories(path);
  }
  ~TempRoot() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};
}  // namespace

std::string temp_dir(const std::string& tag) {
  static TempRoot root;
  static std::atomic<int> counter{0};
  const fs::path p = root.path / (tag + "_" + std::to_string(counter++));
  fs::create_directories(p);
  return p.string();
}

std::string tiny_random_checkpoint(const std::string& arch, DType dtype, uint64_t seed, const std::string& tag) {
  RandomCheckpointOptions o;
  o.arch = arch;
  o.preset = "tiny";
  o.dtype = dtype;
  o.seed = seed;
  o.out_dir = temp_dir(tag + "_" + arch);
  write_random_checkpoint(o);
  return o.out_dir;
}

}  // namespace hl::test
