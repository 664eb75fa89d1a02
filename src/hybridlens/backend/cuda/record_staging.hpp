#pragma once
// The lens's recordings on their way to host memory. A synchronous copy per attention call drains the GPU's
// queue each time (8 per decode step at batch 1, 64 at batch 8 with the 2B shape), and even one asynchronous
// copy per recording costs an API call and a copy in the stream each. Instead attention places the statistics
// it may record in a device arena (arena()) and queues the recordings by reference (queue_arena: no copy);
// flush() (at the backend's next synchronisation: to_host, finish) copies the used part of the arena to
// pinned memory in one transfer, waits for the stream once and writes every recording to its destination.
// queue() copies from any device memory (to_host's own copy goes that way: pinned memory is several times
// faster to copy into than pageable).
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

  // `bytes` of device memory (16-byte aligned) that stays valid, and unused by anything else, until the next
  // flush; a full arena is flushed (a wait) and reused or replaced by a larger one.
  void* arena(size_t bytes);
  // Queues `rows` x `cols` elements of `elem` bytes (device rows contiguous) for the host matrix at `host`
  // whose rows are `stride` elements apart. queue_arena: `dev` lies in memory arena() returned since the
  // last flush; queue: any device memory, copied now (asynchronously).
  void queue_arena(void* host, int64_t stride, const void* dev, int64_t rows, int64_t cols, size_t elem);
  void queue(void* host, int64_t stride, const void* dev, int64_t rows, int64_t cols, size_t elem);
  // Waits for the default stream and writes every queued recording to its destination.
  void flush();

 private:
  struct Pending {
    char* host;
    int64_t stride, rows, cols;
    size_t elem;
    const char* from;  // queue(): in copies_; queue_arena(): in the device arena, mirrored at flush
    bool in_arena;
  };
  // Pinned host memory of `capacity` bytes, `used` of them queued for.
  struct Pinned {
    char* data = nullptr;
    size_t capacity = 0, used = 0;
  };
  static void reserve(Pinned& p, size_t bytes, const char* what);

  Pinned copies_;          // queue(): one asynchronous copy each
  Pinned arena_host_;      // the arena's mirror, filled by one copy at flush
  char* arena_ = nullptr;  // device
  size_t arena_capacity_ = 0, arena_used_ = 0;
  std::vector<Pending> pending_;
};

}  // namespace hl::cuda
