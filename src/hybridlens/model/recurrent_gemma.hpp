#pragma once
#include <memory>
#include <string>

#include "hybridlens/model/model.hpp"
#include "hybridlens/model/weight_list.hpp"
#include "hybridlens/model/recurrent_gemma_config.hpp"

namespace hl {

class TensorStore;

// RecurrentGemmaForCausalLM as transformers computes it, in fp32 from the stored weights.
std::unique_ptr<Model> make_recurrent_gemma(const RecurrentGemmaConfig& config, const TensorStore& store,
                                            Backend& backend);
// From weights already on the backend (the names and shapes of config.weight_specs()).
std::unique_ptr<Model> make_recurrent_gemma(const RecurrentGemmaConfig& config, Weights weights, Backend& backend);

}  // namespace hl
