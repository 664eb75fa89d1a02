#include "hybridlens/model/config_json.hpp"

#include "hybridlens/core/error.hpp"

namespace hl {

void ConfigReader::bad(const std::string& key, const std::string& why) const {
  fail(path_, ": \"", key, "\" ", why);
}

int64_t ConfigReader::integer(const std::string& key) const {
  if (!has(key)) bad(key, "is missing");
  const auto& v = j_.at(key);
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_number_float() && v.get<double>() == double(int64_t(v.get<double>()))) return int64_t(v.get<double>());
  bad(key, "must be an integer, got " + v.dump());
}

int64_t ConfigReader::integer(const std::string& key, int64_t fallback) const {
  return has(key) ? integer(key) : fallback;
}

double ConfigReader::number(const std::string& key) const {
  if (!has(key)) bad(key, "is missing");
  const auto& v = j_.at(key);
  if (!v.is_number()) bad(key, "must be a number, got " + v.dump());
  return v.get<double>();
}

double ConfigReader::number(const std::string& key, double fallback) const {
  return has(key) ? number(key) : fallback;
}

bool ConfigReader::boolean(const std::string& key, bool fallback) const {
  if (!has(key)) return fallback;
  const auto& v = j_.at(key);
  if (!v.is_boolean()) bad(key, "must be true or false, got " + v.dump());
  return v.get<bool>();
}

std::string ConfigReader::string(const std::string& key, const std::string& fallback) const {
  if (!has(key)) return fallback;
  const auto& v = j_.at(key);
  if (!v.is_string()) bad(key, "must be a string, got " + v.dump());
  return v.get<std::string>();
}

int64_t ConfigReader::positive(const std::string& key) const {
  const int64_t v = integer(key);
  if (v <= 0) bad(key, "must be positive, got " + std::to_string(v));
  return v;
}

int64_t ConfigReader::positive(const std::string& key, int64_t fallback) const {
  return has(key) ? positive(key) : fallback;
}

}  // namespace hl
