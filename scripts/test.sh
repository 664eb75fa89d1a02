#!/usr/bin/env bash
# Builds and runs every test: the Release suite, then the same suite under AddressSanitizer and
# UndefinedBehaviorSanitizer (build-asan/, without the CUDA backend). Exit status is non-zero if anything fails.
set -euo pipefail
cd "$(dirname "$0")/.."
# ctest runs two test processes at once on two cores, each with its own OpenMP threads: with libgomp's
# default spinning wait, oversubscribed threads burn their time slices spinning (tests ran 10-70x slower).
export OMP_WAIT_POLICY=PASSIVE
scripts/build.sh
(cd build && ctest --output-on-failure -j"$(nproc)")
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHL_SANITIZE=ON -DHL_BUILD_BENCH=OFF -DHL_CUDA=OFF >/dev/null
cmake --build build-asan -j"$(nproc)"
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j"$(nproc)" -LE slow)
