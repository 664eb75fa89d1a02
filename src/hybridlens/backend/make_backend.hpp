#pragma once
// Choosing a backend by device name: "cpu", "cuda" (= cuda:0) or "cuda:N". Builds without CUDA
// (HL_CUDA=OFF, or no CUDA compiler found) reject every cuda device with one clear error.
#include <memory>
#include <string>

#include "hybridlens/backend/backend.hpp"

namespace hl {

// Parses "cpu", "cuda", "cuda:N"; throws naming the text otherwise.
Device parse_device(const std::string& text);

// The backend for a device. CUDA: throws "built without CUDA" in such builds, or naming the missing device.
// HL_CUDA_PRECISE=1 in the environment makes the CUDA backend multiply BF16 weights in fp32 (slower, as exact
// as the CPU) instead of on the bf16 tensor cores.
std::unique_ptr<Backend> make_backend(const Device& device);
std::unique_ptr<Backend> make_backend(const std::string& device_text);

// Whether this build has the CUDA backend.
bool built_with_cuda();
// The number of CUDA devices usable now; 0 with `why` set when there are none (or no CUDA in the build).
int cuda_device_count(std::string* why);

// The CUDA backend on device `index`; `precise` as HL_CUDA_PRECISE above. Throws in builds without CUDA.
std::unique_ptr<Backend> make_cuda_backend(int index, bool precise);

}  // namespace hl
