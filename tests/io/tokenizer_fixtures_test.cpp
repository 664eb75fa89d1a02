// The SentencePiece tokenizer against the ids recorded by tools/make_fixtures.py (Hugging Face tokenizers
// over the same tokenizer.model) for every committed fixture.
#include <gtest/gtest.h>

#include <filesystem>

#include "hybridlens/io/json_file.hpp"
#include "hybridlens/io/tokenizer.hpp"

namespace fs = std::filesystem;

TEST(TokenizerFixtures, EncodeMatchesRecordedIds) {
  const fs::path root = HL_FIXTURES_DIR;
  int checked = 0;
  std::error_code ec;
  if (!fs::is_directory(root, ec)) GTEST_SKIP() << "no fixtures at " << root;
  for (const auto& entry : fs::directory_iterator(root)) {
    const fs::path dir = entry.path();
    if (!fs::exists(dir / "tokenizer.model") || !fs::exists(dir / "cases.json")) continue;
    SCOPED_TRACE(dir.string());
    const auto cases = hl::read_json_file((dir / "cases.json").string());
    const auto tok = hl::Tokenizer::load_dir(dir.string());
    EXPECT_EQ(tok->bos_id(), cases.value("bos_id", -1));
    EXPECT_EQ(tok->eos_id(), cases.value("eos_id", -1));
    const bool bos = cases.value("prepend_bos", true);
    for (const auto& c : cases.value("cases", nlohmann::json::array())) {
      const std::string text = c.at("text").get<std::string>();
      EXPECT_EQ(tok->encode(text, bos), c.at("ids").get<std::vector<int32_t>>()) << text;
      ++checked;
    }
    for (const auto& c : cases.value("tokenizer_cases", nlohmann::json::array())) {
      const std::string text = c.at("text").get<std::string>();
      const auto ids = c.at("ids").get<std::vector<int32_t>>();
      EXPECT_EQ(tok->encode(text, false), ids) << text;
      if (c.contains("pieces")) {
        std::vector<std::string> pieces;
        for (int32_t id : ids) pieces.push_back(tok->piece(id));
        EXPECT_EQ(pieces, c.at("pieces").get<std::vector<std::string>>()) << text;
      }
      ++checked;
    }
  }
  if (checked == 0) GTEST_SKIP() << "no fixture with tokenizer.model and cases.json under " << root;
}
