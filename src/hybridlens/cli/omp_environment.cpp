#include "hybridlens/cli/omp_environment.hpp"

#include <stdlib.h>
#include <unistd.h>

namespace hl::cli {

void prefer_passive_openmp_waiting(char** argv) {
  if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT")) return;
  if (setenv("OMP_WAIT_POLICY", "PASSIVE", 1) != 0) return;
  execv("/proc/self/exe", argv);
  // exec failed (no /proc, say): carry on with the default waiting
  unsetenv("OMP_WAIT_POLICY");
}

}  // namespace hl::cli
