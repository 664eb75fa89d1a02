#pragma once
// From a checkpoint directory to a runnable model: reads config.json, picks the architecture, checks
// and maps the weights.
#include <memory>
#include <string>

#include "hybridlens/model/model.hpp"

namespace hl {

// The architecture named by config.json ("architectures"[0], else "model_type"), normalised to the
// model_type spelling: "recurrent_gemma", "jamba", "mamba". Throws for anything else.
std::string architecture_of(const std::string& model_dir);

// model_dir may also be a random model, made on the backend without any file:
// "random:ARCH:PRESET[:SEED]" (ARCH and PRESET as `hybridlens random-checkpoint` takes them, SEED default 0),
// with BF16 weights bit for bit equal to that command's for the same seed.
std::unique_ptr<Model> load_model(const std::string& model_dir, Backend& backend);

// Whether `model` names a random model ("random:...") rather than a directory.
bool is_random_model(const std::string& model);

// Throws unless `model` is a checkpoint directory: the experiments (niah, mmlu) need its tokenizer.model,
// which a random model has not.
void require_checkpoint_directory(const std::string& model);

}  // namespace hl
