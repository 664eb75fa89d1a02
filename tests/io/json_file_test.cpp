#include "hybridlens/io/json_file.hpp"

#include <gtest/gtest.h>

#include "io_test_util.hpp"

using hl_test::TempDir;
using hl_test::write_bytes;

TEST(JsonFile, ReadsObject) {
  TempDir dir;
  write_bytes(dir.file("config.json"), R"({"hidden_size": 64, "block_types": ["recurrent", "attention"]})");
  const auto j = hl::read_json_file(dir.file("config.json"));
  EXPECT_EQ(j["hidden_size"].get<int>(), 64);
  EXPECT_EQ(j["block_types"][1].get<std::string>(), "attention");
}

TEST(JsonFile, MissingFileNamesPath) {
  TempDir dir;
  HL_EXPECT_ERROR(hl::read_json_file(dir.file("config.json")), dir.file("config.json"), "cannot open");
}

TEST(JsonFile, DirectoryIsNotAFile) {
  TempDir dir;
  HL_EXPECT_ERROR(hl::read_json_file(dir.str()), dir.str(), "not a regular file");
}

TEST(JsonFile, ParseErrorNamesPathAndPosition) {
  TempDir dir;
  write_bytes(dir.file("config.json"), "{\n  \"a\": 1,\n  \"b\": [1, 2,,]\n}\n");
  HL_EXPECT_ERROR(hl::read_json_file(dir.file("config.json")), dir.file("config.json") + ": invalid JSON",
                  "line 3, column");
}

TEST(JsonFile, EmptyFileIsAParseError) {
  TempDir dir;
  write_bytes(dir.file("empty.json"), "");
  HL_EXPECT_ERROR(hl::read_json_file(dir.file("empty.json")), dir.file("empty.json"), "invalid JSON");
}

TEST(JsonFile, ParseTextNamesSource) {
  HL_EXPECT_ERROR(hl::parse_json_text("[1, 2", "inline header"), "inline header: invalid JSON", "line 1");
}

TEST(JsonFile, NulByteIsAnError) {
  TempDir dir;
  write_bytes(dir.file("config.json"), std::string("{\"a\": 1}\0garbage", 16));
  HL_EXPECT_ERROR(hl::read_json_file(dir.file("config.json")), dir.file("config.json"), "NUL byte at offset 8");
}
