#include "hybridlens/lens/head_stats.hpp"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <numeric>
#include <sstream>

#include "hybridlens/io/atomic_file.hpp"

namespace hl {

HeadStats::HeadStats(int layers, int heads, std::vector<int> k_list)
    : layers_(layers), heads_(heads), k_list_(std::move(k_list)) {
  const size_t n = size_t(layers) * heads;
  ent_sum_.assign(n, 0);
  ent_sq_.assign(n, 0);
  ent_n_.assign(n, 0);
  mass_sum_.assign(n, 0);
  mass_n_.assign(n, 0);
  retrieval_sum_.assign(n, 0);
  topk_hits_.assign(k_list_.size(), std::vector<double>(n, 0));
  topk_n_.assign(size_t(layers), 0);
}

void HeadStats::add(const PromptRecording& r) {
  const int64_t P = r.entropy.dim(2);
  HL_CHECK(r.entropy.dim(0) == layers_ && r.entropy.dim(1) == heads_, "head statistics: recording shape ",
           r.entropy.describe(), " does not match ", layers_, " x ", heads_);
  const float* ent = r.entropy.data<float>();
  std::vector<int> order(static_cast<size_t>(heads_));
  for (int l = 0; l < layers_; ++l) {
    for (int64_t t = 0; t < P; ++t) {
      for (int h = 0; h < heads_; ++h) {
        const double e = ent[(size_t(l) * heads_ + h) * P + t];
        ent_sum_[at(l, h)] += e;
        ent_sq_[at(l, h)] += e * e;
        ent_n_[at(l, h)] += 1;
      }
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
        return ent[(size_t(l) * heads_ + a) * P + t] < ent[(size_t(l) * heads_ + b) * P + t];
      });
      for (size_t ki = 0; ki < k_list_.size(); ++ki)
        for (int i = 0; i < std::min(k_list_[ki], heads_); ++i) topk_hits_[ki][at(l, order[size_t(i)])] += 1;
      topk_n_[size_t(l)] += 1;
    }
  }
  ++prompts_;
  if (!r.needle || r.needle->length() <= 0) return;
  ++needle_prompts_;
  // Generation step s produced ids[prompt_length + s] from the query at position prompt_length - 1 + s.
  const int64_t steps = std::min<int64_t>(r.generated, P - (r.prompt_length - 1));
  const float* mass = r.mass.defined() ? r.mass.data<float>() : nullptr;
  const int32_t* top1 = r.top1.defined() ? r.top1.data<int32_t>() : nullptr;
  for (int l = 0; l < layers_; ++l) {
    for (int h = 0; h < heads_; ++h) {
      double hits = 0;
      for (int64_t s = 0; s < steps; ++s) {
        const int64_t q = r.prompt_length - 1 + s;
        const size_t idx = (size_t(l) * heads_ + h) * P + size_t(q);
        if (mass) {
          mass_sum_[at(l, h)] += mass[idx];
          mass_n_[at(l, h)] += 1;
        }
        if (top1) {
          const int64_t src = top1[idx];
          const int64_t out = r.prompt_length + s;
          if (src >= r.needle->begin && src < r.needle->end && out < int64_t(r.ids.size()) &&
              r.ids[size_t(src)] == r.ids[size_t(out)])
            hits += 1;
        }
      }
      retrieval_sum_[at(l, h)] += hits / double(r.needle->length());
    }
  }
}

double HeadStats::entropy_mean(int l, int h) const {
  return ent_n_[at(l, h)] > 0 ? ent_sum_[at(l, h)] / ent_n_[at(l, h)] : NAN;
}

double HeadStats::entropy_std(int l, int h) const {
  const double n = ent_n_[at(l, h)];
  if (n < 2) return NAN;
  const double m = ent_sum_[at(l, h)] / n;
  return std::sqrt(std::max(0.0, (ent_sq_[at(l, h)] - n * m * m) / (n - 1)));
}

double HeadStats::topk_share(size_t k_index, int l, int h) const {
  return topk_n_[size_t(l)] > 0 ? topk_hits_[k_index][at(l, h)] / topk_n_[size_t(l)] : NAN;
}

double HeadStats::needle_mass(int l, int h) const {
  return mass_n_[at(l, h)] > 0 ? mass_sum_[at(l, h)] / mass_n_[at(l, h)] : NAN;
}

double HeadStats::retrieval_score(int l, int h) const {
  return needle_prompts_ > 0 ? retrieval_sum_[at(l, h)] / double(needle_prompts_) : NAN;
}

void HeadStats::write_csv(const std::string& path) const {
  std::ostringstream s;
  s << "attention_layer,head,entropy_mean_nats,entropy_std_nats,needle_mass,retrieval_score";
  for (int k : k_list_) s << ",top" << k << "_share";
  s << "\n" << std::setprecision(6);
  for (int l = 0; l < layers_; ++l)
    for (int h = 0; h < heads_; ++h) {
      s << l << "," << h << "," << entropy_mean(l, h) << "," << entropy_std(l, h) << "," << needle_mass(l, h) << ","
        << retrieval_score(l, h);
      for (size_t ki = 0; ki < k_list_.size(); ++ki) s << "," << topk_share(ki, l, h);
      s << "\n";
    }
  AtomicFileWriter f(path);
  f.write(s.str());
  f.commit();
}

}  // namespace hl
