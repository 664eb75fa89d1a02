#pragma once
// Needle/question pairs with their scoring phrases. The paper's San Francisco needle is the default;
// --needles FILE.jsonl gives others, one object per line:
//   {"id": "soup", "needle": "...", "question": "...", "answer": "...", "partial": [["phrase", 1.5], ...]}
// "id" and "answer" are optional ("answer" feeds the answer_found column, not the score); "partial" may
// be empty; its points must add up to less than 5.
#include <string>
#include <utility>
#include <vector>

namespace hl {

struct Needle {
  std::string id;
  std::string needle;    // the sentence inserted into the haystack
  std::string question;  // asked after the context
  std::string answer;    // expected answer phrase (may be empty)
  std::vector<std::pair<std::string, double>> partial;  // (phrase, points) of METHOD.md's partial credit
};

// "The best thing to do in San Francisco is eat a sandwich and sit in Dolores Park on a sunny day." with
// METHOD.md's partial credit ("eat a sandwich" 1, "dolores park" 0.5, "sit in dolores park" 0.5,
// "on a sunny day" 1); id "sf".
Needle default_needle();

// Throws "<path>:<line>: ..." for a malformed line, a missing field, or a duplicate id; "<path>: no
// needles" for a file without any.
std::vector<Needle> read_needles(const std::string& path);

}  // namespace hl
