#!/usr/bin/env bash
# The main job: the retrieval study on the three shipped trained models (models/tiny-griffin, tiny-jamba,
# tiny-mamba). Every held-out needle of data/needles.jsonl hidden in the built-in haystack at 3 context
# lengths (164, 338 and 512 tokens with a 100-token buffer, up to twice the griffin window of 256, as in
# METHOD.md's grid for RecurrentGemma: 4096 = twice its 2048) and 3 depths; entropy-ranked top-k
# head sparsification with k = 0, 1, 2, 3 and all 4 heads per attention layer, during generation only and
# during prefill + generation. Prints the accuracy table and writes the report to demo_out/report/index.html.
# About 3-5 minutes on 2 cores after the build. Rerunning resumes: finished cells are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target hybridlens
out=demo_out
mkdir -p "$out"
echo "== the shipped models"
for m in models/tiny-griffin models/tiny-jamba models/tiny-mamba; do build/hybridlens info --model "$m" | head -3; done
echo "== NIAH sweep: 3 models x 14 held-out needles x 3 lengths x 3 depths x k in {0,1,2,3,all} x {generation, both}"
build/hybridlens niah --model models/tiny-griffin --model models/tiny-jamba --model models/tiny-mamba \
  --needles data/needles.jsonl --builtin-haystack --lengths 164,338,512 --buffer 100 --depths 0,50,100 \
  --keep 0,1,2,3,all --sparsify generation,both --record-entropy --db "$out/study.db"
echo "== report"
build/hybridlens report --db "$out/study.db" --out "$out/report"
echo "report: $out/report/index.html"
