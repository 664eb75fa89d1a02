#include "hybridlens/backend/make_backend.hpp"

#include <charconv>
#include <cstdlib>
#include <cstring>

#include "hybridlens/core/error.hpp"

namespace hl {

#ifdef HL_HAVE_CUDA
namespace cuda {
std::unique_ptr<Backend> new_cuda_backend(int index, bool precise);
int device_count(std::string* why);
}  // namespace cuda
#endif

Device parse_device(const std::string& text) {
  if (text == "cpu") return cpu_device();
  if (text == "cuda") return Device{DeviceKind::CUDA, 0};
  if (text.rfind("cuda:", 0) == 0) {
    const char* b = text.data() + 5;
    const char* e = text.data() + text.size();
    int index = -1;
    const auto [end, ec] = std::from_chars(b, e, index);
    if (b != e && ec == std::errc() && end == e && index >= 0) return Device{DeviceKind::CUDA, index};
  }
  fail("--device: \"", text, "\" is not a device (expected cpu, cuda or cuda:N)");
}

bool built_with_cuda() {
#ifdef HL_HAVE_CUDA
  return true;
#else
  return false;
#endif
}

int cuda_device_count(std::string* why) {
#ifdef HL_HAVE_CUDA
  return cuda::device_count(why);
#else
  if (why) *why = "hybridlens was built without CUDA";
  return 0;
#endif
}

std::unique_ptr<Backend> make_cuda_backend(int index, bool precise) {
#ifdef HL_HAVE_CUDA
  return cuda::new_cuda_backend(index, precise);
#else
  (void)index;
  (void)precise;
  fail("--device cuda: hybridlens was built without CUDA (configure with -DHL_CUDA=ON on a machine with nvcc)");
#endif
}

std::unique_ptr<Backend> make_backend(const Device& device) {
  if (device.kind == DeviceKind::CPU) return make_cpu_backend();
  const char* env = std::getenv("HL_CUDA_PRECISE");
  const bool precise = env && std::strcmp(env, "") != 0 && std::strcmp(env, "0") != 0;
  return make_cuda_backend(device.index, precise);
}

std::unique_ptr<Backend> make_backend(const std::string& device_text) { return make_backend(parse_device(device_text)); }

}  // namespace hl
