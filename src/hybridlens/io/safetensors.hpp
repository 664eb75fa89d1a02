#pragma once
// Safetensors checkpoints: reading (memory-mapped, validated before anything runs) and writing.
//
// File layout: 8-byte little-endian header length N, N bytes of JSON header
//   {"__metadata__": {"k": "v"}, "name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...}
// then the data section; offsets are relative to the start of the data section.
//
// Every error is an hl::Error with one line naming the file (and the tensor where there is one).
#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "hybridlens/core/mapped_file.hpp"
#include "hybridlens/core/tensor.hpp"

namespace hl {

// One tensor entry of a safetensors header.
struct TensorInfo {
  std::string name;
  DType dtype = DType::F32;
  Shape shape;
  size_t begin = 0;  // byte offsets into the data section, [begin, end)
  size_t end = 0;
};

// The dtypes this reader accepts: F32, BF16, F16, I32, U8. Returns false for anything else.
bool parse_safetensors_dtype(const std::string& name, DType* out);

// One validated safetensors file, memory-mapped.
class SafetensorsFile {
 public:
  // Maps and validates the whole header: file size, header length, JSON, each entry's dtype, shape and
  // data_offsets, byte lengths, bounds, overlaps, duplicate names. Throws hl::Error on the first problem.
  static std::shared_ptr<const SafetensorsFile> open(const std::string& path);

  const std::string& path() const { return file_->path(); }
  // The "__metadata__" map (empty when the file has none). Non-string values are kept as their JSON text.
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  // Entries in the order of their data offsets.
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  // nullptr when there is no tensor of that name.
  const TensorInfo* find(const std::string& name) const;
  // A view of the tensor's bytes in the mapping (owner: the mapping). Read-only memory: never write
  // through it. If the bytes are not aligned to the dtype's size (safetensors does not promise alignment,
  // e.g. an F32 tensor after an odd-length BF16 one), that one tensor is copied into an aligned buffer,
  // because the engine dereferences typed pointers.
  Tensor tensor(const TensorInfo& info) const;
  // Bytes in the data section.
  size_t data_size() const { return data_size_; }

 private:
  SafetensorsFile() = default;
  std::shared_ptr<MappedFile> file_;
  const unsigned char* data_ = nullptr;  // start of the data section
  size_t data_size_ = 0;
  std::map<std::string, std::string> metadata_;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t> by_name_;  // index into tensors_
};

// All tensors of a checkpoint, possibly spread over shards. Cheap to copy (shared, immutable state).
class TensorStore {
 public:
  TensorStore() = default;  // empty: has() is false, get() throws
  // <dir>/model.safetensors, or <dir>/model.safetensors.index.json ("weight_map": name -> shard file)
  // for sharded checkpoints. Every shard is opened and validated here; every tensor of the weight map
  // must exist in its shard.
  static TensorStore open_dir(const std::string& dir);
  // One safetensors file holding the whole checkpoint.
  static TensorStore open_file(const std::string& path);

  bool has(const std::string& name) const;
  // Memory-mapped view (see SafetensorsFile::tensor); never copies aligned data.
  // Throws "<source>: no tensor named <name> in this checkpoint (<n> tensors)".
  Tensor get(const std::string& name) const;
  // As get(name), and checks the shape:
  // throws "<file>: tensor <name> has shape [..], expected [..] from config.json".
  Tensor get(const std::string& name, const Shape& expected) const;
  // Header entry (dtype, shape, offsets) without touching the data.
  const TensorInfo& info(const std::string& name) const;
  // All tensor names, sorted.
  std::vector<std::string> names() const;
  size_t size() const;
  // Path of the file holding `name`.
  std::string file_of(const std::string& name) const;
  // Sum of the byte sizes of all tensors.
  size_t total_bytes() const;
  // The directory (open_dir) or file (open_file) this store was opened from.
  const std::string& source() const;
  // "__metadata__" of every file, merged (the first file in name order wins on a conflicting key).
  const std::map<std::string, std::string>& metadata() const;

 private:
  struct Entry {
    std::shared_ptr<const SafetensorsFile> file;
    const TensorInfo* info = nullptr;
  };
  struct State {
    std::string source;
    std::map<std::string, Entry> entries;
    std::map<std::string, std::string> metadata;
  };
  explicit TensorStore(std::shared_ptr<const State> s) : state_(std::move(s)) {}
  static TensorStore from_file(const std::string& path, const std::string& source);
  const Entry& entry(const std::string& name) const;
  std::shared_ptr<const State> state_;
};

// Name, dtype and shape of a tensor to be written.
struct SafetensorsEntry {
  std::string name;
  DType dtype = DType::F32;
  Shape shape;
};

// The first bytes of a safetensors file holding `tensors` contiguously in the given order: the 8-byte
// header length, then the JSON header ("__metadata__" first when not empty) padded with spaces to a
// multiple of 8 bytes. Checks the names (distinct, non-empty, not "__metadata__") and shapes;
// errors name `path`.
std::string safetensors_header(const std::string& path, const std::vector<SafetensorsEntry>& tensors,
                               const std::map<std::string, std::string>& metadata = {});

// Writes a safetensors file: the header (tensors in the given order, "__metadata__" first when not empty)
// padded with spaces to a multiple of 8 bytes, then the data in the given order, contiguous. Written to
// "<path>.tmp" and renamed into place. Tensors must be defined CPU tensors with distinct, non-empty names
// other than "__metadata__".
void write_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace hl
