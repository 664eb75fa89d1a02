#include "hybridlens/model/recurrent_gemma.hpp"

#include <algorithm>
#include <cmath>

#include "hybridlens/io/safetensors.hpp"
#include "hybridlens/model/final_logits.hpp"

namespace hl {
namespace {

class RecurrentGemma final : public Model {
 public:
  RecurrentGemma(const RecurrentGemmaConfig& c, const TensorStore& store, Backend& be)
      : c_(c), be_(be), w_(Weights::load(store, c.weight_specs(), be)) {
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

  std::vector<float> forward(DecodeState& st, std::span<const int32_t> ids, Phase phase, LogitsWanted wanted,
                             LensHook* lens) override {
    return chunked_forward(
        st, c_.layers, c_.vocab, ids, wanted, [&](std::span<const int32_t> chunk) { return run_layers(st, chunk, phase, lens); },
        [&](const Tensor& x, std::vector<float>& logits) { append_logits(x, logits); });
  }

 private:
  const Tensor& W(int layer, const char* name) const {
    return w_.get("model.layers." + std::to_string(layer) + "." + name);
  }

  Tensor run_layers(DecodeState& st, std::span<const int32_t> ids, Phase phase, LensHook* lens) {
    const int64_t T = int64_t(ids.size()), D = c_.hidden, M = c_.intermediate / 2;
    const int64_t first = st.position;
    Tensor x = be_.zeros(DType::F32, {T, D});
    be_.embed(x, w_.get("model.embed_tokens.weight"), std::vector<int32_t>(ids.begin(), ids.end()),
              c_.embed_scale());
    Tensor h = be_.zeros(DType::F32, {T, D});
    Tensor t = be_.zeros(DType::F32, {T, D});
    Tensor gate = be_.zeros(DType::F32, {T, M});
    Tensor up = be_.zeros(DType::F32, {T, M});
    int attn_index = 0;
    for (int i = 0; i < c_.layers; ++i) {
      be_.rms_norm(h, x, W(i, "temporal_pre_norm.weight"), c_.eps, true);
      if (c_.is_attention(i)) {
        attention_block(t, h, st.layers[size_t(i)], i, attn_index++, first, phase, lens);
      } else {
        recurrent_block(t, h, st.layers[size_t(i)], i, first);
      }
      be_.add_inplace(x, t);
      be_.rms_norm(h, x, W(i, "channel_pre_norm.weight"), c_.eps, true);
      be_.linear(gate, h, W(i, "mlp_block.gate_proj.weight"), W(i, "mlp_block.gate_proj.bias"));
      be_.linear(up, h, W(i, "mlp_block.up_proj.weight"), W(i, "mlp_block.up_proj.bias"));
      be_.activation_mul(gate, gate, up, Activation::GeluTanh);
      be_.linear(t, gate, W(i, "mlp_block.down_proj.weight"), W(i, "mlp_block.down_proj.bias"));
      be_.add_inplace(x, t);
    }
    st.position = first + T;
    return x;
  }

  void recurrent_block(Tensor& out, const Tensor& h, LayerState& ls, int i, int64_t first) {
    const int64_t T = h.dim(0), L = c_.lru_width;
    Tensor y = be_.zeros(DType::F32, {T, L});
    Tensor u = be_.zeros(DType::F32, {T, L});
    Tensor conv = be_.zeros(DType::F32, {T, L});
    Tensor gx = be_.zeros(DType::F32, {T, L});
    Tensor ga = be_.zeros(DType::F32, {T, L});
    be_.linear(y, h, W(i, "temporal_block.linear_y.weight"), W(i, "temporal_block.linear_y.bias"));
    be_.linear(u, h, W(i, "temporal_block.linear_x.weight"), W(i, "temporal_block.linear_x.bias"));
    be_.conv1d_causal(conv, u, W(i, "temporal_block.conv_1d.weight"), W(i, "temporal_block.conv_1d.bias"), ls.conv);
    be_.block_diag_linear(gx, conv, W(i, "temporal_block.rg_lru.input_gate_weight"),
                          W(i, "temporal_block.rg_lru.input_gate_bias"));
    be_.block_diag_linear(ga, conv, W(i, "temporal_block.rg_lru.recurrent_gate_weight"),
                          W(i, "temporal_block.rg_lru.recurrent_gate_bias"));
    std::vector<int64_t> positions(static_cast<size_t>(T));
    for (int64_t t = 0; t < T; ++t) positions[size_t(t)] = first + t;
    be_.rglru_scan(u, conv, gx, ga, W(i, "temporal_block.rg_lru.recurrent_param"), positions, ls.rec);
    be_.activation_mul(u, y, u, Activation::GeluTanh);  // gelu(y branch) * rg_lru output
    be_.linear(out, u, W(i, "temporal_block.linear_out.weight"), W(i, "temporal_block.linear_out.bias"));
  }

  void attention_block(Tensor& out, const Tensor& h, LayerState& ls, int i, int attn_index, int64_t first,
                       Phase phase, LensHook* lens) {
    const int64_t T = h.dim(0);
    const int64_t qw = int64_t(c_.heads) * c_.head_dim, kw = int64_t(c_.kv_heads) * c_.head_dim;
    Tensor q = be_.zeros(DType::F32, {T, qw});
    Tensor k = be_.zeros(DType::F32, {T, kw});
    Tensor v = be_.zeros(DType::F32, {T, kw});
    Tensor o = be_.zeros(DType::F32, {T, qw});
    const Tensor none;
    be_.linear(q, h, W(i, "temporal_block.q_proj.weight"), none);
    be_.linear(k, h, W(i, "temporal_block.k_proj.weight"), none);
    be_.linear(v, h, W(i, "temporal_block.v_proj.weight"), none);
    be_.rotary(q, c_.heads, c_.head_dim, c_.rot_dims(), c_.rope_theta, first);
    be_.rotary(k, c_.kv_heads, c_.head_dim, c_.rot_dims(), c_.rope_theta, first);
    AttentionSpec spec;
    spec.heads = c_.heads;
    spec.kv_heads = c_.kv_heads;
    spec.head_dim = c_.head_dim;
    spec.window = c_.window;
    spec.scale = 1.0f / std::sqrt(float(c_.head_dim));
    AttentionLens al;
    const bool use_lens = lens && lens->configure(attn_index, c_.heads, first, T, phase, al);
    be_.attention(o, q, k, v, ls.kv, spec, first, use_lens ? &al : nullptr);
    be_.linear(out, o, W(i, "temporal_block.o_proj.weight"), W(i, "temporal_block.o_proj.bias"));
  }

  void append_logits(const Tensor& x, std::vector<float>& logits) {
    append_final_logits(be_, x, w_.get("model.final_norm.weight"), c_.eps, true, *head_, c_.soft_cap, logits);
  }

  RecurrentGemmaConfig c_;
  Backend& be_;
  Weights w_;
  ModelInfo info_;
  const Tensor* head_ = nullptr;
};

}  // namespace

std::unique_ptr<Model> make_recurrent_gemma(const RecurrentGemmaConfig& config, const TensorStore& store,
                                            Backend& backend) {
  return std::make_unique<RecurrentGemma>(config, store, backend);
}

}  // namespace hl
