#pragma once
// Typed reads of config.json values with errors that name the file and key.
#include <nlohmann/json.hpp>
#include <string>

namespace hl {

class ConfigReader {
 public:
  ConfigReader(const nlohmann::json& j, std::string path) : j_(j), path_(std::move(path)) {}
  const nlohmann::json& json() const { return j_; }
  const std::string& path() const { return path_; }
  bool has(const std::string& key) const { return j_.contains(key) && !j_.at(key).is_null(); }
  int64_t integer(const std::string& key) const;
  int64_t integer(const std::string& key, int64_t fallback) const;
  double number(const std::string& key) const;
  double number(const std::string& key, double fallback) const;
  bool boolean(const std::string& key, bool fallback) const;
  std::string string(const std::string& key, const std::string& fallback) const;
  // A positive integer (dimension sizes).
  int64_t positive(const std::string& key) const;
  int64_t positive(const std::string& key, int64_t fallback) const;
  [[noreturn]] void bad(const std::string& key, const std::string& why) const;

 private:
  const nlohmann::json& j_;
  std::string path_;
};

}  // namespace hl
