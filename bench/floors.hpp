#pragma once
// This machine's floors, measured in the same run as the benchmarks that quote ratios to them:
// the streaming read bandwidth (a bandwidth-bound kernel can at best read its bytes this fast) and the
// peak fp32 FMA rate (a compute-bound kernel can at best run its FLOPs this fast).
namespace hl::bench {

// Read bandwidth in GB/s (1e9 bytes/s) over a buffer much larger than the last-level cache (~2 GB; the L3
// here is 300 MB shared), all threads reading disjoint halves in parallel, best of several passes.
double measure_stream_bandwidth_gbs();

// Peak fp32 FMA rate in GFLOP/s (an FMA counts 2 FLOPs), all threads running independent
// register-resident FMA chains (AVX-512 where the CPU has it, else AVX2+FMA, else scalar).
double measure_peak_fma_gflops();

}  // namespace hl::bench
