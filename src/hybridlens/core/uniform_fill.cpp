#include "hybridlens/core/uniform_fill.hpp"

#include "hybridlens/core/error.hpp"
#include "hybridlens/core/parallel.hpp"

namespace hl {

void fill_uniform_host(void* dst, DType dtype, int64_t n, float lo, float hi, uint64_t stream) {
  HL_CHECK(dtype == DType::F32 || dtype == DType::BF16 || dtype == DType::F16,
           "random weights: unsupported dtype ", dtype_name(dtype));
  parallel_for(n, 1 << 16, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const float v = uniform_value(stream, i, lo, hi);
      if (dtype == DType::F32)
        static_cast<float*>(dst)[i] = v;
      else if (dtype == DType::BF16)
        static_cast<uint16_t*>(dst)[i] = f32_to_bf16(v);
      else
        static_cast<uint16_t*>(dst)[i] = f32_to_f16(v);
    }
  });
}

}  // namespace hl
