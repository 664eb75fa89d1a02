#include "hybridlens/model/jamba.hpp"

#include <algorithm>
#include <cmath>

#include "hybridlens/io/safetensors.hpp"
#include "hybridlens/model/final_logits.hpp"
#include "hybridlens/model/layer_stack_model.hpp"
#include "hybridlens/model/mamba_mixer.hpp"
#include "hybridlens/model/moe_routing.hpp"

namespace hl {
namespace {

struct Expert {
  Tensor gate, up, down;  // [I, D], [I, D], [D, I]: the stored tensors or row views of the fused ones
};

struct Layer {
  bool attention = false, moe = false;
  Tensor input_norm, ff_norm;
  Tensor q, k, v, o;           // attention layers
  MambaMixerWeights mixer;     // Mamba layers
  Tensor gate, up, down;       // dense MLP
  Tensor router;               // MoE: [E, D]
  std::vector<Expert> experts;
};

ExpertLayout layout_of(const JambaConfig& c, const TensorStore& store) {
  for (int i = 0; i < c.layers; ++i)
    if (c.is_moe(i))
      return store.has("model.layers." + std::to_string(i) + ".feed_forward.experts.gate_up_proj") ? ExpertLayout::Fused
                                                                                                   : ExpertLayout::PerExpert;
  return ExpertLayout::PerExpert;
}

class Jamba final : public LayerStackModel {
 public:
  Jamba(const JambaConfig& c, Weights w, ExpertLayout layout, Backend& be) : LayerStackModel(be), c_(c), w_(std::move(w)) {
    info_ = c.describe();
    info_.active_parameters += w_.parameters() - info_.parameters;  // the inactive experts' share stays
    info_.parameters = w_.parameters();
    info_.weight_dtype = w_.dtype_summary();
    mixer_shape_ = MambaMixerShape{c.hidden, c.d_inner(), c.d_state, c.dt_rank, c.d_conv, c.conv_bias, c.proj_bias, true};
    for (int i = 0; i < c.layers; ++i) {
      const std::string p = "model.layers." + std::to_string(i) + ".";
      Layer l;
      l.attention = c.is_attention(i);
      l.moe = c.is_moe(i);
      l.input_norm = w_.get(p + "input_layernorm.weight");
      l.ff_norm = w_.get(p + "pre_ff_layernorm.weight");
      if (l.attention) {
        l.q = w_.get(p + "self_attn.q_proj.weight");
        l.k = w_.get(p + "self_attn.k_proj.weight");
        l.v = w_.get(p + "self_attn.v_proj.weight");
        l.o = w_.get(p + "self_attn.o_proj.weight");
      } else {
        l.mixer = mamba_mixer_weights(w_, p + "mamba.", mixer_shape_);
      }
      const std::string f = p + "feed_forward.";
      if (l.moe) {
        l.router = w_.get(f + "router.weight");
        const int64_t F = c.intermediate, D = c.hidden;
        for (int e = 0; e < c.experts; ++e) {
          Expert x;
          if (layout == ExpertLayout::Fused) {
            // gate_up_proj[e] holds gate then up (transformers chunks it in two); views, no copies.
            const Tensor gu = w_.get(f + "experts.gate_up_proj").reshape({int64_t(c.experts) * 2 * F, D});
            const Tensor dn = w_.get(f + "experts.down_proj").reshape({int64_t(c.experts) * D, F});
            x.gate = gu.rows(2 * F * e, 2 * F * e + F);
            x.up = gu.rows(2 * F * e + F, 2 * F * (e + 1));
            x.down = dn.rows(D * e, D * (e + 1));
          } else {
            const std::string ep = f + "experts." + std::to_string(e) + ".";
            x.gate = w_.get(ep + "gate_proj.weight");
            x.up = w_.get(ep + "up_proj.weight");
            x.down = w_.get(ep + "down_proj.weight");
          }
          l.experts.push_back(x);
        }
      } else {
        l.gate = w_.get(f + "gate_proj.weight");
        l.up = w_.get(f + "up_proj.weight");
        l.down = w_.get(f + "down_proj.weight");
      }
      layers_.push_back(std::move(l));
    }
    head_ = w_.has("lm_head.weight") ? &w_.get("lm_head.weight") : &w_.get("model.embed_tokens.weight");
  }

  const ModelInfo& info() const override { return info_; }
  Backend& backend() override { return be_; }

  DecodeState new_state() const override {
    DecodeState s;
    for (int i = 0; i < c_.layers; ++i) {
      // Attention layers start with an empty cache, grown (reserve_kv) before each call.
      s.layers.push_back(c_.is_attention(i) ? LayerState{} : new_mamba_layer_state(be_, mixer_shape_));
    }
    return s;
  }

