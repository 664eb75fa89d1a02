#!/usr/bin/env bash
# The main job on the shipped default model: builds hybridlens, describes the model and generates
# greedily from a prompt, once unmodified and once with only the 1 lowest-entropy head per attention
# layer kept during generation, writing the per-head entropies to demo_out/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
model=models/tiny-griffin
[ -f "$model/config.json" ] || model=tests/fixtures/rg_mqa_f32
out=demo_out
mkdir -p "$out"
prompt="The quick brown fox jumps over the lazy dog. The weather today is"
echo "== model: $model"
build/hybridlens info --model "$model"
echo "== greedy generation, all heads"
build/hybridlens generate --model "$model" --prompt "$prompt" --max-new-tokens 24
echo "== greedy generation, 1 lowest-entropy head per layer during generation"
build/hybridlens generate --model "$model" --prompt "$prompt" --max-new-tokens 24 \
  --keep-heads 1 --sparsify generation --entropy-out "$out/entropy.npy" --kept-heads-out "$out/kept.npy"
