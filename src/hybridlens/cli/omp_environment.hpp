#pragma once

namespace hl::cli {

// libgomp's default wait (spinning for ~0.3 ms before sleeping) makes every parallel region crawl when the cores
// are shared with other work: measured 10x slower NIAH sweeps on a 2-core machine with one other busy process.
// libgomp reads its settings once, when it is loaded, so when the user has set neither OMP_WAIT_POLICY nor
// GOMP_SPINCOUNT this re-executes the program with OMP_WAIT_POLICY=PASSIVE (threads sleep at once when idle).
// Set OMP_WAIT_POLICY=ACTIVE for a dedicated machine. Returns only when no re-execution happened.
void prefer_passive_openmp_waiting(char** argv);

}  // namespace hl::cli
