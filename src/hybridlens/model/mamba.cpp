#include "hybridlens/model/mamba.hpp"

#include <algorithm>

#include "hybridlens/io/safetensors.hpp"
#include "hybridlens/model/final_logits.hpp"
#include "hybridlens/model/layer_stack_model.hpp"
#include "hybridlens/model/mamba_mixer.hpp"

namespace hl {
namespace {

class Mamba final : public LayerStackModel {
 public:
  Mamba(const MambaConfig& c, Weights w, Backend& be) : LayerStackModel(be), c_(c), w_(std::move(w)) {
    info_ = c.describe();
    info_.parameters = w_.parameters();
    info_.weight_dtype = w_.dtype_summary();
    shape_ = MambaMixerShape{c.hidden, c.d_inner, c.d_state, c.dt_rank, c.d_conv, c.use_conv_bias, c.use_bias, false};
    for (int i = 0; i < c.layers; ++i) {
      const std::string p = "backbone.layers." + std::to_string(i) + ".";
      norms_.push_back(w_.get(p + "norm.weight"));
      mixers_.push_back(mamba_mixer_weights(w_, p + "mixer.", shape_));
    }
    head_ = w_.has("lm_head.weight") ? &w_.get("lm_head.weight") : &w_.get("backbone.embeddings.weight");
  }

  const ModelInfo& info() const override { return info_; }
  Backend& backend() override { return be_; }

  DecodeState new_state() const override {
    DecodeState s;
    for (int i = 0; i < c_.layers; ++i) s.layers.push_back(new_mamba_layer_state(be_, shape_));
    return s;
  }

 private:
  // State b owns rows [b*T, (b+1)*T) of the ids (see mamba_mixer): one state with T tokens is the plain
  // forward pass, many states with one token each a batched decode step.
  // Mamba has no attention: the phase and the lenses change nothing.
  Tensor run_layers(std::span<DecodeState* const> sts, std::span<const int32_t> ids, Phase,
                    std::span<LensHook* const>) override {
    const int64_t B = int64_t(sts.size()), R = int64_t(ids.size()), T = R / B, D = c_.hidden;
    Tensor x = be_.empty(DType::F32, {R, D});
    be_.embed(x, w_.get("backbone.embeddings.weight"), std::vector<int32_t>(ids.begin(), ids.end()), 1.0f);
    Tensor h = be_.empty(DType::F32, {R, D});
    Tensor t = be_.empty(DType::F32, {R, D});
    std::vector<LayerState*> ls(sts.size());
    // Each residual add goes with the next layer's norm (add_rms_norm).
    if (c_.layers > 0) be_.rms_norm(h, x, norms_[0], c_.eps, false);
    for (int i = 0; i < c_.layers; ++i) {
      for (size_t b = 0; b < sts.size(); ++b) ls[b] = &sts[b]->layers[size_t(i)];
      mamba_mixer(be_, mixers_[size_t(i)], shape_, c_.eps, h, t, ls);
      if (i + 1 < c_.layers)
        be_.add_rms_norm(x, t, h, norms_[size_t(i + 1)], c_.eps, false);
      else
        be_.add_inplace(x, t);
    }
    for (DecodeState* st : sts) st->position += T;
    return x;
  }

  Tensor logits(const Tensor& x) override {
    return final_logits(be_, x, w_.get("backbone.norm_f.weight"), c_.eps, false, *head_, 0.0f);
  }

  MambaConfig c_;
  Weights w_;
  ModelInfo info_;
  MambaMixerShape shape_;
  std::vector<Tensor> norms_;
  std::vector<MambaMixerWeights> mixers_;
  const Tensor* head_ = nullptr;
};

}  // namespace

std::unique_ptr<Model> make_mamba(const MambaConfig& config, const TensorStore& store, Backend& backend) {
  return make_mamba(config, Weights::load(store, config.weight_specs(), backend), backend);
}

std::unique_ptr<Model> make_mamba(const MambaConfig& config, Weights weights, Backend& backend) {
  return std::make_unique<Mamba>(config, std::move(weights), backend);
}

}  // namespace hl
