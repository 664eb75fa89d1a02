#include "hybridlens/backend/cuda/op_profile.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>

namespace hl::cuda {

OpProfile::OpProfile() {
  const char* v = std::getenv("HL_CUDA_PROFILE");
  on_ = v && *v && std::strcmp(v, "0") != 0;
  events_ = on_ && std::strcmp(v, "host") != 0;
}

OpProfile::~OpProfile() { report(); }

OpProfile::Scope::Scope(OpProfile* p, const char* op) : p_(p) {
  if (!p_) return;
  start_ = std::chrono::steady_clock::now();
  Record r{op, nullptr, nullptr, 0.0};
  if (p_->events_) {
    cudaEventCreate(&r.begin);
    cudaEventCreate(&r.end);
    cudaEventRecord(r.begin, nullptr);
  }
  index_ = p_->records_.size();
  p_->records_.push_back(r);
}

OpProfile::Scope::~Scope() {
  if (!p_) return;
  if (p_->events_) cudaEventRecord(p_->records_[index_].end, nullptr);
  p_->records_[index_].host_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start_).count();
}

void OpProfile::report() {
  if (!on_ || records_.empty()) return;
  cudaDeviceSynchronize();
  struct Sum {
    long calls = 0;
    double ms = 0, host_ms = 0;
  };
  std::map<std::string, Sum> sums;
  double total = 0, host_total = 0;
  for (const Record& r : records_) {
    float ms = 0;
    if (events_) cudaEventElapsedTime(&ms, r.begin, r.end);
    Sum& s = sums[r.op];
    ++s.calls;
    s.ms += ms;
    s.host_ms += r.host_ms;
    total += ms;
    host_total += r.host_ms;
    if (events_) {
      cudaEventDestroy(r.begin);
      cudaEventDestroy(r.end);
    }
  }
  records_.clear();
  std::vector<std::pair<std::string, Sum>> rows(sums.begin(), sums.end());
  std::sort(rows.begin(), rows.end(), [&](const auto& a, const auto& b) {
    return events_ ? a.second.ms > b.second.ms : a.second.host_ms > b.second.host_ms;
  });
  std::fprintf(stderr, "cuda profile (HL_CUDA_PROFILE): %-22s %8s %12s %7s %12s\n", "operation", "calls", "GPU ms",
               "share", "host ms");
  for (const auto& [op, s] : rows)
    std::fprintf(stderr, "cuda profile (HL_CUDA_PROFILE): %-22s %8ld %12.3f %6.1f%% %12.3f\n", op.c_str(), s.calls,
                 s.ms, total > 0 ? 100.0 * s.ms / total : 0.0, s.host_ms);
  std::fprintf(stderr, "cuda profile (HL_CUDA_PROFILE): %-22s %8s %12.3f %7s %12.3f\n", "total", "", total, "",
               host_total);
}

}  // namespace hl::cuda
