#include "hybridlens/model/generate.hpp"

#include <chrono>

namespace hl {
namespace {
double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

int32_t argmax(const float* v, int64_t n) {
  int64_t best = 0;
  for (int64_t i = 1; i < n; ++i)
    if (v[i] > v[best]) best = i;
  return int32_t(best);
}

GenerateResult continue_greedy(Model& model, DecodeState& state, std::span<const float> last_logits,
                               const GenerateOptions& opt) {
  GenerateResult r;
  const int64_t V = model.info().vocab;
  HL_CHECK(int64_t(last_logits.size()) == V, "continue_greedy: expected ", V, " logits, got ", last_logits.size());
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<float> logits(last_logits.begin(), last_logits.end());
  for (int i = 0; i < opt.max_new_tokens; ++i) {
    const int32_t next = argmax(logits.data(), V);
    r.new_ids.push_back(next);
    if (opt.on_token) opt.on_token(next);
    if ((opt.stop_at_eos && next == model.info().eos_id) || i + 1 == opt.max_new_tokens) break;
    const int32_t one[1] = {next};
    logits = model.forward(state, one, Phase::Generation, LogitsWanted::Last, opt.lens);
  }
  r.decode_seconds = seconds_since(t0);
  return r;
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