 private:
  // State b owns rows [b*T, (b+1)*T) of the ids: row-wise operations (norms, projections, MLP, MoE routing
  // per row) run once on all rows, the Mamba conv/scan and attention per state with its own state and lens.
  // One state with T tokens is the plain forward pass, many states with one token each a batched decode step.
  Tensor run_layers(std::span<DecodeState* const> sts, std::span<const int32_t> ids, Phase phase,
                    std::span<LensHook* const> lenses) override {
    const int64_t B = int64_t(sts.size()), R = int64_t(ids.size()), T = R / B, D = c_.hidden;
    Tensor x = be_.empty(DType::F32, {R, D});
    be_.embed(x, w_.get("model.embed_tokens.weight"), std::vector<int32_t>(ids.begin(), ids.end()), 1.0f);
    Tensor h = be_.empty(DType::F32, {R, D});
    Tensor t = be_.empty(DType::F32, {R, D});
    std::vector<LayerState*> ls(sts.size());
    int attn_index = 0;
    // Each residual add goes with the norm that follows it (add_rms_norm).
    if (c_.layers > 0) be_.rms_norm(h, x, layers_[0].input_norm, c_.eps, false);
    for (int i = 0; i < c_.layers; ++i) {
      const Layer& l = layers_[size_t(i)];
      for (size_t b = 0; b < sts.size(); ++b) ls[b] = &sts[b]->layers[size_t(i)];
      if (l.attention)
        attention_block(t, h, l, sts, ls, T, attn_index++, phase, lenses);
      else
        mamba_mixer(be_, l.mixer, mixer_shape_, c_.eps, h, t, ls);
      be_.add_rms_norm(x, t, h, l.ff_norm, c_.eps, false);
      if (l.moe)
        moe_block(t, h, l);
      else
        mlp(t, h, l.gate, l.up, l.down);
      if (i + 1 < c_.layers)
        be_.add_rms_norm(x, t, h, layers_[size_t(i + 1)].input_norm, c_.eps, false);
      else
        be_.add_inplace(x, t);
    }
    for (DecodeState* st : sts) st->position += T;
    return x;
  }

  // out = down(silu(gate(h)) * up(h)).
  void mlp(Tensor& out, const Tensor& h, const Tensor& gate_w, const Tensor& up_w, const Tensor& down_w) {
    const Tensor none;
    be_.gated_mlp(out, h, gate_w, none, up_w, none, down_w, none, Activation::Silu);
  }

  // out = sum over the token's top-k experts of p_e * expert_e(h); each expert runs once on the rows
  // routed to it, and the results are added back in expert order, as transformers' index_add_ does.
  void moe_block(Tensor& out, const Tensor& h, const Layer& l) {
    const int64_t T = h.dim(0), D = c_.hidden;
    Tensor router_logits = be_.empty(DType::F32, {T, c_.experts});
    be_.linear(router_logits, h, l.router, Tensor());
    std::vector<float> logits(size_t(T * c_.experts));
    be_.to_host(router_logits, logits.data());
    const std::vector<ExpertBatch> batches = route_top_k(logits, T, c_.experts, c_.experts_per_token);
    Tensor zero = be_.zeros(DType::F32, {T, D});
    be_.copy(out, zero);
    for (int e = 0; e < c_.experts; ++e) {
      const ExpertBatch& b = batches[size_t(e)];
      if (b.rows.empty()) continue;
      const int64_t n = int64_t(b.rows.size());
      Tensor xe = be_.empty(DType::F32, {n, D});
      Tensor ye = be_.empty(DType::F32, {n, D});
      be_.gather_rows(xe, h, b.rows);
      const Expert& x = l.experts[size_t(e)];
      mlp(ye, xe, x.gate, x.up, x.down);
      be_.scatter_add_rows(out, ye, b.rows, b.weights);
    }
  }

  void attention_block(Tensor& out, const Tensor& h, const Layer& l, std::span<DecodeState* const> sts,
                       std::span<LayerState* const> ls, int64_t T, int attn_index, Phase phase,
                       std::span<LensHook* const> lenses) {
    const int64_t R = h.dim(0);
    const int64_t qw = int64_t(c_.heads) * c_.head_dim, kw = int64_t(c_.kv_heads) * c_.head_dim;
    Tensor q = be_.empty(DType::F32, {R, qw});
    Tensor k = be_.empty(DType::F32, {R, kw});
    Tensor v = be_.empty(DType::F32, {R, kw});
    Tensor o = be_.empty(DType::F32, {R, qw});
    const Tensor none;
    const Backend::LinearPart qkv[] = {{&q, &l.q, &none}, {&k, &l.k, &none}, {&v, &l.v, &none}};
    be_.linear_parts(h, qkv);
    // Jamba attention has no positional encoding at all: order comes from the Mamba layers.
    AttentionSpec spec;
    spec.heads = c_.heads;
    spec.kv_heads = c_.kv_heads;
    spec.head_dim = c_.head_dim;
    spec.window = 0;
    spec.scale = 1.0f / std::sqrt(float(c_.head_dim));
    for (size_t b = 0; b < sts.size(); ++b) {
      const int64_t r0 = int64_t(b) * T, r1 = r0 + T, first = sts[b]->position;
      KVCache& kv = ls[b]->kv;
      reserve_kv(be_, kv, first + T, kw);
      AttentionLens al;
      LensHook* lens = lens_of(lenses, b);
      const bool use_lens = lens && lens->configure(attn_index, c_.heads, first, T, phase, al);
      Tensor o_b = o.rows(r0, r1);
      be_.attention(o_b, q.rows(r0, r1), k.rows(r0, r1), v.rows(r0, r1), kv, spec, first, use_lens ? &al : nullptr);
    }
    be_.linear(out, o, l.o, none);
  }

  Tensor logits(const Tensor& x) override {
    return final_logits(be_, x, w_.get("model.final_layernorm.weight"), c_.eps, false, *head_, 0.0f);
  }

  JambaConfig c_;
  Weights w_;
  ModelInfo info_;
  MambaMixerShape mixer_shape_;
  std::vector<Layer> layers_;
  const Tensor* head_ = nullptr;
};

}  // namespace

std::unique_ptr<Model> make_jamba(const JambaConfig& config, const TensorStore& store, Backend& backend) {
  const ExpertLayout layout = layout_of(config, store);
  return make_jamba(config, Weights::load(store, config.weight_specs(layout), backend), layout, backend);
}

std::unique_ptr<Model> make_jamba(const JambaConfig& config, Weights weights, ExpertLayout layout, Backend& backend) {
  return std::make_unique<Jamba>(config, std::move(weights), layout, backend);
}

}  // namespace hl
