#pragma once
// Reference fixtures made with transformers by tools/make_fixtures.py (tests/fixtures/<name>/).
#include <nlohmann/json.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "hybridlens/core/dtype.hpp"

namespace hl::test {

struct FixtureCase {
  std::string text;
  std::vector<int32_t> ids;
  std::string logits_path;   // float32 [T, vocab]
  std::string entropy_path;  // float32 [attention layers, heads, T], empty when absent
  std::vector<int32_t> greedy_new_ids;
};

struct Fixture {
  std::string name;
  std::string dir;
  std::string arch;  // as registry::architecture_of reports it
  nlohmann::json meta;
  std::vector<FixtureCase> cases;
};

// Every fixture of the given architecture ("recurrent_gemma", "jamba", "mamba").
std::vector<Fixture> fixtures_of(const std::string& arch);

// A fresh empty directory under the system temp dir, removed at process exit.
std::string temp_dir(const std::string& tag);

// `hybridlens random-checkpoint --preset tiny` of the architecture written to a fresh temp dir; returns the dir.
std::string tiny_random_checkpoint(const std::string& arch, DType dtype, uint64_t seed, const std::string& tag);

}  // namespace hl::test
