#include "hybridlens/io/safetensors_stream_writer.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>

#include "hybridlens/core/error.hpp"

namespace hl {

void write_safetensors_streamed(const std::string& path, const std::vector<PlannedTensor>& tensors,
                                const std::function<void(size_t, void*)>& fill,
                                const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  size_t offset = 0;
  for (const PlannedTensor& t : tensors) {
    const size_t bytes = size_t(shape_numel(t.shape)) * dtype_size(t.dtype);
    header[t.name] = {{"dtype", dtype_name(t.dtype)}, {"shape", t.shape}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  const std::string tmp = path + ".tmp";
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(tmp.c_str(), "wb"), &std::fclose);
  HL_CHECK(f != nullptr, tmp, ": cannot create: ", std::strerror(errno));
  const uint64_t n = text.size();
  unsigned char len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>(n >> (8 * i));
  bool ok = std::fwrite(len, 1, 8, f.get()) == 8 && std::fwrite(text.data(), 1, text.size(), f.get()) == text.size();
  for (size_t i = 0; ok && i < tensors.size(); ++i) {
    const size_t bytes = size_t(shape_numel(tensors[i].shape)) * dtype_size(tensors[i].dtype);
    std::vector<unsigned char> buf(bytes);
    fill(i, buf.data());
    ok = std::fwrite(buf.data(), 1, bytes, f.get()) == bytes;
  }
  ok = ok && std::fflush(f.get()) == 0;
  f.reset();
  if (!ok) {
    std::filesystem::remove(tmp);
    fail(path, ": write failed (disk full?)");
  }
  std::filesystem::rename(tmp, path);
}

}  // namespace hl
