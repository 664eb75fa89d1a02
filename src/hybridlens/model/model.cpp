#include "hybridlens/model/model.hpp"

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

}  // namespace hl
