#include "hybridlens/eval/needles.hpp"

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "hybridlens/core/error.hpp"

namespace hl {

Needle default_needle() {
  Needle n;
  n.id = "sf";
  n.needle = "The best thing to do in San Francisco is eat a sandwich and sit in Dolores Park on a sunny day.";
  n.question = "What is the best thing to do in San Francisco?";
  n.answer = "eat a sandwich and sit in dolores park on a sunny day";
  n.partial = {{"eat a sandwich", 1.0}, {"dolores park", 0.5}, {"sit in dolores park", 0.5}, {"on a sunny day", 1.0}};
  return n;
}

std::vector<Needle> read_needles(const std::string& path) {
  std::ifstream f(path);
  HL_CHECK(f.good(), path, ": cannot read the needles file");
  std::vector<Needle> out;
  std::set<std::string> ids;
  std::string line;
  for (int n = 1; std::getline(f, line); ++n) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception&) {
      fail(path, ":", n, ": not a JSON object");
    }
    HL_CHECK(j.is_object(), path, ":", n, ": expected a JSON object");
    auto text = [&](const char* key, bool required) -> std::string {
      if (!j.contains(key)) {
        HL_CHECK(!required, path, ":", n, ": missing \"", key, "\"");
        return "";
      }
      HL_CHECK(j[key].is_string(), path, ":", n, ": \"", key, "\" must be a string");
      return j[key].get<std::string>();
    };
    Needle nd;
    nd.needle = text("needle", true);
    nd.question = text("question", true);
    nd.answer = text("answer", false);
    nd.id = text("id", false);
    if (nd.id.empty()) nd.id = "line" + std::to_string(n);
    HL_CHECK(!nd.needle.empty() && !nd.question.empty(), path, ":", n, ": \"needle\" and \"question\" must not be empty");
    HL_CHECK(ids.insert(nd.id).second, path, ":", n, ": duplicate id \"", nd.id, "\"");
    if (j.contains("partial")) {
      const auto& p = j["partial"];
      HL_CHECK(p.is_array(), path, ":", n, ": \"partial\" must be a list of [phrase, points]");
      for (const auto& e : p) {
        HL_CHECK(e.is_array() && e.size() == 2 && e[0].is_string() && e[1].is_number() && e[1].get<double>() >= 0 &&
                     !e[0].get<std::string>().empty(),
                 path, ":", n, ": each \"partial\" entry must be [\"phrase\", points >= 0], got ", e.dump());
        nd.partial.emplace_back(e[0].get<std::string>(), e[1].get<double>());
      }
      double total = 0;
      for (const auto& pr : nd.partial) total += pr.second;
      HL_CHECK(total < 5, path, ":", n, ": the partial-credit points add up to ", total,
               "; they must stay below 5, the score of the whole needle sentence");
    }
    out.push_back(std::move(nd));
  }
  HL_CHECK(!out.empty(), path, ": no needles");
  return out;
}

}  // namespace hl
