#include "report/report_db_builder.hpp"

#include "hybridlens/eval/sha256.hpp"

namespace hl::test {

ReportDbBuilder::ReportDbBuilder(const std::string& path) : path_(path), db_(ResultsDb::open(path)) {
  run_ = db_->begin_run("niah", "test", 1);
}

int64_t ReportDbBuilder::model(const std::string& name, int heads, int attention_layers, int window) {
  ModelRecord m;
  m.dir = "/models/" + name;
  m.config_sha256 = sha256_hex(name);
  m.name = name;
  m.architecture = "recurrent_gemma";
  m.heads = heads;
  m.attention_layers = attention_layers;
  m.layers = attention_layers * 3;
  m.window = window;
  return db_->model_id(m);
}

NiahCellRecord ReportDbBuilder::record(const Cell& c) {
  NiahCellRecord r;
  r.cell_key = "cell-" + std::to_string(++serial_);
  r.run_id = run_;
  r.model_id = c.model_id;
  r.haystack = "noise";
  r.haystack_sha256 = sha256_hex("noise");
  r.needle_id = c.needle_id;
  r.needle = "needle " + c.needle_id;
  r.question = "question?";
  r.template_name = "base";
  r.template_sha256 = sha256_hex("base");
  r.jrt = c.jrt;
  r.context_length = c.length;
  r.depth_percent = c.depth;
  r.buffer_tokens = 20;
  r.context_tokens = c.length - 20;
  r.prompt_tokens = c.length;
  r.prompt_sha256 = sha256_hex(r.cell_key);
  r.needle_begin = c.needle_begin;
  r.needle_end = c.needle_begin + 4;
  r.lens.keep_k = c.keep_k;
  r.lens.heads = c.heads;
  r.lens.rank = c.rank;
  r.lens.sparsify = c.sparsify;
  r.lens.prefill_manipulation = c.prefill_manipulation;
  r.lens.generation_manipulation = c.generation_manipulation;
  r.max_new_tokens = 40;
  r.output_ids = {1, 2};
  r.output_text = "output";
  r.score = c.score;
  r.prefill_group = "g";
  return r;
}

void ReportDbBuilder::niah(const Cell& c) { db_->insert_niah_cell(record(c)); }

void ReportDbBuilder::niah_with_entropy(const Cell& c, int attention_layers, const std::vector<double>& entropy) {
  NiahCellRecord r = record(c);
  HeadEntropyRecord& e = r.head_entropy;
  e.attention_layers = attention_layers;
  e.heads = c.heads;
  e.prompt_positions = 10;
  e.generation_positions = 5;
  for (double v : entropy) {
    e.prompt_sum.push_back(v * 10);
    e.generation_sum.push_back(v * 5);
  }
  db_->insert_niah_cell(r);
}

void ReportDbBuilder::mmlu(const Item& i) {
  MmluItemRecord r;
  r.item_key = "item-" + std::to_string(++serial_);
  r.config_key = "config-" + std::to_string(i.model_id) + "-" + std::to_string(i.keep_k) + "-" + i.sparsify + "-" +
                 std::to_string(i.shots);
  r.run_id = run_;
  r.model_id = i.model_id;
  r.data_dir = "/data/mmlu";
  r.subject = i.subject;
  r.question_index = serial_;
  r.shots = i.shots;
  r.lens.keep_k = i.keep_k;
  r.lens.heads = i.heads;
  r.lens.sparsify = i.sparsify;
  r.prompt_tokens = 50;
  r.prompt_sha256 = sha256_hex(r.item_key);
  r.answer = 'B';
  r.predicted = i.correct ? 'B' : 'C';
  db_->insert_mmlu_item(r);
}

}  // namespace hl::test
