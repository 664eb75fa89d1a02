#pragma once
#include <memory>

#include "hybridlens/model/mamba_config.hpp"
#include "hybridlens/model/model.hpp"
#include "hybridlens/model/weight_list.hpp"

namespace hl {

class TensorStore;

// MambaForCausalLM (Mamba-1) as transformers computes it, in fp32 from the stored weights: no attention,
// no MLP, the head tied to the embeddings unless lm_head.weight is stored.
std::unique_ptr<Model> make_mamba(const MambaConfig& config, const TensorStore& store, Backend& backend);
// From weights already on the backend (the names and shapes of config.weight_specs()).
std::unique_ptr<Model> make_mamba(const MambaConfig& config, Weights weights, Backend& backend);

}  // namespace hl
