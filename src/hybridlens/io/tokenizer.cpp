#include "hybridlens/io/tokenizer.hpp"

#include <sentencepiece_processor.h>

#include <filesystem>

#include "hybridlens/core/error.hpp"

namespace hl {

namespace fs = std::filesystem;

namespace {

std::string one_line(std::string s) {
  for (char& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  return s;
}

}  // namespace

Tokenizer::Tokenizer() : sp_(std::make_unique<sentencepiece::SentencePieceProcessor>()) {}
Tokenizer::~Tokenizer() = default;

std::unique_ptr<Tokenizer> Tokenizer::load_dir(const std::string& dir) {
  std::error_code ec;
  HL_CHECK(fs::is_directory(dir, ec), dir, ": tokenizer directory not found");
  const fs::path model = fs::path(dir) / "tokenizer.model";
  if (fs::exists(model, ec)) return load_file(model.string());
  if (fs::exists(fs::path(dir) / "tokenizer.json", ec))
    fail(dir, ": only tokenizer.json found; tokenizer.json-only checkpoints are not supported yet, "
              "a SentencePiece tokenizer.model is needed");
  fail(dir, ": no tokenizer found (looked for tokenizer.model and tokenizer.json)");
}

std::unique_ptr<Tokenizer> Tokenizer::load_file(const std::string& path) {
  std::error_code ec;
  HL_CHECK(fs::is_regular_file(path, ec), path, ": cannot load SentencePiece model: no such file");
  std::unique_ptr<Tokenizer> t(new Tokenizer());
  t->path_ = path;
  HL_CHECK(fs::file_size(path, ec) > 0, path, ": cannot load SentencePiece model: the file is empty");
  const auto status = t->sp_->Load(path);
  if (!status.ok()) {
    const std::string why = one_line(status.ToString());
    // SentencePiece reports an unparsable protobuf with its source location; say what it means instead.
    if (why.find("ParseFromArray") != std::string::npos)
      fail(path, ": cannot load SentencePiece model: not a valid model file (corrupt or truncated?)");
    fail(path, ": cannot load SentencePiece model: ", why);
  }
  HL_CHECK(t->sp_->GetPieceSize() > 0, path, ": SentencePiece model has an empty vocabulary");
  return t;
}

std::vector<int32_t> Tokenizer::encode(const std::string& text, bool add_bos) const {
  std::vector<int> ids;
  const auto status = sp_->Encode(text, &ids);
  HL_CHECK(status.ok(), path_, ": cannot encode text: ", one_line(status.ToString()));
  std::vector<int32_t> out;
  out.reserve(ids.size() + 1);
  if (add_bos) {
    HL_CHECK(bos_id() >= 0, path_, ": the tokenizer has no BOS token, but one was asked for");
    out.push_back(bos_id());
  }
  out.insert(out.end(), ids.begin(), ids.end());
  return out;
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids) const {
  std::vector<int> kept;
  kept.reserve(ids.size());
  for (int32_t id : ids) {
    check_id(id);
    if (!sp_->IsControl(id)) kept.push_back(id);
  }
  std::string text;
  const auto status = sp_->Decode(kept, &text);
  HL_CHECK(status.ok(), path_, ": cannot decode ids: ", one_line(status.ToString()));
  return text;
}

void Tokenizer::check_id(int32_t id) const {
  HL_CHECK(id >= 0 && id < vocab_size(), path_, ": token id ", id, " is outside the vocabulary (size ",
           vocab_size(), ")");
}

std::string Tokenizer::piece(int32_t id) const {
  check_id(id);
  return sp_->IdToPiece(id);
}

int32_t Tokenizer::piece_to_id(const std::string& piece) const { return sp_->PieceToId(piece); }

bool Tokenizer::is_control(int32_t id) const {
  check_id(id);
  return sp_->IsControl(id);
}

int Tokenizer::bos_id() const { return sp_->bos_id(); }
int Tokenizer::eos_id() const { return sp_->eos_id(); }
int Tokenizer::pad_id() const { return sp_->pad_id(); }
int Tokenizer::unk_id() const { return sp_->unk_id(); }
int Tokenizer::vocab_size() const { return sp_->GetPieceSize(); }

}  // namespace hl
