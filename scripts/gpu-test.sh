#!/usr/bin/env bash
# Runs the CUDA backend's tests on a machine with an NVIDIA GPU and prints a summary: every operation
# against the CPU backend (worst error of each case), the fixtures' logits, entropies and greedy
# continuations through the GPU, the lens identities, and (with --2b) a 2b-shaped RecurrentGemma against the
# CPU on a 512-token prompt. Exit status is non-zero if any test fails; without a GPU every test skips with
# "no CUDA device: ...".
#
#   scripts/gpu-test.sh [--build DIR] [--2b] [--log FILE]
#     --build DIR  use the hl_tests (and hybridlens) already built in DIR instead of configuring and
#                  building build-cuda/ with -DHL_CUDA=ON
#     --2b         also write a random 2b-shaped checkpoint (about 5.4 GB, under ${TMPDIR:-/tmp}) for the
#                  CPU-vs-GPU comparison
#     --log FILE   keep the full test output there (default: a temporary file)
set -euo pipefail
cd "$(dirname "$0")/.."
build="" two_b=0 log=""
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build="$2"; shift 2 ;;
    --2b) two_b=1; shift ;;
    --log) log="$2"; shift 2 ;;
    *) echo "gpu-test.sh: unknown argument $1 (see the comment at the top of the script)" >&2; exit 2 ;;
  esac
done
if [ -z "$build" ]; then
  build=build-cuda
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DHL_CUDA=ON -DHL_BUILD_BENCH=OFF >/dev/null
  cmake --build "$build" -j"$(nproc)" --target hl_tests hybridlens
fi
[ -x "$build/hl_tests" ] || { echo "gpu-test.sh: no $build/hl_tests" >&2; exit 1; }
[ -n "$log" ] || log=$(mktemp "${TMPDIR:-/tmp}/hl-gpu-test.XXXXXX")
export OMP_WAIT_POLICY=PASSIVE
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | sed 's/^/gpu: /' || echo "gpu: none found by nvidia-smi"

status=0
: >"$log"
# One process per suite, so that a device fault in one cannot take the others down with it.
for suite in 'CudaOps.*' 'CudaAttention.*' \
  'CudaModels.*:Archs/CudaLensIdentity.*:Architectures/BatchedDecodeTest.Cuda*'; do
  "$build/hl_tests" --gtest_filter="$suite" --gtest_color=no >>"$log" 2>&1 || status=$?
done
if [ "$two_b" = 1 ]; then
  dir="${TMPDIR:-/tmp}/hl-rg-2b"
  [ -f "$dir/model.safetensors" ] || "$build/hybridlens" random-checkpoint --arch recurrent_gemma --preset 2b --out "$dir" --seed 1
  HL_GPU_2B_DIR="$dir" "$build/hl_tests" --gtest_filter='CudaModels.TwoBShapeAgainstCpu' --gtest_color=no >>"$log" 2>&1 || status=$?
fi

echo "== errors (each case's worst error against the CPU backend or the transformers fixtures)"
grep -E '^\[ cuda' "$log" || true
echo "== skipped"
grep -E 'no CUDA device|set HL_GPU_2B_DIR' "$log" | sort | uniq -c || echo none
echo "== failures"
grep -E '^\[  FAILED  \]|Failure$|error: ' "$log" | sort -u || echo "none"
echo "== summary"
grep -E '^\[  PASSED  \]|^\[  SKIPPED \] [0-9]|^\[  FAILED  \] [0-9]|tests? from .* ran' "$log" || true
echo "full log: $log"
exit $status
