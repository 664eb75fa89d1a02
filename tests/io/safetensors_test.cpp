#include "hybridlens/io/safetensors.hpp"
#include "hybridlens/io/safetensors_stream_writer.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <optional>

#include "io_test_util.hpp"

using hl::DType;
using hl::Shape;
using hl::Tensor;
using hl::TensorStore;
using hl_test::TempDir;
using hl_test::write_bytes;

namespace {

// A safetensors file from a header text and a data section; `len` overrides the stored header length.
std::string st_bytes(const std::string& header, const std::string& data = "",
                     std::optional<uint64_t> len = std::nullopt) {
  const uint64_t n = len ? *len : header.size();
  std::string out(8, '\0');
  std::memcpy(out.data(), &n, 8);
  return out + header + data;
}

Tensor f32(Shape shape, float start = 0.0f) {
  Tensor t = Tensor::zeros(DType::F32, std::move(shape));
  float* p = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = start + 0.5f * float(i);
  return t;
}

Tensor half(DType dtype, Shape shape, float start = 0.0f) {
  Tensor t = Tensor::zeros(dtype, std::move(shape));
  uint16_t* p = t.data<uint16_t>();
  for (int64_t i = 0; i < t.numel(); ++i) {
    const float v = start - 0.25f * float(i);
    p[i] = dtype == DType::BF16 ? hl::f32_to_bf16(v) : hl::f32_to_f16(v);
  }
  return t;
}

bool same_bytes(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() && std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0;
}

// Writes a file whose only problem is described by `header` / `data`, and expects opening it to fail.
#define EXPECT_OPEN_ERROR(bytes, ...)                            \
  do {                                                           \
    TempDir dir_;                                                \
    const std::string path_ = dir_.file("model.safetensors");    \
    write_bytes(path_, bytes);                                   \
    HL_EXPECT_ERROR(TensorStore::open_file(path_), path_, __VA_ARGS__); \
  } while (0)

}  // namespace

// ------------------------------------------------------------------------------------------------------
// Round trips

TEST(Safetensors, RoundTripAllDTypes) {
  TempDir dir;
  const std::string path = dir.file("model.safetensors");
  Tensor a = f32({2, 3}, 1.0f);
  Tensor b = half(DType::BF16, {4, 2}, 3.0f);
  Tensor c = half(DType::F16, {5}, -1.0f);
  Tensor d = Tensor::zeros(DType::I32, {3});
  d.data<int32_t>()[0] = -7;
  d.data<int32_t>()[2] = 123456789;
  Tensor e = Tensor::zeros(DType::U8, {2, 2});
  e.data<uint8_t>()[3] = 255;
  hl::write_safetensors(path, {{"w.a", a}, {"w.b", b}, {"w.c", c}, {"w.d", d}, {"w.e", e}},
                        {{"format", "pt"}, {"note", "test"}});
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));

  // Header padded to a multiple of 8, so the data section starts 8-aligned.
  const std::string raw = hl_test::read_bytes(path);
  uint64_t hlen = 0;
  std::memcpy(&hlen, raw.data(), 8);
  EXPECT_EQ(hlen % 8, 0u);
  EXPECT_EQ(raw.size(), 8 + hlen + a.nbytes() + b.nbytes() + c.nbytes() + d.nbytes() + e.nbytes());

  TensorStore s = TensorStore::open_file(path);
  EXPECT_EQ(s.names(), (std::vector<std::string>{"w.a", "w.b", "w.c", "w.d", "w.e"}));
  EXPECT_EQ(s.size(), 5u);
  EXPECT_TRUE(s.has("w.c"));
  EXPECT_FALSE(s.has("w.z"));
  EXPECT_TRUE(same_bytes(s.get("w.a"), a));
  EXPECT_TRUE(same_bytes(s.get("w.b"), b));
  EXPECT_TRUE(same_bytes(s.get("w.c"), c));
  EXPECT_TRUE(same_bytes(s.get("w.d"), d));
  EXPECT_TRUE(same_bytes(s.get("w.e"), e));
  EXPECT_EQ(s.get("w.a").data<float>()[5], 3.5f);
  EXPECT_EQ(hl::bf16_to_f32(s.get("w.b").data<uint16_t>()[1]), 2.75f);
  EXPECT_EQ(hl::f16_to_f32(s.get("w.c").data<uint16_t>()[4]), -2.0f);
  EXPECT_EQ(s.get("w.b", {4, 2}).dtype(), DType::BF16);
  EXPECT_EQ(s.file_of("w.a"), path);
  EXPECT_EQ(s.total_bytes(), a.nbytes() + b.nbytes() + c.nbytes() + d.nbytes() + e.nbytes());
  EXPECT_EQ(s.metadata().at("format"), "pt");
  EXPECT_EQ(s.metadata().at("note"), "test");
  EXPECT_EQ(s.info("w.b").shape, (Shape{4, 2}));
  EXPECT_EQ(s.source(), path);
}

