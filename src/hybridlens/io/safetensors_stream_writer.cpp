#include "hybridlens/io/safetensors_stream_writer.hpp"

#include <algorithm>
#include <cstring>

#include "hybridlens/io/atomic_file.hpp"
#include "hybridlens/io/safetensors.hpp"

namespace hl {

void write_safetensors_streamed(const std::string& path, const std::vector<PlannedTensor>& tensors,
                                const std::function<void(size_t, void*)>& fill,
                                const std::map<std::string, std::string>& metadata) {
  std::vector<SafetensorsEntry> entries;
  entries.reserve(tensors.size());
  size_t largest = 0;
  for (const PlannedTensor& t : tensors) {
    entries.push_back({t.name, t.dtype, t.shape});
    largest = std::max(largest, size_t(shape_numel(t.shape)) * dtype_size(t.dtype));
  }
  const std::string header = safetensors_header(path, entries, metadata);  // validates names and shapes
  AtomicFileWriter out(path);
  out.write(header);
  std::vector<unsigned char> buf(largest);
  for (size_t i = 0; i < tensors.size(); ++i) {
    const size_t bytes = size_t(shape_numel(tensors[i].shape)) * dtype_size(tensors[i].dtype);
    if (bytes == 0) continue;
    std::memset(buf.data(), 0, bytes);  // bytes fill leaves alone read as zeros, as before
    fill(i, buf.data());
    out.write(buf.data(), bytes);
  }
  out.commit();
}

}  // namespace hl
