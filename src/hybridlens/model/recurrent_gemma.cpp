#include "hybridlens/model/recurrent_gemma.hpp"

#include <algorithm>
#include <cmath>

#include "hybridlens/io/safetensors.hpp"
#include "hybridlens/model/final_logits.hpp"
#include "hybridlens/model/layer_stack_model.hpp"

namespace hl {
namespace {

class RecurrentGemma final : public LayerStackModel {
 public:
  RecurrentGemma(const RecurrentGemmaConfig& c, Weights w, Backend& be) : LayerStackModel(be), c_(c), w_(std::move(w)) {
    info_.architecture = "RecurrentGemmaForCausalLM";
    for (int i = 0; i < c.layers; ++i) info_.layer_kinds.push_back(c.is_attention(i) ? "attention" : "recurrent");
    info_.hidden = c.hidden;
    info_.vocab = c.vocab;
    info_.heads = c.heads;
    info_.kv_heads = c.kv_heads;
    info_.head_dim = c.head_dim;
    info_.window = c.window;
    info_.parameters = w_.parameters();
    info_.weight_dtype = w_.dtype_summary();
    info_.bos_id = c.bos;
    info_.eos_id = c.eos;
    info_.pad_id = c.pad;
    head_ = w_.has("lm_head.weight") ? &w_.get("lm_head.weight") : &w_.get("model.embed_tokens.weight");
  }

  const ModelInfo& info() const override { return info_; }
  Backend& backend() override { return be_; }

  DecodeState new_state() const override {
    DecodeState s;
    for (int i = 0; i < c_.layers; ++i) {
      LayerState l;
      if (c_.is_attention(i)) {
        const int64_t row = int64_t(c_.kv_heads) * c_.head_dim;
        l.kv.k = be_.zeros(DType::F32, {c_.window, row});
        l.kv.v = be_.zeros(DType::F32, {c_.window, row});
        l.kv.capacity = c_.window;
      } else {
        l.conv = be_.zeros(DType::F32, {c_.conv_width - 1, c_.lru_width});
        l.rec = be_.zeros(DType::F32, {c_.lru_width});
      }
      s.layers.push_back(std::move(l));
    }
    return s;
  }

 private:
  const Tensor& W(int layer, const char* name) const {
    return w_.get("model.layers." + std::to_string(layer) + "." + name);
  }

  // Runs several sequences side by side: state b owns rows [b*T, (b+1)*T) (its next T tokens, ids in the
  // same order). Row-wise operations run once on all rows; the sequence mixing (conv, RG-LRU, rotary,
  // attention) runs per state on its rows with its own state and lens. One state with T tokens is the
  // plain forward pass; many states with one token each is a batched decode step.
  Tensor run_layers(std::span<DecodeState* const> sts, std::span<const int32_t> ids, Phase phase,
                    std::span<LensHook* const> lenses) override {
    const int64_t B = int64_t(sts.size()), R = int64_t(ids.size()), T = R / B, D = c_.hidden;
    Tensor x = be_.empty(DType::F32, {R, D});
    be_.embed(x, w_.get("model.embed_tokens.weight"), std::vector<int32_t>(ids.begin(), ids.end()),
              c_.embed_scale());
    Tensor h = be_.empty(DType::F32, {R, D});
    Tensor t = be_.empty(DType::F32, {R, D});
    int attn_index = 0;
    // Each residual add goes with the norm that follows it (add_rms_norm): the block's output with the
    // channel norm, the MLP's with the next layer's temporal norm.
    if (c_.layers > 0) be_.rms_norm(h, x, W(0, "temporal_pre_norm.weight"), c_.eps, true);
    for (int i = 0; i < c_.layers; ++i) {
      if (c_.is_attention(i)) {
        attention_block(t, h, sts, T, i, attn_index++, phase, lenses);
      } else {
        recurrent_block(t, h, sts, T, i);
      }
      be_.add_rms_norm(x, t, h, W(i, "channel_pre_norm.weight"), c_.eps, true);
      be_.gated_mlp(t, h, W(i, "mlp_block.gate_proj.weight"), W(i, "mlp_block.gate_proj.bias"),
                    W(i, "mlp_block.up_proj.weight"), W(i, "mlp_block.up_proj.bias"),
                    W(i, "mlp_block.down_proj.weight"), W(i, "mlp_block.down_proj.bias"), Activation::GeluTanh);
      if (i + 1 < c_.layers)
        be_.add_rms_norm(x, t, h, W(i + 1, "temporal_pre_norm.weight"), c_.eps, true);
      else
        be_.add_inplace(x, t);
    }
    for (DecodeState* st : sts) st->position += T;
    return x;
  }