TEST(Safetensors, GetIsAViewOfTheMapping) {
  TempDir dir;
  const std::string path = dir.file("model.safetensors");
  hl::write_safetensors(path, {{"x", f32({16, 16})}});
  TensorStore s = TensorStore::open_file(path);
  Tensor x1 = s.get("x");
  Tensor x2 = s.get("x");
  EXPECT_EQ(x1.raw(), x2.raw());  // same mapped bytes, no copy
  EXPECT_NE(x1.owner(), nullptr);
  EXPECT_EQ(x1.owner(), x2.owner());
  // The view keeps the mapping alive after the store is gone.
  s = TensorStore();
  EXPECT_EQ(x1.data<float>()[255], 127.5f);
}

TEST(Safetensors, MisalignedTensorIsCopiedAligned) {
  TempDir dir;
  const std::string path = dir.file("model.safetensors");
  // 3 BF16 values (6 bytes) put the following F32 tensor at data offset 6: not 4-aligned.
  Tensor b = half(DType::BF16, {3}, 1.0f);
  Tensor a = f32({5}, 2.0f);
  hl::write_safetensors(path, {{"b", b}, {"a", a}});
  TensorStore s = TensorStore::open_file(path);
  EXPECT_EQ(s.info("a").begin, 6u);
  Tensor got = s.get("a");
  EXPECT_EQ(reinterpret_cast<uintptr_t>(got.raw()) % 4, 0u);
  EXPECT_TRUE(same_bytes(got, a));
  EXPECT_EQ(got.data<float>()[4], 4.0f);
  // The aligned BF16 tensor is still a view.
  EXPECT_EQ(s.get("b").raw(), s.get("b").raw());
}

TEST(Safetensors, EmptyAndScalarTensors) {
  TempDir dir;
  const std::string path = dir.file("model.safetensors");
  Tensor scalar = f32({}, 42.0f);
  hl::write_safetensors(path, {{"empty", f32({0, 4})}, {"scalar", scalar}, {"empty2", f32({3, 0})}});
  TensorStore s = TensorStore::open_file(path);
  EXPECT_EQ(s.get("empty").shape(), (Shape{0, 4}));
  EXPECT_EQ(s.get("empty2").numel(), 0);
  EXPECT_EQ(s.get("scalar").shape(), Shape{});
  EXPECT_EQ(s.get("scalar").data<float>()[0], 42.0f);
}

TEST(Safetensors, NoTensorsAtAll) {
  TempDir dir;
  hl::write_safetensors(dir.file("model.safetensors"), {});
  TensorStore s = TensorStore::open_file(dir.file("model.safetensors"));
  EXPECT_EQ(s.size(), 0u);
  EXPECT_EQ(s.total_bytes(), 0u);
}

TEST(Safetensors, MetadataIsAllowedAndKept) {
  const std::string header =
      R"({"__metadata__":{"format":"pt","n":3},"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})";
  TempDir dir;
  write_bytes(dir.file("m.safetensors"), st_bytes(header, std::string(4, '\0')));
  TensorStore s = TensorStore::open_file(dir.file("m.safetensors"));
  EXPECT_EQ(s.names(), std::vector<std::string>{"x"});
  EXPECT_EQ(s.metadata().at("format"), "pt");
  EXPECT_EQ(s.metadata().at("n"), "3");
  EXPECT_FALSE(s.has("__metadata__"));
}

TEST(Safetensors, ExtraTrailingPaddingAndGapsAreTolerated) {
  // Spaces after the JSON (writers pad to 8 bytes) and unused bytes between tensors.
  const std::string header = R"({"x":{"dtype":"U8","shape":[2],"data_offsets":[4,6]}}   )";
  TempDir dir;
  write_bytes(dir.file("m.safetensors"), st_bytes(header, std::string("\0\0\0\0\x07\x09", 6)));
  TensorStore s = TensorStore::open_file(dir.file("m.safetensors"));
  EXPECT_EQ(s.get("x").data<uint8_t>()[1], 9);
}

