#include "hybridlens/eval/haystack.hpp"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "hybridlens/core/error.hpp"
#include "hybridlens/eval/sha256.hpp"

namespace fs = std::filesystem;

namespace hl {
namespace {

Haystack make(std::string label, std::string text) {
  Haystack h;
  h.label = std::move(label);
  h.sha256 = sha256_hex(text);
  h.text = std::move(text);
  return h;
}

uint64_t splitmix(uint64_t& s) {
  uint64_t z = (s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

template <size_t N>
const char* pick(uint64_t& s, const std::array<const char*, N>& words) {
  return words[splitmix(s) % N];
}

}  // namespace

Haystack load_haystack_dir(const std::string& dir) {
  HL_CHECK(fs::is_directory(dir), dir, ": not a directory (--haystack wants a directory of .txt files)");
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file() && e.path().extension() == ".txt") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  HL_CHECK(!files.empty(), dir, ": no .txt files in the haystack directory");
  std::string text;
  for (const fs::path& p : files) {
    std::ifstream f(p, std::ios::binary);
    HL_CHECK(f.good(), p.string(), ": cannot read");
    std::ostringstream s;
    s << f.rdbuf();
    std::string t = s.str();
    const size_t b = t.find_first_not_of(" \t\r\n");
    if (b == std::string::npos) continue;
    t = t.substr(b, t.find_last_not_of(" \t\r\n") - b + 1);
    if (!text.empty()) text += "\n\n";
    text += t;
  }
  HL_CHECK(!text.empty(), dir, ": the haystack's ", files.size(), " .txt file(s) hold no text");
  std::error_code ec;
  const fs::path abs = fs::weakly_canonical(fs::absolute(dir), ec);
  return make("dir:" + (ec ? dir : abs.string()), std::move(text));
}

const std::string& noise_text() {
  static const std::string s =
      "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again.";
  return s;
}

Haystack noise_haystack() { return make("noise", noise_text()); }

std::string data_dir() {
  if (const char* env = std::getenv("HYBRIDLENS_DATA"); env && *env) return env;
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return "";
  for (fs::path p = exe.parent_path(); !p.empty(); p = p.parent_path()) {
    const fs::path d = p / "data";
    if (fs::exists(d / "needles.jsonl", ec) || fs::is_directory(d / "haystack", ec)) return d.string();
    if (p == p.parent_path()) break;
  }
  return "";
}

Haystack builtin_haystack() {
  const std::string data = data_dir();
  if (!data.empty()) {
    const fs::path dir = fs::path(data) / "haystack";
    std::error_code ec;
    bool has_txt = false;
    if (fs::is_directory(dir, ec))
      for (const auto& e : fs::directory_iterator(dir, ec))
        if (e.is_regular_file() && e.path().extension() == ".txt") has_txt = true;
    if (has_txt) {
      Haystack h = load_haystack_dir(dir.string());
      h.label = "builtin:" + h.label.substr(4);
      return h;
    }
  }
  return make("builtin:generated", generated_haystack_text(64 * 1024));
}

std::string generated_haystack_text(size_t min_chars) {
  static const std::array<const char*, 24> who = {
      "The old miller", "A young teacher", "The harbor master", "My neighbor", "The village doctor",
      "A tired traveler", "The carpenter", "Her grandfather", "The night guard", "A quiet student",
      "The river pilot", "The blacksmith", "An old fisherman", "The mayor", "A wandering poet",
      "The shepherd", "The librarian", "A patient gardener", "The stationmaster", "The weaver",
      "A curious child", "The innkeeper", "The surveyor", "A retired sailor"};
  static const std::array<const char*, 24> did = {
      "walked along", "painted", "talked about", "repaired", "measured", "wrote a letter about",
      "thought about", "cleaned", "counted the stones of", "looked after", "sketched", "described",
      "remembered", "read about", "visited", "waited near", "sang a song about", "studied",
      "photographed", "mapped", "crossed", "planned a trip to", "argued about", "dreamed of"};
  static const std::array<const char*, 24> what = {
      "the narrow bridge", "the stone wall", "the empty market", "the wooden boat", "the long road",
      "the quiet valley", "the broken clock", "the chapel roof", "the orchard gate", "the mill pond",
      "the northern hills", "the copper kettle", "the old map", "the school yard", "the windmill",
      "the pine forest", "the town square", "the cellar door", "the lantern", "the barley field",
      "the little island", "the iron fence", "the bell tower", "the salt marsh"};
  static const std::array<const char*, 16> when = {
      "in the morning", "before the rain", "after supper", "late in the autumn", "on a cold evening",
      "during the long winter", "at the end of the week", "while the bells rang", "once the fog lifted",
      "every few days", "for most of the year", "in the early spring", "just before dusk",
      "after the harvest", "on market day", "when the wind changed"};
  static const std::array<const char*, 16> because = {
      "because it needed care", "as the season demanded", "without saying much", "with great patience",
      "as everyone expected", "for reasons nobody asked about", "and then went home",
      "and found it unchanged", "while the others watched", "and made a few notes",
      "as the custom was", "with some help from a friend", "and thought it was enough",
      "slowly and carefully", "and did not hurry", "as if nothing had happened"};
  static const std::array<const char*, 12> remark = {
      "Nobody remembers who built it.", "The work went on for years.", "Some days were better than others.",
      "It was an ordinary place.", "People still talk about it.", "Nothing much changed after that.",
      "The weather stayed mild.", "Most of the town was asleep.", "It seemed a sensible thing to do.",
      "The details are not important.", "Everyone agreed it had been a long day.",
      "There is little more to say about it."};
  uint64_t s = 0x68796272696474ull;  // fixed seed: the text is the same on every machine
  std::string out;
  while (out.size() < min_chars) {
    const int sentences = 4 + int(splitmix(s) % 5);
    for (int i = 0; i < sentences; ++i) {
      if (i) out += ' ';
      if (splitmix(s) % 5 == 0) {
        out += pick(s, remark);
        continue;
      }
      out += pick(s, who);
      out += ' ';
      out += pick(s, did);
      out += ' ';
      out += pick(s, what);
      out += ' ';
      out += pick(s, when);
      if (splitmix(s) % 2) {
        out += ' ';
        out += pick(s, because);
      }
      out += '.';
    }
    out += "\n\n";
  }
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

}  // namespace hl
