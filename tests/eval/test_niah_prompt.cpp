// NIAH prompt building: lengths measured in the model's tokens, the needle moved back to a sentence end,
// depths 0 and 100 at the ends, JRT doubling the CONTEXT+QUESTION block, the needle's token span, and
// the input errors (too short, needle not reproduced by the tokenizer, empty haystack, bad templates).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <functional>

#include "eval/eval_test_util.hpp"
#include "hybridlens/core/error.hpp"
#include "hybridlens/eval/haystack.hpp"
#include "hybridlens/eval/niah_prompt.hpp"
#include "hybridlens/lens/needle_locator.hpp"
#include "support/fixtures.hpp"

namespace hl {
namespace {

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

class NiahPrompt : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { tok_ = Tokenizer::load_file(test::fixture_tokenizer_path()).release(); }
  static void TearDownTestSuite() {
    delete tok_;
    tok_ = nullptr;
  }
  static Tokenizer* tok_;
  Haystack hay_ = Haystack{"builtin:generated", generated_haystack_text(20000), "x"};
  Needle needle_ = default_needle();
};
Tokenizer* NiahPrompt::tok_ = nullptr;

TEST_F(NiahPrompt, ContextFillsTheLengthMinusTheBufferInTokens) {
  const HaystackTokens hay(*tok_, hay_, 600);
  for (int64_t L : {150, 257, 400, 600}) {
    for (double d : {0.0, 33.3, 100.0}) {
      NiahPromptSpec spec;
      spec.length = L;
      spec.depth_percent = d;
      spec.buffer = 40;
      const NiahPromptResult p = build_niah_prompt(*tok_, hay, needle_, base_template(), spec);
      const int64_t budget = L - spec.buffer;
      EXPECT_EQ(p.context_tokens, int64_t(tok_->encode(p.context, false).size()));
      EXPECT_LE(p.context_tokens, budget) << L << " " << d;
      EXPECT_GE(p.context_tokens, budget - 3) << L << " " << d;  // word-boundary cuts lose at most a few
      EXPECT_EQ(p.ids.front(), tok_->bos_id());
      EXPECT_EQ(p.ids, tok_->encode(p.text, true));
      // The prompt is BOS + the context + the template and question around it.
      const int64_t around = int64_t(tok_->encode(p.text.substr(0, 9), false).size() +
                                     tok_->encode(p.text.substr(9 + p.context.size()), false).size());
      EXPECT_NEAR(double(p.ids.size()), double(1 + p.context_tokens + around), 3.0);
    }
  }
}

TEST_F(NiahPrompt, NeedleGoesRightAfterASentenceEnd) {
  const HaystackTokens hay(*tok_, hay_, 700);
  double last_depth = -1;
  for (double d : {11.1, 25.0, 50.0, 77.7, 90.0}) {
    NiahPromptSpec spec;
    spec.length = 700;
    spec.depth_percent = d;
    spec.buffer = 50;
    const NiahPromptResult p = build_niah_prompt(*tok_, hay, needle_, base_template(), spec);
    const size_t at = p.context.find(needle_.needle);
    ASSERT_NE(at, std::string::npos);
    ASSERT_GE(at, 2u);
    EXPECT_EQ(p.context[at - 1], ' ');
    EXPECT_EQ(p.context[at - 2], '.') << "needle not after a sentence end at depth " << d;
    // Snapped back, never forward, and depths keep their order.
    EXPECT_LE(p.needle_depth_actual, d + 1e-9);
    EXPECT_GE(p.needle_depth_actual, last_depth);
    last_depth = p.needle_depth_actual;
    // The span covers the needle's tokens in the prompt.
    const TokenText tt = token_text(*tok_, p.ids);
    const std::string span_text = tt.text.substr(tt.starts[size_t(p.needle.begin)],
                                                 (size_t(p.needle.end) < tt.starts.size() ? tt.starts[size_t(p.needle.end)]
                                                                                          : tt.text.size()) -
                                                     tt.starts[size_t(p.needle.begin)]);
    EXPECT_NE(span_text.find(needle_.needle), std::string::npos) << span_text;
    EXPECT_EQ(p.needle_copies, 1);
  }
}

TEST_F(NiahPrompt, DepthZeroAndHundredPutTheNeedleAtTheEnds) {
  const HaystackTokens hay(*tok_, hay_, 300);
  NiahPromptSpec spec;
  spec.length = 300;
  spec.buffer = 40;
  spec.depth_percent = 0;
  const NiahPromptResult first = build_niah_prompt(*tok_, hay, needle_, base_template(), spec);
  EXPECT_EQ(first.context.rfind(needle_.needle, 0), 0u);
  EXPECT_EQ(first.needle_depth_actual, 0);
  EXPECT_EQ(first.text.rfind("CONTEXT: " + needle_.needle, 0), 0u);
  spec.depth_percent = 100;
  const NiahPromptResult last = build_niah_prompt(*tok_, hay, needle_, base_template(), spec);
  EXPECT_EQ(last.context.size() - last.context.rfind(needle_.needle), needle_.needle.size());
  EXPECT_DOUBLE_EQ(last.needle_depth_actual, 100);
}

TEST_F(NiahPrompt, BaseTemplateIsMethodsText) {
  const HaystackTokens hay(*tok_, noise_haystack(), 200);
  NiahPromptSpec spec;
  spec.length = 200;
  spec.buffer = 40;
  spec.depth_percent = 50;
  const NiahPromptResult p = build_niah_prompt(*tok_, hay, needle_, base_template(), spec);
  EXPECT_EQ(p.text, "CONTEXT: " + p.context + "\n\nQUESTION: " + needle_.question +
                        "\n\nANSWER: Here is the most relevant sentence in the context: ");
  EXPECT_NE(p.context.find("The grass is green. The sky is blue."), std::string::npos);
}

TEST_F(NiahPrompt, JrtDoublesTheContextAndQuestionBlock) {
  const HaystackTokens hay(*tok_, hay_, 300);
  NiahPromptSpec spec;
  spec.length = 300;
  spec.buffer = 40;
  spec.depth_percent = 40;
  const NiahPromptResult once = build_niah_prompt(*tok_, hay, needle_, base_template(), spec);
  spec.jrt = true;
  const NiahPromptResult twice = build_niah_prompt(*tok_, hay, needle_, base_template(), spec);
  const std::string block = "CONTEXT: " + once.context + "\n\nQUESTION: " + needle_.question + "\n\n";
  EXPECT_EQ(twice.text, block + block + "ANSWER: Here is the most relevant sentence in the context: ");
  EXPECT_EQ(twice.context_tokens, once.context_tokens);
  EXPECT_EQ(twice.needle_copies, 2);
  EXPECT_EQ(twice.needle.begin, once.needle.begin);  // the first copy
  const int64_t answer_line = int64_t(tok_->encode("ANSWER: Here is the most relevant sentence in the context: ", false).size());
  EXPECT_NEAR(double(twice.ids.size() - 1), 2.0 * double(once.ids.size() - 1 - answer_line) + double(answer_line), 4.0);

  const TemplateParts parts = split_for_jrt(base_template(), tok_);
  EXPECT_EQ(parts.head, "");
  EXPECT_EQ(parts.block, "CONTEXT: {context}\n\nQUESTION: {question}\n\n");
  EXPECT_EQ(parts.tail, "ANSWER: Here is the most relevant sentence in the context: ");
}

TEST_F(NiahPrompt, VocabularyMarkersInTemplatesBecomeSingleTokens) {
  // "</s>" (EOS) is a piece of the fixture vocabulary: written in a template it is that one token, while the
  // same characters in the haystack or question stay text.
  const PromptTemplate t{"marked", "</s>CONTEXT: {context}\n\nQUESTION: {question}</s>ANSWER:"};
  const TemplateParts parts = split_for_jrt(t, tok_);
  EXPECT_EQ(parts.head, "</s>");
  EXPECT_EQ(parts.block, "CONTEXT: {context}\n\nQUESTION: {question}");
  EXPECT_EQ(parts.tail, "</s>ANSWER:");
  Haystack marked{"test", "Plain words here. A </s> written in the text. More words follow here.", "x"};
  const HaystackTokens hay(*tok_, marked, 200);
  NiahPromptSpec spec;
  spec.length = 200;
  spec.buffer = 40;
  spec.depth_percent = 50;
  spec.jrt = true;
  const NiahPromptResult p = build_niah_prompt(*tok_, hay, needle_, t, spec);
  const int32_t eos = tok_->eos_id();
  EXPECT_EQ(p.ids[0], tok_->bos_id());
  EXPECT_EQ(p.ids[1], eos);
  EXPECT_EQ(std::count(p.ids.begin(), p.ids.end(), eos), 2);  // the template's two markers, not the text's
  EXPECT_EQ(p.needle_copies, 2);
}

TEST_F(NiahPrompt, SnapsToTheEndOfThePreviousSentence) {
  const std::string s = "One two. Three \"four.\" Five six seven";
  EXPECT_EQ(snap_to_sentence_end(s, s.size()), 22u);  // after the closing quote
  EXPECT_EQ(snap_to_sentence_end(s, 21), 8u);
  EXPECT_EQ(snap_to_sentence_end(s, 8), 8u);
  EXPECT_EQ(snap_to_sentence_end(s, 7), 0u);
  EXPECT_EQ(snap_to_sentence_end("no sentence end here", 15), 0u);
}

TEST_F(NiahPrompt, ErrorsNameTheProblem) {
  const HaystackTokens hay(*tok_, hay_, 300);
  NiahPromptSpec spec;
  spec.length = 60;
  spec.buffer = 200;
  const std::string short_err = error_of([&] { build_niah_prompt(*tok_, hay, needle_, base_template(), spec); });
  EXPECT_NE(short_err.find("context length 60 tokens is shorter than"), std::string::npos) << short_err;
  EXPECT_NE(short_err.find("buffer (200 tokens)"), std::string::npos) << short_err;

  // The tokenizer reads U+2581 as its own word-boundary mark, so this needle's text never comes back.
  Needle spaced = needle_;
  spaced.id = "spaced";
  spaced.needle = "The secret\xe2\x96\x81word is sandwich.";
  spec.length = 300;
  spec.buffer = 40;
  const std::string missing = error_of([&] { build_niah_prompt(*tok_, hay, spaced, base_template(), spec); });
  EXPECT_NE(missing.find("needle \"spaced\""), std::string::npos) << missing;
  EXPECT_NE(missing.find("not found in the tokenized prompt"), std::string::npos) << missing;

  const std::string dir = test::temp_dir("hay_empty");
  EXPECT_NE(error_of([&] { load_haystack_dir(dir); }).find("no .txt files"), std::string::npos);
  test::write_file(dir + "/a.txt", "  \n\n ");
  EXPECT_NE(error_of([&] { load_haystack_dir(dir); }).find("hold no text"), std::string::npos);
  test::write_file(dir + "/b.txt", "Some text. More text.");
  EXPECT_EQ(load_haystack_dir(dir).text, "Some text. More text.");

  EXPECT_NE(error_of([&] { check_template("QUESTION: {question}", "t"); }).find("no {context}"), std::string::npos);
  EXPECT_NE(error_of([&] { check_template("{question} {context}", "t"); }).find("before {question}"), std::string::npos);
  EXPECT_NE(error_of([&] { check_template("{context}{context}{question}", "t"); }).find("more than once"),
            std::string::npos);
}

TEST_F(NiahPrompt, GeneratedHaystackIsDeterministicAndFreeOfNeedles) {
  const std::string a = generated_haystack_text(30000), b = generated_haystack_text(30000);
  EXPECT_EQ(a, b);
  EXPECT_GE(a.size(), 30000u);
  for (const char* word : {"sandwich", "Dolores", "San Francisco", "paprika", "lighthouse", "48213", "7391"})
    EXPECT_EQ(a.find(word), std::string::npos) << word;
  EXPECT_EQ(noise_text(), "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again.");
}

}  // namespace
}  // namespace hl