TEST(Safetensors, WriteIsAtomicAndOverwrites) {
  TempDir dir;
  const std::string path = dir.file("model.safetensors");
  hl::write_safetensors(path, {{"x", f32({2})}});
  hl::write_safetensors(path, {{"y", f32({3})}});
  TensorStore s = TensorStore::open_file(path);
  EXPECT_EQ(s.names(), std::vector<std::string>{"y"});
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
}

TEST(Safetensors, WriteErrors) {
  TempDir dir;
  const std::string path = dir.file("model.safetensors");
  HL_EXPECT_ERROR(hl::write_safetensors(path, {{"x", f32({2})}, {"x", f32({2})}}), path, "tensor x given twice");
  HL_EXPECT_ERROR(hl::write_safetensors(path, {{"x", Tensor()}}), path, "tensor x is undefined");
  HL_EXPECT_ERROR(hl::write_safetensors(path, {{"__metadata__", f32({2})}}), path, "__metadata__");
  HL_EXPECT_ERROR(hl::write_safetensors(path, {{"", f32({2})}}), path, "empty name");
  HL_EXPECT_ERROR(hl::write_safetensors(path, {{std::string("bad\xff"), f32({2})}}), path, "header");
  EXPECT_FALSE(std::filesystem::exists(path));
  const std::string nodir = dir.file("no/such/dir/model.safetensors");
  HL_EXPECT_ERROR(hl::write_safetensors(nodir, {{"x", f32({2})}}), nodir, "cannot write");
}

// ------------------------------------------------------------------------------------------------------
// Validation of one file

TEST(SafetensorsValidation, MissingFile) {
  TempDir dir;
  HL_EXPECT_ERROR(TensorStore::open_file(dir.file("nope.safetensors")), dir.file("nope.safetensors"));
}

TEST(SafetensorsValidation, TooShort) {
  EXPECT_OPEN_ERROR(std::string(""), "too short");
  EXPECT_OPEN_ERROR(std::string("\x10\0\0", 3), "too short");
}

TEST(SafetensorsValidation, HeaderLengthPastEnd) {
  EXPECT_OPEN_ERROR(st_bytes("{}", "", 1000), "header length 1000 runs past the end of the file");
  EXPECT_OPEN_ERROR(st_bytes("{}", "", ~uint64_t(1)), "runs past the end");
}

TEST(SafetensorsValidation, TruncatedHeader) {
  // The stored length is right, but the file was cut inside the header.
  std::string bytes = st_bytes(R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", std::string(4, '\0'));
  bytes.resize(20);
  EXPECT_OPEN_ERROR(bytes, "runs past the end");
}

TEST(SafetensorsValidation, HeaderNotJsonOrNotObject) {
  EXPECT_OPEN_ERROR(st_bytes(R"({"x": )"), "header is not valid JSON", "line 1");
  EXPECT_OPEN_ERROR(st_bytes("[1, 2]"), "header is not a JSON object");
  EXPECT_OPEN_ERROR(st_bytes(std::string("{}\0\0", 4)), "not valid JSON", "NUL byte");
}

TEST(SafetensorsValidation, EntryFieldsMissingOrWrongType) {
  EXPECT_OPEN_ERROR(st_bytes(R"({"w":[1]})"), "tensor w", "not a JSON object");
  EXPECT_OPEN_ERROR(st_bytes(R"({"w":{"shape":[1],"data_offsets":[0,4]}})", "abcd"), "tensor w", "no \"dtype\"");
  EXPECT_OPEN_ERROR(st_bytes(R"({"w":{"dtype":7,"shape":[1],"data_offsets":[0,4]}})", "abcd"), "tensor w",
                    "\"dtype\" is not a string");
  EXPECT_OPEN_ERROR(st_bytes(R"({"w":{"dtype":"F32","data_offsets":[0,4]}})", "abcd"), "tensor w",
                    "no \"shape\"");
  EXPECT_OPEN_ERROR(st_bytes(R"({"w":{"dtype":"F32","shape":"1","data_offsets":[0,4]}})", "abcd"), "tensor w",
                    "\"shape\" is not an array");
  EXPECT_OPEN_ERROR(st_bytes(R"({"w":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}})", "abcd"), "tensor w",
                    "not a non-negative integer");
  EXPECT_OPEN_ERROR(st_bytes(R"({"w":{"dtype":"F32","shape":[1]}})", "abcd"), "tensor w",
                    "no \"data_offsets\"");
  EXPECT_OPEN_ERROR(st_bytes(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0]}})", "abcd"), "tensor w",
                    "must be [begin, end]");
  EXPECT_OPEN_ERROR(st_bytes(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":{"a":1}}})", "abcd"),
                    "tensor w", "must be [begin, end]");
  EXPECT_OPEN_ERROR(st_bytes(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}})", "abcd"), "tensor w",
                    "must be [begin, end]");
  EXPECT_OPEN_ERROR(st_bytes(R"({"__metadata__":[1]})"), "\"__metadata__\" is not a JSON object");
}

