#include "hybridlens/model/moe_routing.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "hybridlens/core/error.hpp"

namespace hl {

std::vector<ExpertBatch> route_top_k(const std::vector<float>& logits, int64_t T, int experts, int k) {
  HL_CHECK(int64_t(logits.size()) == T * experts, "route_top_k: ", logits.size(), " logits for ", T, " tokens and ",
           experts, " experts");
  HL_CHECK(k >= 1 && k <= experts, "route_top_k: cannot choose ", k, " of ", experts, " experts");
  std::vector<ExpertBatch> out(static_cast<size_t>(experts));
  std::vector<float> p(static_cast<size_t>(experts));
  std::vector<int> order(static_cast<size_t>(experts));
  for (int64_t t = 0; t < T; ++t) {
    const float* l = logits.data() + t * experts;
    const float m = *std::max_element(l, l + experts);
    float sum = 0;
    for (int e = 0; e < experts; ++e) sum += p[size_t(e)] = std::exp(l[e] - m);
    for (int e = 0; e < experts; ++e) p[size_t(e)] /= sum;
    std::iota(order.begin(), order.end(), 0);
    std::partial_sort(order.begin(), order.begin() + k, order.end(),
                      [&](int a, int b) { return p[size_t(a)] > p[size_t(b)] || (p[size_t(a)] == p[size_t(b)] && a < b); });
    for (int j = 0; j < k; ++j) {
      ExpertBatch& b = out[size_t(order[size_t(j)])];
      b.rows.push_back(int32_t(t));
      b.weights.push_back(p[size_t(order[size_t(j)])]);
    }
  }
  return out;
}

}  // namespace hl
