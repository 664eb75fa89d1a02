#!/usr/bin/env bash
# Packs what the GPU tests and benchmarks need for a GPU machine that has the NVIDIA driver, CUDA 13's
# cuBLAS and Python but not the Debian development packages hybridlens builds with: the CUDA build's
# hl_tests, hybridlens and hl_bench, plus the shared libraries they load that such a machine may lack
# (OpenBLAS, SentencePiece, SQLite, gfortran/quadmath, libgomp, Google Benchmark), compressed.
#
#   tools/gpu_pack.sh [OUT_DIR]        (default .gpu; build-cuda/ is configured with -DHL_CUDA=ON and built)
# Then on the GPU machine, in a copy of this repository holding OUT_DIR:
#   tools/gpu_unpack_run.sh OUT_DIR [RESULTS_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-.gpu}
cmake -S . -B build-cuda -DCMAKE_BUILD_TYPE=Release -DHL_CUDA=ON >/dev/null
cmake --build build-cuda -j"$(nproc)" --target hl_tests hybridlens hl_bench
mkdir -p "$out"
cp build-cuda/hl_tests build-cuda/hybridlens build-cuda/hl_bench "$out/"
strip "$out/hl_tests" "$out/hybridlens" "$out/hl_bench"
libs=$(mktemp -d)
for bin in build-cuda/hl_tests build-cuda/hl_bench; do
  ldd "$bin" | awk '/=> \//{print $3}' | grep -E 'openblas|sentencepiece|sqlite3|gfortran|quadmath|gomp|benchmark' || true
done | sort -u | while read -r lib; do cp -L "$lib" "$libs/"; done
tar -C "$libs" -cJf "$out/libs.tar.xz" .
rm -rf "$libs"
ls -la "$out"