TEST(SafetensorsValidation, UnknownOrUnsupportedDType) {
  EXPECT_OPEN_ERROR(st_bytes(R"({"w":{"dtype":"Q4","shape":[1],"data_offsets":[0,4]}})", "abcd"), "tensor w",
                    "unknown dtype \"Q4\"", "F32, BF16, F16");
  EXPECT_OPEN_ERROR(st_bytes(R"({"w":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}})", std::string(8, 'x')),
                    "tensor w", "dtype F64 is not supported");
}

TEST(SafetensorsValidation, NegativeDimension) {
  EXPECT_OPEN_ERROR(st_bytes(R"({"w":{"dtype":"F32","shape":[2,-3],"data_offsets":[0,4]}})", "abcd"), "tensor w",
                    "negative dimension -3");
}

TEST(SafetensorsValidation, HugeShapeOverflows) {
  EXPECT_OPEN_ERROR(
      st_bytes(R"({"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}})", "abcd"),
      "tensor w", "too large");
}

TEST(SafetensorsValidation, BeginAfterEnd) {
  EXPECT_OPEN_ERROR(st_bytes(R"({"w":{"dtype":"U8","shape":[0],"data_offsets":[4,2]}})", "abcd"), "tensor w",
                    "begin > end");
}

TEST(SafetensorsValidation, OffsetsOutsideData) {
  EXPECT_OPEN_ERROR(st_bytes(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", "abcd"), "tensor w",
                    "outside the data section (4 bytes)");
  EXPECT_OPEN_ERROR(st_bytes(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", "abcd"), "tensor w",
                    "outside the data section");
}

TEST(SafetensorsValidation, ByteLengthMismatch) {
  EXPECT_OPEN_ERROR(st_bytes(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", std::string(12, 'x')),
                    "tensor w", "F32[3] needs 12 bytes", "hold 8");
}

TEST(SafetensorsValidation, OverlappingTensors) {
  const std::string header = R"({"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]},)"
                             R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  EXPECT_OPEN_ERROR(st_bytes(header, std::string(12, 'x')), "tensors a [0, 8) and b [4, 12) overlap");
  // A small tensor inside a big one, not adjacent in begin order.
  const std::string nested = R"({"big":{"dtype":"U8","shape":[10],"data_offsets":[0,10]},)"
                             R"("mid":{"dtype":"U8","shape":[1],"data_offsets":[2,3]},)"
                             R"("e":{"dtype":"U8","shape":[0],"data_offsets":[5,5]}})";
  EXPECT_OPEN_ERROR(st_bytes(nested, std::string(10, 'x')), "big", "mid", "overlap");
}

TEST(SafetensorsValidation, DuplicateTensorName) {
  const std::string header = R"({"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
                             R"("w":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}})";
  EXPECT_OPEN_ERROR(st_bytes(header, "ab"), "tensor w appears twice");
}

// ------------------------------------------------------------------------------------------------------
// Checkpoint directories

TEST(TensorStoreDir, SingleFile) {
  TempDir dir;
  hl::write_safetensors(dir.file("model.safetensors"), {{"model.embed_tokens.weight", f32({4, 2})}});
  TensorStore s = TensorStore::open_dir(dir.str());
  EXPECT_EQ(s.source(), dir.str());
  EXPECT_EQ(s.file_of("model.embed_tokens.weight"), dir.file("model.safetensors"));
  EXPECT_EQ(s.get("model.embed_tokens.weight", {4, 2}).numel(), 8);
}

