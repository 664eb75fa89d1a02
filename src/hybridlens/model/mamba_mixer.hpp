#pragma once
// The Mamba-1 mixer that Jamba and Mamba share (ARCHITECTURES.md): its tensor list, its weights resolved
// once per layer (row views where transformers splits a projection, never copies), its decode state and
// its forward pass over backend operations. Jamba adds RMSNorms on dt, B and C; Mamba does not.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "hybridlens/backend/backend.hpp"
#include "hybridlens/model/config_json.hpp"
#include "hybridlens/model/decode_state.hpp"
#include "hybridlens/model/weight_list.hpp"

namespace hl {

struct MambaMixerShape {
  int64_t hidden = 0, d_inner = 0, d_state = 0, dt_rank = 0, d_conv = 4;
  bool conv_bias = true;    // conv1d.bias
  bool proj_bias = false;   // in_proj.bias, out_proj.bias
  bool dt_bc_norms = false; // Jamba's dt_layernorm, b_layernorm, c_layernorm
};

// Appends the mixer's tensors under `prefix` ("model.layers.3.mamba.", "backbone.layers.3.mixer.").
void append_mamba_mixer_specs(std::vector<WeightSpec>& specs, const std::string& prefix, const MambaMixerShape& s);

struct MambaMixerWeights {
  Tensor in_x, in_z, in_x_bias, in_z_bias;  // in_proj rows [0, d_inner) and [d_inner, 2 d_inner)
  Tensor conv_w, conv_b;
  Tensor xp_dt, xp_b, xp_c;                 // x_proj rows: dt_rank, d_state, d_state
  Tensor dt_norm, b_norm, c_norm;           // Jamba only
  Tensor dt_w, dt_b, A_log, D;
  Tensor out_w, out_b;
};

MambaMixerWeights mamba_mixer_weights(const Weights& w, const std::string& prefix, const MambaMixerShape& s);

// conv [d_conv - 1, d_inner] and rec (the SSM state) [d_inner, d_state], both F32 zeros.
LayerState new_mamba_layer_state(Backend& be, const MambaMixerShape& s);

// out [R, hidden] = mixer(h [R, hidden]) for several sequences side by side: with B = states.size(), state b
// owns rows [b*R/B, (b+1)*R/B) and its conv and SSM states are continued and updated. The projections run
// once on all rows; the conv and the scan run per state. One state is the plain forward pass.
// `eps` is the epsilon of Jamba's dt/B/C norms.
void mamba_mixer(Backend& be, const MambaMixerWeights& w, const MambaMixerShape& s, float eps, const Tensor& h,
                 Tensor& out, std::span<LayerState* const> states);

// --- config.json values both SSM architectures read ----------------------------------------------------
// A rank given as an integer or "auto" (= ceil(hidden / 16), as transformers).
int read_dt_rank(const ConfigReader& r, const std::string& key, int hidden);
// A special-token id given as an integer or a list of integers (the first is used); fallback when absent.
int read_token_id(const ConfigReader& r, const std::string& key, int fallback);
// The activation must be SiLU, the only one these architectures use ("silu" or "swish").
void require_silu(const ConfigReader& r, const std::string& key);

}  // namespace hl
