#include "hybridlens/io/safetensors.hpp"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <set>

#include <nlohmann/json.hpp>

#include "hybridlens/core/error.hpp"
#include "hybridlens/io/atomic_file.hpp"
#include "hybridlens/io/json_file.hpp"

namespace hl {

namespace fs = std::filesystem;
using nlohmann::json;

static_assert(std::endian::native == std::endian::little, "safetensors and .npy I/O assume a little-endian host");

namespace {

constexpr const char* kSupportedDTypes = "F32, BF16, F16, I32, U8";
constexpr const char* kMetadataKey = "__metadata__";

// Dtype names of the safetensors format that this engine does not read.
bool is_known_unsupported_dtype(const std::string& s) {
  static const std::set<std::string> known = {"BOOL", "I8",      "I16",     "U16",     "U32",
                                              "I64",  "U64",     "F64",     "C64",     "F8_E4M3",
                                              "F8_E5M2", "F8_E8M0", "F4",   "F6_E2M3", "F6_E3M2"};
  return known.count(s) != 0;
}

// A non-negative JSON integer that fits in int64 (so it fits shapes and size_t on 64-bit hosts).
bool json_to_u63(const json& v, uint64_t* out) {
  if (v.is_number_unsigned()) {
    const uint64_t u = v.get<uint64_t>();
    if (u > uint64_t(std::numeric_limits<int64_t>::max())) return false;
    *out = u;
    return true;
  }
  if (v.is_number_integer()) {
    const int64_t i = v.get<int64_t>();
    if (i < 0) return false;
    *out = uint64_t(i);
    return true;
  }
  return false;
}

// Validates one header entry; `where` is "<file>: tensor <name>".
TensorInfo parse_entry(const std::string& where, const std::string& name, const json& e, size_t data_size) {
  TensorInfo info;
  info.name = name;
  HL_CHECK(e.is_object(), where, ": header entry is not a JSON object but ", e.type_name());

  // dtype
  auto d = e.find("dtype");
  HL_CHECK(d != e.end(), where, ": header entry has no \"dtype\"");
  HL_CHECK(d->is_string(), where, ": \"dtype\" is not a string but ", d->type_name());
  const std::string dt = d->get<std::string>();
  if (!parse_safetensors_dtype(dt, &info.dtype)) {
    if (is_known_unsupported_dtype(dt)) fail(where, ": dtype ", dt, " is not supported (supported: ", kSupportedDTypes, ")");
    fail(where, ": unknown dtype \"", dt, "\" (supported: ", kSupportedDTypes, ")");
  }

  // shape
  auto s = e.find("shape");
  HL_CHECK(s != e.end(), where, ": header entry has no \"shape\"");
  HL_CHECK(s->is_array(), where, ": \"shape\" is not an array but ", s->type_name());
  uint64_t numel = 1;
  bool overflow = false;
  for (const json& dim : *s) {
    if (dim.is_number_integer() && !dim.is_number_unsigned() && dim.get<int64_t>() < 0)
      fail(where, ": negative dimension ", dim.get<int64_t>(), " in shape ", s->dump());
    uint64_t u = 0;
    HL_CHECK(json_to_u63(dim, &u), where, ": shape ", s->dump(), " has a dimension that is not a non-negative integer");
    info.shape.push_back(int64_t(u));
    overflow |= __builtin_mul_overflow(numel, u, &numel);
  }
  uint64_t nbytes = 0;
  overflow |= __builtin_mul_overflow(numel, uint64_t(dtype_size(info.dtype)), &nbytes);
  HL_CHECK(!overflow, where, ": shape ", s->dump(), " is too large");

  // data_offsets
  auto o = e.find("data_offsets");
  HL_CHECK(o != e.end(), where, ": header entry has no \"data_offsets\"");
  uint64_t begin = 0, end = 0;
  HL_CHECK(o->is_array() && o->size() == 2 && json_to_u63((*o)[0], &begin) && json_to_u63((*o)[1], &end), where,
           ": \"data_offsets\" must be [begin, end] with non-negative integers, got ", o->dump());
  HL_CHECK(begin <= end, where, ": data_offsets ", o->dump(), " have begin > end");
  HL_CHECK(end <= data_size, where, ": data_offsets ", o->dump(), " lie outside the data section (", data_size,
           " bytes)");
  HL_CHECK(end - begin == nbytes, where, ": ", dt, shape_str(info.shape), " needs ", nbytes,
           " bytes but data_offsets ", o->dump(), " hold ", end - begin);
  info.begin = size_t(begin);
  info.end = size_t(end);
  return info;
}

}  // namespace

bool parse_safetensors_dtype(const std::string& name, DType* out) {
  static const std::pair<const char*, DType> table[] = {
      {"F32", DType::F32}, {"BF16", DType::BF16}, {"F16", DType::F16}, {"I32", DType::I32}, {"U8", DType::U8}};
  for (const auto& [n, d] : table) {
    if (name == n) {
      *out = d;
      return true;
    }
  }
  return false;
}

// ---------------------------------------------------------------------------------------------------------
// SafetensorsFile

std::shared_ptr<const SafetensorsFile> SafetensorsFile::open(const std::string& path) {
  std::shared_ptr<SafetensorsFile> f(new SafetensorsFile());
  f->file_ = MappedFile::open(path);
  const size_t size = f->file_->size();
  const unsigned char* base = f->file_->data();

  HL_CHECK(size >= 8, path, ": not a safetensors file: ", size,
           " bytes, too short for the 8-byte header length");
  uint64_t header_len = 0;
  std::memcpy(&header_len, base, 8);  // little-endian, as is every host this engine supports
  HL_CHECK(header_len <= size - 8, path, ": not a safetensors file: header length ", header_len,
           " runs past the end of the file (", size, " bytes)");
  const char* header = reinterpret_cast<const char*>(base + 8);
  f->data_ = base + 8 + header_len;
  f->data_size_ = size - 8 - size_t(header_len);

  // Parse the header, noting repeated top-level keys (nlohmann would keep only the last one).
  std::set<std::string> seen;
  std::string duplicate;
  json::parser_callback_t on_event = [&](int depth, json::parse_event_t ev, json& parsed) {
    if (ev == json::parse_event_t::key && depth == 1 && duplicate.empty()) {
      const std::string& k = parsed.get_ref<const std::string&>();
      if (!seen.insert(k).second) duplicate = k;
    }
    return true;
  };
  // nlohmann's lexer stops at a NUL byte as if the input ended there; JSON never contains a raw NUL.
  if (const void* nul = std::memchr(header, 0, header_len))
    fail(path, ": safetensors header is not valid JSON: NUL byte at header offset ",
         static_cast<const char*>(nul) - header);
  json h;
  try {
    h = json::parse(header, header + header_len, on_event);
  } catch (const json::exception& e) {
    fail(path, ": safetensors header is not valid JSON: ", json_error_message(e));
  }
  HL_CHECK(h.is_object(), path, ": safetensors header is not a JSON object but ", h.type_name());
  HL_CHECK(duplicate.empty(), path, ": tensor ", duplicate, " appears twice in the header");

  for (auto it = h.begin(); it != h.end(); ++it) {
    if (it.key() == kMetadataKey) {
      HL_CHECK(it->is_object() || it->is_null(), path, ": \"__metadata__\" is not a JSON object but ",
               it->type_name());
      if (it->is_object())
        for (auto m = it->begin(); m != it->end(); ++m)
          f->metadata_[m.key()] = m->is_string() ? m->get<std::string>() : m->dump();
      continue;
    }
    f->tensors_.push_back(parse_entry(path + ": tensor " + it.key(), it.key(), *it, f->data_size_));
  }

  // Overlaps: in order of begin, every non-empty tensor must start at or after the furthest end so far.
  std::sort(f->tensors_.begin(), f->tensors_.end(), [](const TensorInfo& a, const TensorInfo& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  const TensorInfo* furthest = nullptr;
  for (const TensorInfo& t : f->tensors_) {
    if (t.begin == t.end) continue;  // empty tensors hold no bytes
    if (furthest && t.begin < furthest->end)
      fail(path, ": tensors ", furthest->name, " [", furthest->begin, ", ", furthest->end, ") and ", t.name, " [",
           t.begin, ", ", t.end, ") overlap in the data section");
    if (!furthest || t.end > furthest->end) furthest = &t;
  }
  for (size_t i = 0; i < f->tensors_.size(); ++i) f->by_name_[f->tensors_[i].name] = i;
  return f;
}

const TensorInfo* SafetensorsFile::find(const std::string& name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &tensors_[it->second];
}

Tensor SafetensorsFile::tensor(const TensorInfo& info) const {
  const unsigned char* p = data_ + info.begin;
  const size_t align = dtype_size(info.dtype);
  if (reinterpret_cast<uintptr_t>(p) % align == 0) {
    // The mapping is read-only (PROT_READ); Tensor::view takes void* only because tensors are also writable
    // buffers elsewhere. Nothing writes to checkpoint tensors.
    return Tensor::view(const_cast<unsigned char*>(p), info.dtype, info.shape, file_);
  }
  // Misaligned for its dtype (the format allows this): copy just this tensor into an aligned buffer, so that
  // kernels can read it through typed pointers without undefined behaviour.
  Tensor t = Tensor::zeros(info.dtype, info.shape);
  if (t.nbytes() > 0) std::memcpy(t.raw(), p, t.nbytes());
  return t;
}

// ---------------------------------------------------------------------------------------------------------
// TensorStore

TensorStore TensorStore::open_file(const std::string& path) { return from_file(path, path); }

TensorStore TensorStore::from_file(const std::string& path, const std::string& source) {
  auto state = std::make_shared<State>();
  state->source = source;
  auto file = SafetensorsFile::open(path);
  for (const TensorInfo& t : file->tensors()) state->entries[t.name] = Entry{file, &t};
  state->metadata = file->metadata();
  return TensorStore(std::move(state));
}

TensorStore TensorStore::open_dir(const std::string& dir) {
  std::error_code ec;
  HL_CHECK(fs::exists(dir, ec), dir, ": checkpoint directory not found");
  HL_CHECK(fs::is_directory(dir, ec), dir, ": not a directory (expected a checkpoint directory)");
  const fs::path single = fs::path(dir) / "model.safetensors";
  const fs::path index_path = fs::path(dir) / "model.safetensors.index.json";
  if (fs::exists(single, ec)) return from_file(single.string(), dir);
  HL_CHECK(fs::exists(index_path, ec), dir,
           ": no checkpoint found: neither model.safetensors nor model.safetensors.index.json exists");

  const std::string ipath = index_path.string();
  const json index = read_json_file(ipath);
  HL_CHECK(index.is_object(), ipath, ": not a JSON object");
  auto wm = index.find("weight_map");
  HL_CHECK(wm != index.end(), ipath, ": no \"weight_map\"");
  HL_CHECK(wm->is_object(), ipath, ": \"weight_map\" is not a JSON object but ", wm->type_name());
  HL_CHECK(!wm->empty(), ipath, ": \"weight_map\" is empty");

  // shard file -> (tensor names it should hold)
  std::map<std::string, std::vector<std::string>> shards;
  for (auto it = wm->begin(); it != wm->end(); ++it) {
    HL_CHECK(it->is_string(), ipath, ": weight_map entry for tensor ", it.key(), " is not a file name but ",
             it->type_name());
    const std::string shard = it->get<std::string>();
    HL_CHECK(!shard.empty(), ipath, ": weight_map entry for tensor ", it.key(), " is an empty file name");
    shards[shard].push_back(it.key());
  }

  auto state = std::make_shared<State>();
  state->source = dir;
  for (const auto& [shard, tensor_names] : shards) {
    const fs::path shard_path = fs::path(dir) / shard;
    HL_CHECK(fs::is_regular_file(shard_path, ec), ipath, ": shard ", shard, " (holding tensor ", tensor_names.front(),
             tensor_names.size() > 1 ? " and others" : "", ") not found in ", dir);
    auto file = SafetensorsFile::open(shard_path.string());
    for (const std::string& name : tensor_names) {
      const TensorInfo* info = file->find(name);
      HL_CHECK(info != nullptr, ipath, ": tensor ", name, " is mapped to ", shard, ", but ", shard_path.string(),
               " has no such tensor");
      state->entries[name] = Entry{file, info};
    }
    for (const auto& kv : file->metadata()) state->metadata.insert(kv);
  }
  return TensorStore(std::move(state));
}

const TensorStore::Entry& TensorStore::entry(const std::string& name) const {
  HL_CHECK(state_ != nullptr, "tensor store not opened (asked for tensor ", name, ")");
  auto it = state_->entries.find(name);
  HL_CHECK(it != state_->entries.end(), state_->source, ": no tensor named ", name, " in this checkpoint (",
           state_->entries.size(), state_->entries.size() == 1 ? " tensor)" : " tensors)");
  return it->second;
}

bool TensorStore::has(const std::string& name) const {
  return state_ && state_->entries.count(name) != 0;
}

Tensor TensorStore::get(const std::string& name) const {
  const Entry& e = entry(name);
  return e.file->tensor(*e.info);
}

Tensor TensorStore::get(const std::string& name, const Shape& expected) const {
  const Entry& e = entry(name);
  HL_CHECK(e.info->shape == expected, e.file->path(), ": tensor ", name, " has shape ", shape_str(e.info->shape),
           ", expected ", shape_str(expected), " from config.json");
  return e.file->tensor(*e.info);
}

const TensorInfo& TensorStore::info(const std::string& name) const { return *entry(name).info; }

std::vector<std::string> TensorStore::names() const {
  std::vector<std::string> out;
  if (!state_) return out;
  out.reserve(state_->entries.size());
  for (const auto& kv : state_->entries) out.push_back(kv.first);
  return out;
}

size_t TensorStore::size() const { return state_ ? state_->entries.size() : 0; }

std::string TensorStore::file_of(const std::string& name) const { return entry(name).file->path(); }

size_t TensorStore::total_bytes() const {
  size_t n = 0;
  if (state_)
    for (const auto& kv : state_->entries) n += kv.second.info->end - kv.second.info->begin;
  return n;
}

const std::string& TensorStore::source() const {
  static const std::string none;
  return state_ ? state_->source : none;
}

const std::map<std::string, std::string>& TensorStore::metadata() const {
  static const std::map<std::string, std::string> none;
  return state_ ? state_->metadata : none;
}

// ---------------------------------------------------------------------------------------------------------
// Writing

std::string safetensors_header(const std::string& path, const std::vector<SafetensorsEntry>& tensors,
                               const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) {
    nlohmann::ordered_json m = nlohmann::ordered_json::object();
    for (const auto& [k, v] : metadata) m[k] = v;
    header[kMetadataKey] = std::move(m);
  }
  std::set<std::string> names;
  size_t offset = 0;
  for (const SafetensorsEntry& t : tensors) {
    HL_CHECK(!t.name.empty(), path, ": cannot write a tensor with an empty name");
    HL_CHECK(t.name != kMetadataKey, path, ": \"__metadata__\" cannot be a tensor name");
    HL_CHECK(names.insert(t.name).second, path, ": tensor ", t.name, " given twice");
    for (int64_t d : t.shape)
      HL_CHECK(d >= 0, path, ": tensor ", t.name, " has a negative dimension in shape ", shape_str(t.shape));
    const size_t n = size_t(shape_numel(t.shape)) * dtype_size(t.dtype);
    header[t.name] = {{"dtype", dtype_name(t.dtype)}, {"shape", t.shape}, {"data_offsets", {offset, offset + n}}};
    offset += n;
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const nlohmann::json::exception& e) {
    fail(path, ": cannot write the header: ", json_error_message(e));
  }
  text.append((8 - text.size() % 8) % 8, ' ');
  const uint64_t header_len = text.size();
  std::string out(8, '\0');
  std::memcpy(out.data(), &header_len, 8);  // little-endian host
  return out + text;
}

void write_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  std::vector<SafetensorsEntry> entries;
  entries.reserve(tensors.size());
  for (const auto& [name, t] : tensors) {
    HL_CHECK(t.defined(), path, ": tensor ", name, " is undefined");
    HL_CHECK(t.device().kind == DeviceKind::CPU, path, ": tensor ", name, " is on ", t.device().str(),
             ", not the CPU");
    entries.push_back({name, t.dtype(), t.shape()});
  }
  const std::string header = safetensors_header(path, entries, metadata);
  AtomicFileWriter out(path);
  out.write(header);
  for (const auto& kv : tensors)
    if (kv.second.nbytes() > 0) out.write(kv.second.raw(), kv.second.nbytes());
  out.commit();
}

}  // namespace hl