TEST(TensorStoreDir, MissingDirAndNoCheckpoint) {
  TempDir dir;
  HL_EXPECT_ERROR(TensorStore::open_dir(dir.file("absent")), dir.file("absent"), "not found");
  HL_EXPECT_ERROR(TensorStore::open_dir(dir.str()), dir.str(), "model.safetensors",
                  "model.safetensors.index.json");
  write_bytes(dir.file("plain"), "x");
  HL_EXPECT_ERROR(TensorStore::open_dir(dir.file("plain")), dir.file("plain"), "not a directory");
}

TEST(TensorStoreDir, MissingTensorNamesTensorAndDir) {
  TempDir dir;
  hl::write_safetensors(dir.file("model.safetensors"), {{"a", f32({1})}});
  TensorStore s = TensorStore::open_dir(dir.str());
  HL_EXPECT_ERROR(s.get("model.final_norm.weight"), dir.str(), "no tensor named model.final_norm.weight");
  HL_EXPECT_ERROR(s.get("model.final_norm.weight", {4}), dir.str(), "model.final_norm.weight");
  HL_EXPECT_ERROR(s.file_of("zz"), "zz");
  HL_EXPECT_ERROR(TensorStore().get("a"), "not opened");
}

TEST(TensorStoreDir, ShapeMismatch) {
  TempDir dir;
  hl::write_safetensors(dir.file("model.safetensors"), {{"model.norm.weight", f32({4, 3})}});
  TensorStore s = TensorStore::open_dir(dir.str());
  HL_EXPECT_ERROR(s.get("model.norm.weight", {4, 4}),
                  dir.file("model.safetensors") +
                      ": tensor model.norm.weight has shape [4, 3], expected [4, 4] from config.json");
}

namespace {

void write_index(const std::string& path, const std::string& weight_map) {
  write_bytes(path, R"({"metadata": {"total_size": 100}, "weight_map": )" + weight_map + "}");
}

}  // namespace

TEST(TensorStoreDir, Sharded) {
  TempDir dir;
  Tensor a = f32({2, 2}, 1.0f), b = half(DType::BF16, {3}), c = f32({1}, 9.0f);
  hl::write_safetensors(dir.file("model-00001-of-00002.safetensors"), {{"layers.0.a", a}, {"layers.0.b", b}},
                        {{"format", "pt"}});
  hl::write_safetensors(dir.file("model-00002-of-00002.safetensors"), {{"layers.1.c", c}, {"unlisted", c}});
  write_index(dir.file("model.safetensors.index.json"),
              R"({"layers.0.a": "model-00001-of-00002.safetensors", "layers.0.b": "model-00001-of-00002.safetensors",
                  "layers.1.c": "model-00002-of-00002.safetensors"})");
  TensorStore s = TensorStore::open_dir(dir.str());
  EXPECT_EQ(s.names(), (std::vector<std::string>{"layers.0.a", "layers.0.b", "layers.1.c"}));
  EXPECT_FALSE(s.has("unlisted"));  // only what the weight map lists
  EXPECT_EQ(s.file_of("layers.0.b"), dir.file("model-00001-of-00002.safetensors"));
  EXPECT_EQ(s.file_of("layers.1.c"), dir.file("model-00002-of-00002.safetensors"));
  EXPECT_TRUE(same_bytes(s.get("layers.0.a"), a));
  EXPECT_TRUE(same_bytes(s.get("layers.0.b"), b));
  EXPECT_TRUE(same_bytes(s.get("layers.1.c", {1}), c));
  EXPECT_EQ(s.total_bytes(), a.nbytes() + b.nbytes() + c.nbytes());
  EXPECT_EQ(s.metadata().at("format"), "pt");
  HL_EXPECT_ERROR(s.get("layers.1.c", {2}), dir.file("model-00002-of-00002.safetensors"), "layers.1.c",
                  "has shape [1], expected [2]");
}

TEST(TensorStoreDir, ShardedMissingShard) {
  TempDir dir;
  hl::write_safetensors(dir.file("model-00001-of-00002.safetensors"), {{"a", f32({1})}});
  write_index(dir.file("model.safetensors.index.json"),
              R"({"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"})");
  HL_EXPECT_ERROR(TensorStore::open_dir(dir.str()), dir.file("model.safetensors.index.json"),
                  "shard model-00002-of-00002.safetensors", "holding tensor b", "not found");
}

