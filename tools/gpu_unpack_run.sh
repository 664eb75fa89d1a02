#!/usr/bin/env bash
# On a GPU machine: runs the packed CUDA tests (scripts/gpu-test.sh, with the 2b-shaped comparison) and
# the GPU benchmarks (tools/bench_gpu.py: hybridlens against transformers on the same GPU), from what
# tools/gpu_pack.sh packed into PACK_DIR. Results go to RESULTS_DIR (default ./gpu-results):
# gpu-test.log (the full test output), summary.txt and bench.json.
#
#   tools/gpu_unpack_run.sh PACK_DIR [RESULTS_DIR]
# Environment: SKIP_2B=1 skips the 2b checkpoint (5.4 GB written under /tmp), SKIP_BENCH=1 the benchmarks,
# TEST_TIMEOUT / BENCH_TIMEOUT (seconds, defaults 300 and 240).
set -uo pipefail
cd "$(dirname "$0")/.."
pack=${1:?usage: tools/gpu_unpack_run.sh PACK_DIR [RESULTS_DIR]}
res=${2:-gpu-results}
mkdir -p "$res" /tmp/hl-gpu-libs
tar -C /tmp/hl-gpu-libs -xJf "$pack/libs.tar.xz"
cublas=$(find /usr/local /opt /usr/lib -name 'libcublasLt.so.13*' 2>/dev/null | head -1)
export LD_LIBRARY_PATH="/tmp/hl-gpu-libs${cublas:+:$(dirname "$cublas")}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
missing=$(ldd "$pack/hl_tests" | grep 'not found')
[ -z "$missing" ] || { echo "gpu_unpack_run.sh: libraries not found: $missing"; exit 1; }
# The tests find the fixtures at the absolute path of the checkout they were built in.
fixtures=$(strings "$pack/hl_tests" | grep -m1 '/tests/fixtures$' || true)
if [ -n "$fixtures" ] && [ ! -e "$fixtures" ]; then
  root=$(dirname "$(dirname "$fixtures")")  # the checkout the tests were built in
  [ -e "$root" ] || { mkdir -p "$(dirname "$root")" && ln -s "$PWD" "$root"; }
fi
two_b=--2b
[ "${SKIP_2B:-0}" = 1 ] && two_b=
timeout "${TEST_TIMEOUT:-300}" scripts/gpu-test.sh --build "$pack" $two_b --log "$res/gpu-test.log" >"$res/summary.txt" 2>&1
echo "gpu-test.sh exit status $?" >>"$res/summary.txt"
cat "$res/summary.txt"
if [ "${SKIP_BENCH:-0}" != 1 ] && [ -f /tmp/hl-rg-2b/model.safetensors ]; then
  timeout "${BENCH_TIMEOUT:-240}" python3 tools/bench_gpu.py --model /tmp/hl-rg-2b --hybridlens "$pack/hybridlens" \
    --hl-bench "$pack/hl_bench" --out "$res/bench.json"
fi
