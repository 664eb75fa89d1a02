#pragma once
// The lens's recordings on their way to host memory. A synchronous copy per attention call drains the GPU's
// queue each time (8 per decode step at batch 1, 64 at batch 8 with the 2B shape); instead attention queues
// each recording as an asynchronous copy into pinned staging memory, and flush() (at the backend's next
// synchronisation: to_host, finish) waits for the stream once and writes them all to their destinations.
// to_host's own copy goes the same way (pinned memory is several times faster to copy into than pageable).
#include <cstddef>
#include <cstdint>
#include <vector>

namespace hl::cuda {

class RecordStaging {
 public:
  RecordStaging() = default;
  ~RecordStaging();
  RecordStaging(const RecordStaging&) = delete;
  RecordStaging& operator=(const RecordStaging&) = delete;

  // Queues `rows` x `cols` elements of `elem` bytes (device rows contiguous) for the host matrix at `host`
  // whose rows are `stride` elements apart.
  void queue(void* host, int64_t stride, const void* dev, int64_t rows, int64_t cols, size_t elem);
  // Waits for the default stream and writes every queued recording to its destination.
  void flush();

 private:
  struct Pending {
    char* host;
    int64_t stride, rows, cols;
    size_t elem, offset;
  };
  char* pinned_ = nullptr;
  size_t capacity_ = 0, used_ = 0;
  std::vector<Pending> pending_;
};

}  // namespace hl::cuda