TEST(TensorStoreDir, ShardedTensorAbsentFromShard) {
  TempDir dir;
  hl::write_safetensors(dir.file("s1.safetensors"), {{"a", f32({1})}});
  write_index(dir.file("model.safetensors.index.json"), R"({"a": "s1.safetensors", "b": "s1.safetensors"})");
  HL_EXPECT_ERROR(TensorStore::open_dir(dir.str()), dir.file("model.safetensors.index.json"), "tensor b",
                  dir.file("s1.safetensors"), "has no such tensor");
}

TEST(TensorStoreDir, ShardedBrokenShardNamesShard) {
  TempDir dir;
  write_bytes(dir.file("s1.safetensors"), st_bytes("{}", "", 99));
  write_index(dir.file("model.safetensors.index.json"), R"({"a": "s1.safetensors"})");
  HL_EXPECT_ERROR(TensorStore::open_dir(dir.str()), dir.file("s1.safetensors"), "runs past the end");
}

TEST(TensorStoreDir, BadIndex) {
  TempDir dir;
  const std::string index = dir.file("model.safetensors.index.json");
  write_bytes(index, "{\"weight_map\": {\"a\": }");
  HL_EXPECT_ERROR(TensorStore::open_dir(dir.str()), index, "invalid JSON", "line 1");
  write_bytes(index, R"({"metadata": {}})");
  HL_EXPECT_ERROR(TensorStore::open_dir(dir.str()), index, "no \"weight_map\"");
  write_bytes(index, R"({"weight_map": []})");
  HL_EXPECT_ERROR(TensorStore::open_dir(dir.str()), index, "\"weight_map\" is not a JSON object");
  write_bytes(index, R"({"weight_map": {}})");
  HL_EXPECT_ERROR(TensorStore::open_dir(dir.str()), index, "empty");
  write_bytes(index, R"({"weight_map": {"a": 3}})");
  HL_EXPECT_ERROR(TensorStore::open_dir(dir.str()), index, "tensor a", "not a file name");
  write_bytes(index, R"([])");
  HL_EXPECT_ERROR(TensorStore::open_dir(dir.str()), index, "not a JSON object");
}

// ------------------------------------------------------------------------------------------------------
// Streamed writing (random-checkpoint)

TEST(SafetensorsStreamed, RoundTripAndCleanFailure) {
  TempDir dir;
  const std::string path = dir.file("model.safetensors");
  const std::vector<hl::PlannedTensor> planned = {
      {"a", DType::F32, {2, 3}}, {"b", DType::BF16, {3}}, {"e", DType::F32, {0}}, {"c", DType::F16, {4}}};
  std::vector<size_t> filled;
  hl::write_safetensors_streamed(
      path, planned,
      [&](size_t i, void* dst) {
        filled.push_back(i);
        const size_t n = size_t(hl::shape_numel(planned[i].shape)) * hl::dtype_size(planned[i].dtype);
        std::memset(dst, int(i + 1), n);
      },
      {{"format", "pt"}});
  EXPECT_EQ(filled, (std::vector<size_t>{0, 1, 3}));
  TensorStore s = TensorStore::open_file(path);
  EXPECT_EQ(s.names(), (std::vector<std::string>{"a", "b", "c", "e"}));
  EXPECT_EQ(s.get("c", {4}).dtype(), DType::F16);
  EXPECT_EQ(static_cast<const unsigned char*>(s.get("b").raw())[5], 2);
  EXPECT_EQ(static_cast<const unsigned char*>(s.get("c").raw())[7], 4);
  EXPECT_EQ(s.metadata().at("format"), "pt");

  // A throwing fill leaves the old file in place and no temporary behind.
  EXPECT_THROW(hl::write_safetensors_streamed(path, planned, [](size_t, void*) { throw hl::Error("boom"); }),
               hl::Error);
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  EXPECT_EQ(TensorStore::open_file(path).size(), 4u);
  HL_EXPECT_ERROR(hl::write_safetensors_streamed(path, {{"x", DType::F32, {1}}, {"x", DType::F32, {1}}},
                                                 [](size_t, void*) {}),
                  path, "tensor x given twice");
}
