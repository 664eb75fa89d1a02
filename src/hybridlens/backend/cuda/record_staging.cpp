#include "hybridlens/backend/cuda/record_staging.hpp"

#include <cuda_runtime.h>

#include <algorithm>
#include <cstring>

#include "hybridlens/backend/cuda/cuda_check.hpp"

namespace hl::cuda {
namespace {

size_t round16(size_t n) { return (n + 15) / 16 * 16; }

}  // namespace

RecordStaging::~RecordStaging() {
  if (copies_.data) cudaFreeHost(copies_.data);
  if (arena_host_.data) cudaFreeHost(arena_host_.data);
  if (arena_) cudaFree(arena_);
}

void RecordStaging::reserve(Pinned& p, size_t bytes, const char* what) {
  if (bytes <= p.capacity) return;
  const size_t want = std::max({bytes, 2 * p.capacity, size_t(1) << 20});
  if (p.data) cudaFreeHost(p.data);
  p.data = nullptr;
  p.capacity = 0;
  check_cuda(cudaHostAlloc(reinterpret_cast<void**>(&p.data), want, cudaHostAllocDefault), what);
  p.capacity = want;
}

void* RecordStaging::arena(size_t bytes) {
  bytes = round16(bytes);
  if (arena_used_ + bytes > arena_capacity_) {
    flush();  // nothing refers to the arena past this point, so it may be reused or replaced
    if (bytes > arena_capacity_) {
      const size_t want = std::max({bytes, 2 * arena_capacity_, size_t(1) << 20});
      if (arena_) check_cuda(cudaFree(arena_), "freeing the lens's statistics arena");
      arena_ = nullptr;
      arena_capacity_ = 0;
      check_cuda(cudaMalloc(reinterpret_cast<void**>(&arena_), want), "GPU memory for the lens's statistics");
      arena_capacity_ = want;
    }
  }
  void* p = arena_ + arena_used_;
  arena_used_ += bytes;
  return p;
}

void RecordStaging::queue_arena(void* host, int64_t stride, const void* dev, int64_t rows, int64_t cols,
                                size_t elem) {
  if (rows * cols == 0) return;
  pending_.push_back({static_cast<char*>(host), stride, rows, cols, elem, static_cast<const char*>(dev), true});
}

void RecordStaging::queue(void* host, int64_t stride, const void* dev, int64_t rows, int64_t cols, size_t elem) {
  const size_t bytes = size_t(rows) * size_t(cols) * elem;
  if (bytes == 0) return;
  if (copies_.used + bytes > copies_.capacity) {
    flush();  // nothing is pending past this point, so the staging memory may be replaced
    reserve(copies_, bytes, "pinned staging memory for copies to the host");
  }
  char* to = copies_.data + copies_.used;
  check_cuda(cudaMemcpyAsync(to, dev, bytes, cudaMemcpyDeviceToHost, nullptr), "copying results to the host");
  pending_.push_back({static_cast<char*>(host), stride, rows, cols, elem, to, false});
  copies_.used += round16(bytes);
}

void RecordStaging::flush() {
  if (pending_.empty()) {
    arena_used_ = 0;
    return;
  }
  if (arena_used_ > 0) {
    reserve(arena_host_, arena_used_, "pinned memory for the lens's statistics");
    check_cuda(cudaMemcpyAsync(arena_host_.data, arena_, arena_used_, cudaMemcpyDeviceToHost, nullptr),
               "copying the lens's statistics to the host");
  }
  check_cuda(cudaStreamSynchronize(nullptr), "waiting for the GPU's copies to the host");
  for (const Pending& p : pending_) {
    const char* from = p.in_arena ? arena_host_.data + (p.from - arena_) : p.from;
    for (int64_t r = 0; r < p.rows; ++r)
      std::memcpy(p.host + size_t(r * p.stride) * p.elem, from + size_t(r * p.cols) * p.elem, size_t(p.cols) * p.elem);
  }
  pending_.clear();
  copies_.used = 0;
  arena_used_ = 0;
}

}  // namespace hl::cuda
