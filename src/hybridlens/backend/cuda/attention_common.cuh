#pragma once
// Device helpers shared by the two attention paths (attention.cu: per-(query, head) blocks over the keys;
// attention_rows.cu: rows of a score matrix formed by cuBLAS), so that both apply the same visibility,
// statistics and manipulation rules.
#include "hybridlens/backend/cuda/kernels.hpp"

namespace hl::cuda {

// Keys a query at absolute position `pos` sees: [lo, pos]; the needle part of them: [nb, ne).
__device__ __forceinline__ void visible_range(const AttnArgs& a, int64_t pos, int64_t* lo, int64_t* nb, int64_t* ne) {
  *lo = a.window > 0 ? max(int64_t(0), pos - a.window + 1) : int64_t(0);
  *nb = max(*lo, a.span_begin);
  *ne = min(pos + 1, a.span_end);
}

// Writes the statistics of query t (of the call), head h: max score m, z = sum e^(s - m), es = sum e^(s - m)
// (s - m), needle = the needle keys' part of z, best_p = position of the first maximum.
__device__ __forceinline__ void store_stats(const AttnArgs& a, const AttnStats& st, int64_t t, int h, float m,
                                            float z, float es, float needle, int64_t best_p) {
  int64_t lo, nb, ne;
  visible_range(a, a.first_pos + t, &lo, &nb, &ne);
  const int64_t at = int64_t(h) * a.T + t;
  st.m[at] = m;
  st.z[at] = z;
  st.entropy[at] = fmaxf(0.0f, logf(z) - es / z);
  st.mass[at] = needle / z;
  st.top1[at] = int32_t(best_p);
  st.visible[at] = int32_t(max(int64_t(0), ne - nb));
}

// manipulation: 0 Keep, 1 Omit, 2 Only, 3 Binary, 4 Null.
// The factor binary multiplies the needle's summed values by (1 for the other manipulations).
__device__ __forceinline__ float out_factor(const AttnArgs& a, const AttnStats& st, int64_t t, int h, int manip,
                                            bool layer_mean) {
  if (manip != 3) return 1.0f;
  const int64_t at = int64_t(h) * a.T + t;
  float mass = st.mass[at];
  if (layer_mean) {
    mass = 0.0f;
    for (int g = 0; g < a.H; ++g) mass += st.mass[int64_t(g) * a.T + t];
    mass /= float(a.H);
  }
  const int32_t vis = st.visible[at];
  return vis > 0 ? mass / float(vis) : 0.0f;
}

}  // namespace hl::cuda
