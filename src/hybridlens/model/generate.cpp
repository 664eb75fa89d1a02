#include "hybridlens/model/generate.hpp"

#include <algorithm>
#include <chrono>

namespace hl {
namespace {
double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

GenerateResult continue_greedy(Model& model, DecodeState& state, std::span<const float> last_logits,
                               const GenerateOptions& opt) {
  GenerateResult r;
  const int64_t V = model.info().vocab;
  HL_CHECK(int64_t(last_logits.size()) == V, "continue_greedy: expected ", V, " logits, got ", last_logits.size());
  const auto t0 = std::chrono::steady_clock::now();
  DecodeState* const states[1] = {&state};
  LensHook* const lenses[1] = {opt.lens};
  int32_t next = argmax(last_logits.data(), V);
  for (int i = 0; i < opt.max_new_tokens; ++i) {
    r.new_ids.push_back(next);
    if (opt.on_token) opt.on_token(next);
    if ((opt.stop_at_eos && next == model.info().eos_id) || i + 1 == opt.max_new_tokens) break;
    const int32_t ids[1] = {next};
    next = model.forward_batch_greedy(states, ids, Phase::Generation, lenses)[0];
  }
  r.decode_seconds = seconds_since(t0);
  return r;
}

std::vector<GenerateResult> continue_greedy_batch(Model& model, std::span<DecodeState* const> states,
                                                  std::span<const std::span<const float>> last_logits,
                                                  std::span<const GenerateOptions> opts, size_t max_batch) {
  const size_t B = states.size();
  const int64_t V = model.info().vocab;
  HL_CHECK(max_batch > 0, "continue_greedy_batch: max_batch must be positive");
  HL_CHECK(last_logits.size() == B && opts.size() == B, "continue_greedy_batch: ", B, " states, ",
           last_logits.size(), " logit rows and ", opts.size(), " option sets");
  for (size_t b = 0; b < B; ++b)
    HL_CHECK(int64_t(last_logits[b].size()) == V, "continue_greedy_batch: expected ", V, " logits for state ", b,
             ", got ", last_logits[b].size());
  std::vector<GenerateResult> results(B);
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<size_t> active;      // states still decoding, in input order
  std::vector<int32_t> next(B);    // each active state's next token
  for (size_t b = 0; b < B; ++b)
    if (opts[b].max_new_tokens > 0) {
      next[b] = argmax(last_logits[b].data(), V);
      active.push_back(b);
    }
  std::vector<DecodeState*> step_states;
  std::vector<int32_t> step_ids;
  std::vector<LensHook*> step_lenses;
  while (!active.empty()) {
    std::vector<size_t> next_active;
    step_states.clear();
    step_ids.clear();
    step_lenses.clear();
    for (size_t b : active) {
      const GenerateOptions& opt = opts[b];
      GenerateResult& r = results[b];
      r.new_ids.push_back(next[b]);
      if (opt.on_token) opt.on_token(next[b]);
      if ((opt.stop_at_eos && next[b] == model.info().eos_id) || int(r.new_ids.size()) == opt.max_new_tokens) {
        r.decode_seconds = seconds_since(t0);
        continue;
      }
      next_active.push_back(b);
      step_states.push_back(states[b]);
      step_ids.push_back(next[b]);
      step_lenses.push_back(opt.lens);
    }
    if (next_active.empty()) break;
    const std::span<DecodeState* const> all_states(step_states);
    const std::span<const int32_t> all_ids(step_ids);
    const std::span<LensHook* const> all_lenses(step_lenses);
    for (size_t j0 = 0; j0 < next_active.size(); j0 += max_batch) {
      const size_t n = std::min(max_batch, next_active.size() - j0);
      const std::vector<int32_t> chosen = model.forward_batch_greedy(
          all_states.subspan(j0, n), all_ids.subspan(j0, n), Phase::Generation, all_lenses.subspan(j0, n));
      for (size_t j = 0; j < n; ++j) next[next_active[j0 + j]] = chosen[j];
    }
    active = std::move(next_active);
  }
  return results;
}

GenerateResult generate_greedy(Model& model, std::span<const int32_t> prompt, const GenerateOptions& opt) {
  HL_CHECK(!prompt.empty(), "generate: the prompt is empty");
  DecodeState state = model.new_state();
  const auto t0 = std::chrono::steady_clock::now();
  const std::vector<float> logits = model.forward(state, prompt, Phase::Prefill, LogitsWanted::Last, opt.lens);
  const double prefill = seconds_since(t0);
  GenerateResult r = opt.max_new_tokens > 0 ? continue_greedy(model, state, logits, opt) : GenerateResult{};
  r.prefill_seconds = prefill;
  return r;
}

}  // namespace hl
