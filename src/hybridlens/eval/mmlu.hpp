#pragma once
// MMLU as METHOD.md runs it: the original release's layout (DIR/dev/{subject}_dev.csv,
// DIR/test/{subject}_test.csv; CSV without header: question, A, B, C, D, answer letter), the classic
// prompt, and the prediction = argmax of the next-token log-probability of " A", " B", " C", " D".
//
// What --sparsify means here: a log-likelihood evaluation has no decoding, so the last prompt token (the
// one whose logits give the answer) plays the part of generation. "both" sparsifies the whole forward
// pass (the paper's setting, and mmlu's default); "generation" keeps every earlier position dense and
// sparsifies only the last; "prefill" the reverse. The pass runs as all-but-last tokens in the prefill
// phase and the last token as one generation step, which is the same computation as one pass.
#include <array>
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "hybridlens/eval/results_db.hpp"
#include "hybridlens/eval/sweep_plan.hpp"
#include "hybridlens/io/tokenizer.hpp"

namespace hl {

struct MmluQuestion {
  std::string question;
  std::array<std::string, 4> choices;
  char answer = 'A';
  int line = 0;  // in its file
};

// Throws "<path>:<line>: expected 6 columns (question, A, B, C, D, answer), got N" and
// "<path>:<line>: answer \"E\" is not one of A, B, C, D".
std::vector<MmluQuestion> read_mmlu_csv(const std::string& path);

// The directory holding dev/ and test/: `dir` itself, or dir/data (the release's top level).
std::string mmlu_data_root(const std::string& dir);
// Subjects with a {subject}_test.csv, sorted.
std::vector<std::string> mmlu_subjects(const std::string& root);

// "high_school_biology" -> "high school biology".
std::string format_subject(const std::string& subject);
// "The following are multiple choice questions (with answers) about {subject}.\n\n" + each shot as
// "{question}\nA. ..\nB. ..\nC. ..\nD. ..\nAnswer: {letter}\n\n".
std::string mmlu_prompt_prefix(const std::string& subject, const std::vector<MmluQuestion>& shots);
// "{question}\nA. ..\nB. ..\nC. ..\nD. ..\nAnswer:".
std::string mmlu_question_text(const MmluQuestion& q);

// Token ids of " A", " B", " C", " D" as they follow "Answer:". Throws when a letter is not one token.
std::array<int32_t, 4> answer_letter_ids(const Tokenizer& tok);

struct MmluConfig {
  std::vector<std::string> models;
  std::string data_dir;
  int shots = 5;
  std::vector<std::string> subjects;  // empty: every subject
  int64_t max_questions = -1;         // per subject; -1: all
  bool share_prefix = true;           // run the subject header and shots once per subject and fork
  InterventionAxes axes;
  std::string command_line;
  int threads = 0;
  std::string device = "cpu";  // cpu, cuda, cuda:N
};

struct MmluStats {
  int64_t planned = 0, skipped = 0, computed = 0;
  double seconds = 0;
};

// Runs every (model, intervention, subject, question), storing each item; prints per-subject and overall
// accuracy per configuration to `out` and progress to `log`.
MmluStats run_mmlu(const MmluConfig& cfg, ResultsDb& db, std::ostream& out, std::ostream& log, bool tty);

}  // namespace hl
