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

std::unique_ptr<Model> load_model(const std::string& model_dir, Backend& backend);

}  // namespace hl
