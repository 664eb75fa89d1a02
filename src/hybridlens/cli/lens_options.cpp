#include "hybridlens/cli/lens_options.hpp"

#include <iostream>

#include "hybridlens/io/npy.hpp"
#include "hybridlens/lens/needle_locator.hpp"

namespace hl::cli {

void LensOptions::add_to(CLI::App& cmd) {
  cmd.add_option("--keep-heads", keep_heads, "attention heads kept per layer per token: K or all")
      ->capture_default_str();
  cmd.add_option("--rank", rank, "how heads are ranked: entropy-low, entropy-high, random:SEED, fixed:FILE")
      ->capture_default_str();
  cmd.add_option("--sparsify", sparsify, "phase where heads are dropped: generation, prefill, both")
      ->capture_default_str();
  cmd.add_option("--prefill-manipulation", prefill_manipulation,
                 "attention at the needle during prefill: keep, omit, only, binary, null")
      ->capture_default_str();
  cmd.add_option("--generation-manipulation", generation_manipulation,
                 "attention at the needle during generation: keep, omit, only, binary, null")
      ->capture_default_str();
  cmd.add_flag("--binary-layer-mean", binary_layer_mean,
               "binary: spread the layer's mean needle mass instead of each head's own");
  auto* span = cmd.add_option("--needle-span", needle_span, "needle as token positions A:B (end exclusive)");
  auto* text = cmd.add_option("--needle-text", needle_text, "needle as a text located in the prompt");
  span->excludes(text);
  text->excludes(span);
  cmd.add_option("--entropy-out", entropy_out, "write per-head entropy (nats), float32 [attn layers, heads, positions]");
  cmd.add_option("--kept-heads-out", kept_heads_out, "write kept heads, uint8 [attn layers, heads, positions]");
}

std::unique_ptr<Lens> LensOptions::make(const ModelInfo& info, const std::vector<int32_t>& ids,
                                        const Tokenizer* tok) const {
  LensPlan plan;
  plan.keep_k = parse_keep_heads(keep_heads);
  parse_rank(rank, plan);
  plan.sparsify = parse_sparsify(sparsify);
  plan.prefill_manipulation = parse_manipulation(prefill_manipulation);
  plan.generation_manipulation = parse_manipulation(generation_manipulation);
  plan.binary_layer_mean = binary_layer_mean;
  plan.record_entropy = !entropy_out.empty();
  plan.record_kept = !kept_heads_out.empty();
  if (!needle_span.empty()) {
    plan.needle = parse_needle_span(needle_span);
    HL_CHECK(plan.needle->end <= int64_t(ids.size()), "--needle-span ", needle_span, " ends past the prompt's ",
             ids.size(), " tokens");
  } else if (!needle_text.empty()) {
    HL_CHECK(tok != nullptr, "--needle-text needs the model's tokenizer; use --needle-span");
    plan.needle = locate_needle(*tok, ids, needle_text);
  }
  if (plan.is_identity()) return nullptr;
  HL_CHECK(info.attention_layers() > 0, "this model has no attention layers: the lens flags have nothing to act on");
  return std::make_unique<Lens>(std::move(plan), info.attention_layers(), info.heads);
}

void LensOptions::write_outputs(const Lens* lens) const {
  if (!entropy_out.empty() && lens) {
    write_npy(entropy_out, lens->entropy());
    std::cerr << "wrote entropy " << lens->entropy().describe() << " to " << entropy_out << "\n";
  }
  if (!kept_heads_out.empty() && lens) {
    write_npy(kept_heads_out, lens->kept());
    std::cerr << "wrote kept heads to " << kept_heads_out << "\n";
  }
}

}  // namespace hl::cli
