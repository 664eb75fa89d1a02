#include "hybridlens/backend/cuda/record_staging.hpp"

#include <cuda_runtime.h>

#include <algorithm>
#include <cstring>

#include "hybridlens/backend/cuda/cuda_check.hpp"

namespace hl::cuda {

RecordStaging::~RecordStaging() {
  if (pinned_) cudaFreeHost(pinned_);
}

void RecordStaging::queue(void* host, int64_t stride, const void* dev, int64_t rows, int64_t cols, size_t elem) {
  const size_t bytes = size_t(rows) * size_t(cols) * elem;
  if (bytes == 0) return;
  if (used_ + bytes > capacity_) {
    flush();  // nothing is pending past this point, so the staging memory may be replaced
    if (bytes > capacity_) {
      const size_t want = std::max({bytes, 2 * capacity_, size_t(1) << 20});
      if (pinned_) cudaFreeHost(pinned_);
      pinned_ = nullptr;
      capacity_ = 0;
      check_cuda(cudaHostAlloc(reinterpret_cast<void**>(&pinned_), want, cudaHostAllocDefault),
                 "pinned staging memory for copies to the host");
      capacity_ = want;
    }
  }
  check_cuda(cudaMemcpyAsync(pinned_ + used_, dev, bytes, cudaMemcpyDeviceToHost, nullptr),
             "copying results to the host");
  pending_.push_back({static_cast<char*>(host), stride, rows, cols, elem, used_});
  used_ += (bytes + 15) / 16 * 16;
}

void RecordStaging::flush() {
  if (pending_.empty()) return;
  check_cuda(cudaStreamSynchronize(nullptr), "waiting for the GPU's copies to the host");
  for (const Pending& p : pending_)
    for (int64_t r = 0; r < p.rows; ++r)
      std::memcpy(p.host + size_t(r * p.stride) * p.elem, pinned_ + p.offset + size_t(r * p.cols) * p.elem,
                  size_t(p.cols) * p.elem);
  pending_.clear();
  used_ = 0;
}

}  // namespace hl::cuda
