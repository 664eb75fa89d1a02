#pragma once
// Haystacks: the long text a needle is hidden in. From a directory of .txt files (the paper used Paul
// Graham's essays; users bring them), the built-in one (data/haystack/*.txt when the repository has it,
// otherwise text generated here deterministically), or METHOD.md's "noise" text repeated.
#include <cstdint>
#include <string>

namespace hl {

struct Haystack {
  std::string label;  // "dir:/abs/path", "builtin:/abs/data/haystack", "builtin:generated", "noise"
  std::string text;
  std::string sha256;  // of text
};

// Every *.txt file directly in `dir`, in name order, joined with a blank line. Throws when the
// directory is missing, holds no .txt file, or its .txt files hold only whitespace.
Haystack load_haystack_dir(const std::string& dir);

// "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again."
Haystack noise_haystack();
const std::string& noise_text();

// data/haystack/*.txt of the repository when found (see data_dir()), else generated_haystack_text().
Haystack builtin_haystack();

// Deterministic English-like prose (seeded sentences over fixed word lists, in paragraphs), at least
// `min_chars` long. Contains none of the shipped needles' key phrases.
std::string generated_haystack_text(size_t min_chars);

// The repository's data directory: $HYBRIDLENS_DATA when set, else the first "data" directory holding
// needles.jsonl or haystack/ found walking up from the executable's directory (build trees sit inside
// the source tree). Empty when none is found.
std::string data_dir();

}  // namespace hl
