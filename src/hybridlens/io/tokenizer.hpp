#pragma once
// Tokenizer: a SentencePiece model (tokenizer.model), used as Hugging Face's Gemma and Llama tokenizers use it.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace hl {

class Tokenizer {
 public:
  // Loads <dir>/tokenizer.model. Throws hl::Error when it is absent (saying that a tokenizer.json-only
  // checkpoint is not supported yet, or which files were looked for) or cannot be loaded.
  static std::unique_ptr<Tokenizer> load_dir(const std::string& dir);
  // Loads a SentencePiece model file; throws "<path>: cannot load SentencePiece model: <reason>".
  static std::unique_ptr<Tokenizer> load_file(const std::string& path);
  ~Tokenizer();
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  // Token ids of `text`; with add_bos, the model's BOS id is prepended (as HF does for Gemma/Llama).
  std::vector<int32_t> encode(const std::string& text, bool add_bos) const;
  // Text of `ids`; control tokens (BOS, EOS, PAD, ...) produce no text. Ids outside the vocabulary throw.
  std::string decode(const std::vector<int32_t>& ids) const;
  // The piece of one id as stored in the model, e.g. "▁the" or "<bos>".
  std::string piece(int32_t id) const;
  // The id of a piece, or the unknown id when the model has no such piece.
  int32_t piece_to_id(const std::string& piece) const;
  bool is_control(int32_t id) const;

  int bos_id() const;  // -1 when the model has none
  int eos_id() const;
  int pad_id() const;
  int unk_id() const;
  int vocab_size() const;
  const std::string& path() const { return path_; }

 private:
  Tokenizer();
  void check_id(int32_t id) const;
  std::unique_ptr<sentencepiece::SentencePieceProcessor> sp_;
  std::string path_;
};

}  // namespace hl
