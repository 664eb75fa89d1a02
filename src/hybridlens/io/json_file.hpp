#pragma once
// Reading JSON files (config.json, model.safetensors.index.json, tokenizer_config.json, ...).
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace hl {

// Parses the file at `path`. Throws hl::Error with one line:
//   "<path>: cannot open: No such file or directory"
//   "<path>: invalid JSON: parse error at line 3, column 1: syntax error while parsing object - ..."
nlohmann::json read_json_file(const std::string& path);

// Parses `text`; `source` names where it came from in the error ("<source>: invalid JSON: ...").
nlohmann::json parse_json_text(std::string_view text, const std::string& source);

// A nlohmann exception's message as one line without its "[json.exception.parse_error.101] " prefix.
std::string json_error_message(const nlohmann::json::exception& e);

}  // namespace hl
