// block_diag_linear: per-block x_h @ W_h + b_h with W stored (in, out) (RecurrentGemma's RG-LRU gates).
// Few rows (decode): per block, out row = b + sum_i x[i] * W[i, :] as fp32 axpys over contiguous weight rows,
// threads splitting the blocks. Many rows (prefill): per block, W_h is widened and transposed once into the
// [out, in] layout of linear's weights and handed to the linear kernels (strided rows of x and out).
#include <algorithm>
#include <cstring>
#include <vector>

#include "hybridlens/backend/cpu/linear_kernels.hpp"
#include "hybridlens/backend/cpu/ops.hpp"
#include "hybridlens/backend/cpu/scratch.hpp"
#include "hybridlens/backend/cpu/weights.hpp"
#include "hybridlens/backend/op_checks.hpp"
#include "hybridlens/core/parallel.hpp"

namespace hl::cpu {
namespace {

constexpr int64_t kAxpyMaxRows = 8;

__attribute__((target_clones("avx512f", "avx2,fma", "default"))) void axpy_f32(float a, const float* x, float* y,
                                                                                 int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}

}  // namespace

void block_diag_linear(Tensor& out, const Tensor& x, const Tensor& w, const Tensor& b) {
  checks::check_block_diag_linear_args(DeviceKind::CPU, out, x, w, b);
  const int64_t T = x.dim(0), C = x.dim(1), blocks = w.dim(0), bw = w.dim(1);
  if (T == 0 || C == 0) return;

  const float* xs = x.data<float>();
  std::vector<float> b_f32;
  const float* bs = b.defined() ? weights_as_f32(b, b_f32) : nullptr;
  float* o = out.data<float>();
  const int64_t block_elems = bw * bw;

  if (T <= kAxpyMaxRows) {
    parallel_for(blocks, 1, [&](int64_t h0, int64_t h1) {
      float* wrow = thread_scratch(3, size_t(bw));
      for (int64_t hb = h0; hb < h1; ++hb) {
        for (int64_t t = 0; t < T; ++t) {
          float* dst = o + t * C + hb * bw;
          if (bs) std::memcpy(dst, bs + hb * bw, size_t(bw) * sizeof(float));
          else std::fill(dst, dst + bw, 0.0f);
        }
        for (int64_t i = 0; i < bw; ++i) {
          weights_to_f32(wrow, w.raw(), w.dtype(), hb * block_elems + i * bw, bw);
          for (int64_t t = 0; t < T; ++t) axpy_f32(xs[t * C + hb * bw + i], wrow, o + t * C + hb * bw, bw);
        }
      }
    });
    return;
  }

  auto run_blocks = [&](int64_t h0, int64_t h1) {
    float* wt = thread_scratch(3, size_t(block_elems) + size_t(bw));
    float* wrow = wt + block_elems;
    for (int64_t hb = h0; hb < h1; ++hb) {
      for (int64_t i = 0; i < bw; ++i) {  // wt[j, i] = W_h[i, j]
        weights_to_f32(wrow, w.raw(), w.dtype(), hb * block_elems + i * bw, bw);
        for (int64_t j = 0; j < bw; ++j) wt[j * bw + i] = wrow[j];
      }
      LinearArgs a;
      a.x = xs + hb * bw;
      a.w = wt;
      a.wdt = DType::F32;
      a.bias = bs ? bs + hb * bw : nullptr;
      a.out = o + hb * bw;
      a.T = T;
      a.K = bw;
      a.N = bw;
      a.ldx = C;
      a.ldo = C;
      run_linear(a);  // inside the parallel_for below it runs on this thread; else it splits itself
    }
  };
  if (blocks >= num_threads()) parallel_for(blocks, 1, run_blocks);
  else run_blocks(0, blocks);
}

}  // namespace hl::cpu
