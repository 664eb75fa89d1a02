#include "hybridlens/io/tokenizer.hpp"

#include <gtest/gtest.h>

#include <filesystem>

#include "io_test_util.hpp"

using hl::Tokenizer;
using hl_test::TempDir;
using hl_test::write_bytes;

namespace {

const std::string kTinyModel = std::string(HL_SOURCE_DIR) + "/tests/io/data/tiny_tokenizer.model";

std::unique_ptr<Tokenizer> tiny() { return Tokenizer::load_file(kTinyModel); }

}  // namespace

TEST(Tokenizer, LoadDirAndSpecialIds) {
  TempDir dir;
  std::filesystem::copy_file(kTinyModel, dir.file("tokenizer.model"));
  write_bytes(dir.file("tokenizer.json"), "{}");  // tokenizer.model wins when both exist
  auto tok = Tokenizer::load_dir(dir.str());
  EXPECT_EQ(tok->pad_id(), 0);
  EXPECT_EQ(tok->eos_id(), 1);
  EXPECT_EQ(tok->bos_id(), 2);
  EXPECT_EQ(tok->unk_id(), 3);
  EXPECT_EQ(tok->vocab_size(), 320);
  EXPECT_EQ(tok->piece(2), "<bos>");
  EXPECT_EQ(tok->piece(1), "<eos>");
  EXPECT_EQ(tok->piece_to_id("<pad>"), 0);
  EXPECT_TRUE(tok->is_control(2));
  EXPECT_EQ(tok->path(), dir.file("tokenizer.model"));
}

TEST(Tokenizer, EncodeDecodeRoundTrip) {
  auto tok = tiny();
  const std::string text = "The best thing to do in San Francisco is eat a sandwich.";
  const auto ids = tok->encode(text, /*add_bos=*/true);
  ASSERT_GE(ids.size(), 2u);
  EXPECT_EQ(ids[0], 2);
  const auto plain = tok->encode(text, /*add_bos=*/false);
  EXPECT_EQ(std::vector<int32_t>(ids.begin() + 1, ids.end()), plain);
  EXPECT_LT(plain.size(), text.size());  // merges happened
  EXPECT_EQ(tok->decode(ids), text);
  EXPECT_EQ(tok->decode(plain), text);
  std::string joined;
  for (int32_t id : plain) joined += tok->piece(id);
  EXPECT_EQ(joined.substr(0, 3), "The");
}

TEST(Tokenizer, ByteFallbackAndWhitespaceRoundTrip) {
  auto tok = tiny();
  for (const std::string text : {"  two  spaces\tand a tab\n", "Zürich ≠ 東京 🙂", "2048 + 4096 = 6144", ""}) {
    EXPECT_EQ(tok->decode(tok->encode(text, true)), text) << text;
  }
  EXPECT_EQ(tok->encode("", true), std::vector<int32_t>{2});
}

TEST(Tokenizer, DecodeSkipsControlTokens) {
  auto tok = tiny();
  auto ids = tok->encode("the lazy dog", false);
  std::vector<int32_t> with = {2};
  with.insert(with.end(), ids.begin(), ids.end());
  with.push_back(1);
  with.push_back(0);
  with.push_back(0);
  EXPECT_EQ(tok->decode(with), "the lazy dog");
}

TEST(Tokenizer, OutOfRangeIds) {
  auto tok = tiny();
  HL_EXPECT_ERROR(tok->decode({5, 320}), "token id 320", "vocabulary (size 320)", kTinyModel);
  HL_EXPECT_ERROR(tok->decode({-1}), "token id -1");
  HL_EXPECT_ERROR(tok->piece(1000), "token id 1000");
}

TEST(Tokenizer, MissingFiles) {
  TempDir dir;
  HL_EXPECT_ERROR(Tokenizer::load_dir(dir.str()), dir.str(), "tokenizer.model", "tokenizer.json");
  write_bytes(dir.file("tokenizer.json"), "{}");
  HL_EXPECT_ERROR(Tokenizer::load_dir(dir.str()), dir.str(), "tokenizer.json-only checkpoints are not supported yet",
                  "tokenizer.model is needed");
  HL_EXPECT_ERROR(Tokenizer::load_dir(dir.file("absent")), dir.file("absent"), "not found");
  HL_EXPECT_ERROR(Tokenizer::load_file(dir.file("absent.model")), dir.file("absent.model"));
}

TEST(Tokenizer, CorruptModel) {
  TempDir dir;
  write_bytes(dir.file("tokenizer.model"), "this is not a protobuf \x01\x02\xff\xff\xff");
  HL_EXPECT_ERROR(Tokenizer::load_dir(dir.str()), dir.file("tokenizer.model"), "cannot load SentencePiece model");
  write_bytes(dir.file("tokenizer.model"), "");
  HL_EXPECT_ERROR(Tokenizer::load_dir(dir.str()), dir.file("tokenizer.model"), "cannot load SentencePiece model");
  // A truncated real model.
  std::string bytes = hl_test::read_bytes(kTinyModel);
  write_bytes(dir.file("tokenizer.model"), bytes.substr(0, bytes.size() / 2));
  HL_EXPECT_ERROR(Tokenizer::load_dir(dir.str()), dir.file("tokenizer.model"), "cannot load SentencePiece model");
}
