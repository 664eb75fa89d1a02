// Batched decoding of forked states (Model::forward_batch, continue_greedy_batch) equals decoding each fork
// alone: the same logits step by step, the same greedy ids, the same lens recordings.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <random>

#include "hybridlens/backend/make_backend.hpp"
#include "hybridlens/lens/lens.hpp"
#include "hybridlens/model/generate.hpp"
#include "hybridlens/model/registry.hpp"
#include "support/fixtures.hpp"

namespace hl {
namespace {

struct TinyModel {
  std::unique_ptr<Backend> backend = make_cpu_backend();
  std::unique_ptr<Model> model;
  explicit TinyModel(const std::string& arch) {
    model = load_model(test::tiny_random_checkpoint(arch, DType::F32, 11, "batched"), *backend);
  }
};

std::vector<int32_t> random_ids(int n, int vocab, int bos, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<int32_t> ids{bos};
  while (int(ids.size()) < n) ids.push_back(int32_t(rng() % unsigned(vocab)));
  return ids;
}

// Fork b keeps every head, none, or one (generation-only sparsification), recording entropies.
std::unique_ptr<Lens> lens_for(const Model& m, size_t b) {
  LensPlan p;
  const int keeps[3] = {-1, 0, 1};
  p.keep_k = keeps[b % 3];
  p.sparsify = SparsifyPhase::Generation;
  p.record_entropy = true;
  return std::make_unique<Lens>(p, m.info().attention_layers(), m.info().heads);
}

float g_worst = 0.0f;  // the largest difference any comparison saw (printed: is it bit-identical?)

// |got - want| <= 1e-5 * max(1, max |want|) over each row of V values.
void expect_rows_close(const float* want, const float* got, int64_t V, const std::string& what) {
  float scale = 1.0f, worst = 0.0f;
  for (int64_t i = 0; i < V; ++i) scale = std::max(scale, std::fabs(want[i]));
  for (int64_t i = 0; i < V; ++i) worst = std::max(worst, std::fabs(want[i] - got[i]));
  g_worst = std::max(g_worst, worst);
  EXPECT_LE(worst, 1e-5f * scale) << what;
  EXPECT_EQ(argmax(want, V), argmax(got, V)) << what;
}

void expect_same_tensor(const Tensor& a, const Tensor& b, const std::string& what) {
  ASSERT_EQ(a.numel(), b.numel()) << what;
  const float* x = a.data<float>();
  const float* y = b.data<float>();
  for (int64_t i = 0; i < a.numel(); ++i) {
    if (std::isnan(x[i]) && std::isnan(y[i])) continue;
    ASSERT_NEAR(x[i], y[i], 1e-5 * std::max(1.0f, std::fabs(x[i]))) << what << " at " << i;
  }
}

class BatchedDecodeTest : public ::testing::TestWithParam<std::string> {};

// 40 prompt tokens plus 20 steps cross the tiny RecurrentGemma's 16-token window ring several times.
constexpr int kPrompt = 40, kSteps = 20;

TEST_P(BatchedDecodeTest, ForwardBatchEqualsForwardPerFork) {
  TinyModel m(GetParam());
  const int64_t V = m.model->info().vocab;
  const std::vector<int32_t> prompt = random_ids(kPrompt, int(V), m.model->info().bos_id, 3);
  DecodeState prefilled = m.model->new_state();
  const std::vector<float> first = m.model->forward(prefilled, prompt, Phase::Prefill, LogitsWanted::Last);
  g_worst = 0.0f;
  for (const bool base_impl : {false, true}) {
    for (size_t B : {size_t(1), size_t(3), size_t(5)}) {
      const std::string tag = GetParam() + " B=" + std::to_string(B) + (base_impl ? " (default loop)" : "");
      std::vector<DecodeState> alone, together;
      std::vector<std::unique_ptr<Lens>> alone_lens, together_lens;
      for (size_t b = 0; b < B; ++b) {
        alone.push_back(prefilled.fork(*m.backend));
        together.push_back(prefilled.fork(*m.backend));
        alone_lens.push_back(lens_for(*m.model, b));
        together_lens.push_back(lens_for(*m.model, b));
      }
      std::vector<std::vector<float>> last(B, first);
      bool lenses_differ = false;
      for (int step = 0; step < kSteps; ++step) {
        std::vector<int32_t> ids(B);
        std::vector<DecodeState*> states(B);
        std::vector<LensHook*> lenses(B);
        std::vector<std::vector<float>> want(B);
        for (size_t b = 0; b < B; ++b) {
          ids[b] = argmax(last[b].data(), V);
          const int32_t one[1] = {ids[b]};
          want[b] = m.model->forward(alone[b], one, Phase::Generation, LogitsWanted::Last, alone_lens[b].get());
          states[b] = &together[b];
          lenses[b] = together_lens[b].get();
        }
        const std::vector<float> got = base_impl ? m.model->Model::forward_batch(states, ids, Phase::Generation, lenses)
                                                 : m.model->forward_batch(states, ids, Phase::Generation, lenses);
        ASSERT_EQ(got.size(), B * size_t(V)) << tag;
        for (size_t b = 0; b < B; ++b) {
          expect_rows_close(want[b].data(), got.data() + b * size_t(V), V,
                            tag + " fork " + std::to_string(b) + " step " + std::to_string(step));
          last[b] = want[b];
        }
        if (B > 1) lenses_differ = lenses_differ || want[0] != want[1];
      }
      if (B > 1 && m.model->info().attention_layers() > 0) {
        EXPECT_TRUE(lenses_differ) << tag << ": the forks' lenses (k = all, 0) should change the logits";
      }
      for (size_t b = 0; b < B; ++b) {
        EXPECT_EQ(together[b].position, kPrompt + kSteps) << tag;
        expect_same_tensor(alone_lens[b]->entropy(), together_lens[b]->entropy(), tag + " entropy");
      }
    }
  }
  // 0 on the CPU backend for B <= 8: the GEMV kernel sums each row as it does for one row.
  std::cout << GetParam() << ": largest |batched - alone| logit difference " << g_worst << "\n";
}

TEST_P(BatchedDecodeTest, WithoutLensesEqualsForward) {
  g_worst = 0.0f;
  TinyModel m(GetParam());
  const int64_t V = m.model->info().vocab;
  const std::vector<int32_t> prompt = random_ids(kPrompt, int(V), m.model->info().bos_id, 4);
  DecodeState prefilled = m.model->new_state();
  m.model->forward(prefilled, prompt, Phase::Prefill, LogitsWanted::None);
  std::vector<DecodeState> alone, together;
  for (int b = 0; b < 3; ++b) {
    alone.push_back(prefilled.fork(*m.backend));
    together.push_back(prefilled.fork(*m.backend));
  }
  const std::vector<int32_t> ids{5, 6, 7};
  std::vector<DecodeState*> states{&together[0], &together[1], &together[2]};
  const std::vector<float> got = m.model->forward_batch(states, ids, Phase::Generation, {});
  for (size_t b = 0; b < 3; ++b) {
    const int32_t one[1] = {ids[b]};
    const std::vector<float> want = m.model->forward(alone[b], one, Phase::Generation, LogitsWanted::Last);
    expect_rows_close(want.data(), got.data() + b * size_t(V), V, GetParam() + " fork " + std::to_string(b));
  }
}

TEST_P(BatchedDecodeTest, GreedyBatchEqualsGreedyPerForkWithDifferentStops) {
  TinyModel m(GetParam());
  const int64_t V = m.model->info().vocab;
  const std::vector<int32_t> prompt = random_ids(kPrompt, int(V), m.model->info().bos_id, 5);
  DecodeState prefilled = m.model->new_state();
  const std::vector<float> first = m.model->forward(prefilled, prompt, Phase::Prefill, LogitsWanted::Last);
  // (B, max_batch): 5 forks with max_batch 2 run each step as forward_batch calls of 2, 2 and 1.
  for (auto [B, max_batch] : std::vector<std::pair<size_t, size_t>>{{1, 8}, {3, 8}, {5, 8}, {5, 2}}) {
    std::vector<DecodeState> alone, together;
    std::vector<std::unique_ptr<Lens>> alone_lens, together_lens;
    std::vector<GenerateOptions> opts(B);
    for (size_t b = 0; b < B; ++b) {
      alone.push_back(prefilled.fork(*m.backend));
      together.push_back(prefilled.fork(*m.backend));
      alone_lens.push_back(lens_for(*m.model, b));
      together_lens.push_back(lens_for(*m.model, b));
      opts[b].max_new_tokens = int(b == 1 ? 0 : 3 + 5 * b);  // 3, 0, 13, 18, 23: each stops at its own step
      opts[b].stop_at_eos = false;
    }
    std::vector<std::vector<int32_t>> streamed(B);
    std::vector<GenerateOptions> batch_opts = opts;
    std::vector<DecodeState*> states;
    std::vector<std::span<const float>> last;
    for (size_t b = 0; b < B; ++b) {
      batch_opts[b].lens = together_lens[b].get();
      batch_opts[b].on_token = [&streamed, b](int32_t id) { streamed[b].push_back(id); };
      states.push_back(&together[b]);
      last.emplace_back(first);
    }
    const std::vector<GenerateResult> got = continue_greedy_batch(*m.model, states, last, batch_opts, max_batch);
    ASSERT_EQ(got.size(), B);
    for (size_t b = 0; b < B; ++b) {
      opts[b].lens = alone_lens[b].get();
      const GenerateResult want = continue_greedy(*m.model, alone[b], first, opts[b]);
      const std::string tag = GetParam() + " B=" + std::to_string(B) + " max_batch=" + std::to_string(max_batch) +
                              " fork " + std::to_string(b);
      EXPECT_EQ(got[b].new_ids, want.new_ids) << tag;
      EXPECT_EQ(streamed[b], want.new_ids) << tag;
      EXPECT_EQ(got[b].new_ids.size(), size_t(opts[b].max_new_tokens)) << tag;
      EXPECT_EQ(together[b].position, alone[b].position) << tag;
      expect_same_tensor(alone_lens[b]->entropy(), together_lens[b]->entropy(), tag + " entropy");
    }
  }
}

TEST_P(BatchedDecodeTest, GreedyBatchStopsEachForkAtEos) {
  TinyModel m(GetParam());
  const int64_t V = m.model->info().vocab;
  const std::vector<int32_t> prompt = random_ids(kPrompt, int(V), m.model->info().bos_id, 6);
  DecodeState prefilled = m.model->new_state();
  std::vector<float> first = m.model->forward(prefilled, prompt, Phase::Prefill, LogitsWanted::Last);
  // Fork 0 is handed logits whose argmax is EOS: it stops after one token; fork 1 goes on.
  std::vector<float> eos_first = first;
  eos_first[size_t(m.model->info().eos_id)] = 1e9f;
  DecodeState a = prefilled.fork(*m.backend), b = prefilled.fork(*m.backend), ref = prefilled.fork(*m.backend);
  std::vector<GenerateOptions> opts(2);
  for (auto& o : opts) o.max_new_tokens = 6;
  std::vector<DecodeState*> states{&a, &b};
  std::vector<std::span<const float>> last{std::span<const float>(eos_first), std::span<const float>(first)};
  const std::vector<GenerateResult> got = continue_greedy_batch(*m.model, states, last, opts);
  EXPECT_EQ(got[0].new_ids, std::vector<int32_t>{m.model->info().eos_id});
  EXPECT_EQ(a.position, prefilled.position);
  EXPECT_EQ(got[1].new_ids, continue_greedy(*m.model, ref, first, opts[1]).new_ids);
}

// forward_batch_greedy = the argmax of each forward_batch row, from identical states (forks of one prefill).
void expect_greedy_is_argmax(Backend& be, Model& model, const std::string& tag) {
  const int64_t V = model.info().vocab;
  const std::vector<int32_t> prompt = random_ids(kPrompt, int(V), model.info().bos_id, 7);
  DecodeState prefilled = model.new_state();
  model.forward(prefilled, prompt, Phase::Prefill, LogitsWanted::None);
  std::vector<DecodeState> a, b;
  std::vector<DecodeState*> sa, sb;
  for (int f = 0; f < 3; ++f) {
    a.push_back(prefilled.fork(be));
    b.push_back(prefilled.fork(be));
  }
  for (int f = 0; f < 3; ++f) {
    sa.push_back(&a[size_t(f)]);
    sb.push_back(&b[size_t(f)]);
  }
  std::vector<int32_t> ids{5, 6, 7};
  for (int step = 0; step < 4; ++step) {
    const std::vector<float> logits = model.forward_batch(sa, ids, Phase::Generation, {});
    const std::vector<int32_t> got = model.forward_batch_greedy(sb, ids, Phase::Generation, {});
    ASSERT_EQ(got.size(), ids.size()) << tag;
    for (size_t f = 0; f < ids.size(); ++f) {
      EXPECT_EQ(got[f], argmax(logits.data() + f * size_t(V), V)) << tag << " step " << step << " fork " << f;
      ids[f] = got[f];
    }
  }
}

TEST_P(BatchedDecodeTest, ForwardBatchGreedyIsTheArgmaxOfForwardBatch) {
  TinyModel m(GetParam());
  expect_greedy_is_argmax(*m.backend, *m.model, GetParam());
}

TEST_P(BatchedDecodeTest, CudaForwardBatchGreedyIsTheArgmaxOfForwardBatch) {
  std::string why;
  if (cuda_device_count(&why) == 0) GTEST_SKIP() << "no CUDA device: " << why;
  std::unique_ptr<Backend> backend = make_cuda_backend(0, false);
  std::unique_ptr<Model> model =
      load_model(test::tiny_random_checkpoint(GetParam(), DType::F32, 11, "greedy_cuda"), *backend);
  expect_greedy_is_argmax(*backend, *model, GetParam() + " (cuda)");
}

TEST(BatchedDecode, RejectsMismatchedArguments) {
  TinyModel m("recurrent_gemma");
  DecodeState s = m.model->new_state();
  std::vector<DecodeState*> states{&s, &s};
  const std::vector<int32_t> two{1, 2}, one{1};
  EXPECT_THROW(m.model->forward_batch(states, two, Phase::Generation, {}), Error);  // the same state twice
  std::vector<DecodeState*> single{&s};
  EXPECT_THROW(m.model->forward_batch(single, two, Phase::Generation, {}), Error);
  const std::vector<int32_t> bad{int32_t(m.model->info().vocab)};
  EXPECT_THROW(m.model->forward_batch(single, bad, Phase::Generation, {}), Error);
  EXPECT_EQ(s.position, 0);
}

// The same on the CUDA backend where there is one (skipped otherwise): row views of device tensors, per-fork
// attention and scans. Logits within 1e-4 relative (the device's batched rows may sum in another order),
// greedy ids identical.
TEST_P(BatchedDecodeTest, CudaForwardBatchEqualsForwardPerFork) {
  std::string why;
  if (cuda_device_count(&why) == 0) GTEST_SKIP() << "no CUDA device: " << why;
  std::unique_ptr<Backend> backend = make_cuda_backend(0, true);
  std::unique_ptr<Model> model =
      load_model(test::tiny_random_checkpoint(GetParam(), DType::F32, 11, "batched_cuda"), *backend);
  const int64_t V = model->info().vocab;
  const std::vector<int32_t> prompt = random_ids(kPrompt, int(V), model->info().bos_id, 3);
  DecodeState prefilled = model->new_state();
  const std::vector<float> first = model->forward(prefilled, prompt, Phase::Prefill, LogitsWanted::Last);
  const size_t B = 3;
  std::vector<DecodeState> alone, together;
  std::vector<std::unique_ptr<Lens>> alone_lens, together_lens;
  std::vector<GenerateOptions> opts(B);
  std::vector<DecodeState*> states;
  std::vector<std::span<const float>> last;
  for (size_t b = 0; b < B; ++b) {
    alone.push_back(prefilled.fork(*backend));
    together.push_back(prefilled.fork(*backend));
    alone_lens.push_back(lens_for(*model, b));
    together_lens.push_back(lens_for(*model, b));
  }
  for (size_t b = 0; b < B; ++b) {
    states.push_back(&together[b]);
    last.emplace_back(first);
    opts[b].max_new_tokens = kSteps;
    opts[b].stop_at_eos = false;
    opts[b].lens = together_lens[b].get();
  }
  const std::vector<GenerateResult> got = continue_greedy_batch(*model, states, last, opts);
  for (size_t b = 0; b < B; ++b) {
    GenerateOptions one = opts[b];
    one.lens = alone_lens[b].get();
    EXPECT_EQ(got[b].new_ids, continue_greedy(*model, alone[b], first, one).new_ids) << GetParam() << " fork " << b;
  }
}

INSTANTIATE_TEST_SUITE_P(Architectures, BatchedDecodeTest, ::testing::Values("recurrent_gemma", "jamba", "mamba"));

}  // namespace
}  // namespace hl
