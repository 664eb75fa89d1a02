#pragma once
#include <memory>

#include "hybridlens/model/jamba_config.hpp"
#include "hybridlens/model/model.hpp"
#include "hybridlens/model/weight_list.hpp"

namespace hl {

class TensorStore;

// JambaForCausalLM as transformers computes it, in fp32 from the stored weights. Experts are read as the
// checkpoint stores them (one tensor per expert, or transformers 5's fused tensors), never copied.
std::unique_ptr<Model> make_jamba(const JambaConfig& config, const TensorStore& store, Backend& backend);
// From weights already on the backend (the names and shapes of config.weight_specs(layout)).
std::unique_ptr<Model> make_jamba(const JambaConfig& config, Weights weights, ExpertLayout layout, Backend& backend);

}  // namespace hl
