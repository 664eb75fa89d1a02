#pragma once
// Top-k routing of a mixture-of-experts layer, as transformers' Jamba/Mixtral routers compute it: softmax
// of the router logits in fp32, torch.topk (largest first; the lower expert index first on ties), the
// chosen probabilities kept as they are (Jamba does not renormalise them).
#include <cstdint>
#include <vector>

namespace hl {

struct ExpertBatch {
  std::vector<int32_t> rows;   // token rows routed to this expert, ascending
  std::vector<float> weights;  // their routing weights
};

// logits: [T, experts] row-major. Returns one batch per expert (empty when no token chose it).
std::vector<ExpertBatch> route_top_k(const std::vector<float>& logits, int64_t T, int experts, int k);

}  // namespace hl
