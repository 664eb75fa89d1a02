#include "hybridlens/model/model.hpp"

#include <algorithm>

namespace hl {

int ModelInfo::attention_layers() const {
  int n = 0;
  for (const std::string& k : layer_kinds) n += k == "attention";
  return n;
}

void check_token_ids(std::span<const int32_t> ids, int vocab) {
  for (size_t i = 0; i < ids.size(); ++i)
    HL_CHECK(ids[i] >= 0 && ids[i] < vocab, "token id ", ids[i], " at position ", i,
             " is outside the vocabulary (0..", vocab - 1, ")");
}

std::vector<float> chunked_forward(DecodeState& state, int layers, int vocab, std::span<const int32_t> ids,
                                   LogitsWanted wanted,
                                   const std::function<Tensor(std::span<const int32_t>)>& run_chunk,
                                   const std::function<void(const Tensor&, std::vector<float>&)>& append_logits) {
  constexpr int64_t kChunk = 512;
  HL_CHECK(state.layers.size() == size_t(layers), "decode state has ", state.layers.size(), " layers, the model ",
           layers);
  check_token_ids(ids, vocab);
  std::vector<float> logits;
  const int64_t n = int64_t(ids.size());
  for (int64_t b = 0; b < n; b += kChunk) {
    const int64_t e = std::min(n, b + kChunk);
    Tensor x = run_chunk(ids.subspan(size_t(b), size_t(e - b)));
    if (wanted == LogitsWanted::All || (wanted == LogitsWanted::Last && e == n))
      append_logits(wanted == LogitsWanted::All ? x : x.rows(x.dim(0) - 1, x.dim(0)), logits);
  }
  return logits;
}

}  // namespace hl