  void recurrent_block(Tensor& out, const Tensor& h, std::span<DecodeState* const> sts, int64_t T, int i) {
    const int64_t R = h.dim(0), L = c_.lru_width;
    Tensor y = be_.empty(DType::F32, {R, L});
    Tensor u = be_.empty(DType::F32, {R, L});
    Tensor conv = be_.empty(DType::F32, {R, L});
    const Backend::LinearPart yx[] = {
        {&y, &W(i, "temporal_block.linear_y.weight"), &W(i, "temporal_block.linear_y.bias")},
        {&u, &W(i, "temporal_block.linear_x.weight"), &W(i, "temporal_block.linear_x.bias")}};
    be_.linear_parts(h, yx);
    std::vector<Backend::LruState> lru;
    for (size_t b = 0; b < sts.size(); ++b) {
      Tensor conv_b = conv.rows(int64_t(b) * T, int64_t(b + 1) * T);
      be_.conv1d_causal(conv_b, u.rows(int64_t(b) * T, int64_t(b + 1) * T), W(i, "temporal_block.conv_1d.weight"),
                        W(i, "temporal_block.conv_1d.bias"), sts[b]->layers[size_t(i)].conv);
      lru.push_back({&sts[b]->layers[size_t(i)].rec, sts[b]->position});
    }
    // u = gelu(y branch) * RG-LRU output
    be_.rglru_block(u, y, conv, W(i, "temporal_block.rg_lru.input_gate_weight"),
                    W(i, "temporal_block.rg_lru.input_gate_bias"), W(i, "temporal_block.rg_lru.recurrent_gate_weight"),
                    W(i, "temporal_block.rg_lru.recurrent_gate_bias"), W(i, "temporal_block.rg_lru.recurrent_param"), lru,
                    Activation::GeluTanh);
    be_.linear(out, u, W(i, "temporal_block.linear_out.weight"), W(i, "temporal_block.linear_out.bias"));
  }

  void attention_block(Tensor& out, const Tensor& h, std::span<DecodeState* const> sts, int64_t T, int i,
                       int attn_index, Phase phase, std::span<LensHook* const> lenses) {
    const int64_t R = h.dim(0);
    const int64_t qw = int64_t(c_.heads) * c_.head_dim, kw = int64_t(c_.kv_heads) * c_.head_dim;
    Tensor q = be_.empty(DType::F32, {R, qw});
    Tensor k = be_.empty(DType::F32, {R, kw});
    Tensor v = be_.empty(DType::F32, {R, kw});
    Tensor o = be_.empty(DType::F32, {R, qw});
    const Tensor none;
    const Backend::LinearPart qkv[] = {{&q, &W(i, "temporal_block.q_proj.weight"), &none},
                                       {&k, &W(i, "temporal_block.k_proj.weight"), &none},
                                       {&v, &W(i, "temporal_block.v_proj.weight"), &none}};
    be_.linear_parts(h, qkv);
    AttentionSpec spec;
    spec.heads = c_.heads;
    spec.kv_heads = c_.kv_heads;
    spec.head_dim = c_.head_dim;
    spec.window = c_.window;
    spec.scale = 1.0f / std::sqrt(float(c_.head_dim));
    for (size_t b = 0; b < sts.size(); ++b) {
      const int64_t r0 = int64_t(b) * T, r1 = r0 + T, first = sts[b]->position;
      Tensor q_b = q.rows(r0, r1), k_b = k.rows(r0, r1), o_b = o.rows(r0, r1);
      be_.rotary_qk(q_b, c_.heads, k_b, c_.kv_heads, c_.head_dim, c_.rot_dims(), c_.rope_theta, first);
      AttentionLens al;
      LensHook* lens = lens_of(lenses, b);
      const bool use_lens = lens && lens->configure(attn_index, c_.heads, first, T, phase, al);
      be_.attention(o_b, q_b, k_b, v.rows(r0, r1), sts[b]->layers[size_t(i)].kv, spec, first,
                    use_lens ? &al : nullptr);
    }
    be_.linear(out, o, W(i, "temporal_block.o_proj.weight"), W(i, "temporal_block.o_proj.bias"));
  }

  Tensor logits(const Tensor& x) override {
    return final_logits(be_, x, w_.get("model.final_norm.weight"), c_.eps, true, *head_, c_.soft_cap);
  }

  RecurrentGemmaConfig c_;
  Weights w_;
  ModelInfo info_;
  const Tensor* head_ = nullptr;
};

}  // namespace

std::unique_ptr<Model> make_recurrent_gemma(const RecurrentGemmaConfig& config, const TensorStore& store,
                                            Backend& backend) {
  return make_recurrent_gemma(config, Weights::load(store, config.weight_specs(), backend), backend);
}

std::unique_ptr<Model> make_recurrent_gemma(const RecurrentGemmaConfig& config, Weights weights, Backend& backend) {
  return std::make_unique<RecurrentGemma>(config, std::move(weights), backend);
}

}  // namespace hl
