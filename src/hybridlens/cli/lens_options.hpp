#pragma once
// The lens flags shared by forward and generate (METHOD.md names), and the files they write.
#include <CLI/CLI.hpp>
#include <memory>
#include <string>
#include <vector>

#include "hybridlens/io/tokenizer.hpp"
#include "hybridlens/lens/lens.hpp"
#include "hybridlens/model/model.hpp"

namespace hl::cli {

struct LensOptions {
  std::string keep_heads = "all";
  std::string rank = "entropy-low";
  std::string sparsify = "generation";
  std::string prefill_manipulation = "keep";
  std::string generation_manipulation = "keep";
  bool binary_layer_mean = false;
  std::string needle_span;
  std::string needle_text;
  std::string entropy_out;
  std::string kept_heads_out;

  void add_to(CLI::App& cmd);
  // Null when the flags leave the model unmodified and record nothing (the run then has no lens at all).
  std::unique_ptr<Lens> make(const ModelInfo& info, const std::vector<int32_t>& ids, const Tokenizer* tok) const;
  // Writes --entropy-out / --kept-heads-out.
  void write_outputs(const Lens* lens) const;
};

}  // namespace hl::cli
