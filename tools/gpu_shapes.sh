#!/usr/bin/env bash
# On a GPU machine, from what tools/gpu_pack.sh packed: issue 7's measurements that need no checkpoint file, on
# random models made on the GPU (--model random:ARCH:PRESET): for RecurrentGemma-2B, RecurrentGemma-9B and
# Jamba-Mini-1.6, one 4,096-token prompt + 40 greedy tokens with entropy recording (prefill seconds, decode
# ms/token, the HL_CUDA_PROFILE table) and one 32,768-token prompt with entropy recording (peak GPU memory,
# sampled by nvidia-smi every 100 ms). Everything goes to RESULTS_DIR/shapes.tar.gz plus a summary on stdout.
#
#   tools/gpu_shapes.sh PACK_DIR [RESULTS_DIR]      (default RESULTS_DIR: gpu-shapes)
# Environment: SHAPES (default "random:recurrent_gemma:2b random:recurrent_gemma:9b random:jamba:jamba-mini-1.6"),
# LONG (default 32768), RUN_TIMEOUT (seconds per run, default 240).
set -uo pipefail
cd "$(dirname "$0")/.."
pack=${1:?usage: tools/gpu_shapes.sh PACK_DIR [RESULTS_DIR]}
res=${2:-gpu-shapes}
mkdir -p "$res/runs" /tmp/hl-gpu-libs
[ -f /tmp/hl-gpu-libs/.unpacked ] || { tar -C /tmp/hl-gpu-libs -xJf "$pack/libs.tar.xz" && touch /tmp/hl-gpu-libs/.unpacked; }
cublas=$(find /usr/local /opt /usr/lib -name 'libcublasLt.so.13*' 2>/dev/null | head -1)
export LD_LIBRARY_PATH="/tmp/hl-gpu-libs${cublas:+:$(dirname "$cublas")}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
hl="$pack/hybridlens"
long=${LONG:-32768}

ids() {  # N random ids below VOCAB after BOS 2
  python3 -c "import random,sys; random.seed(0); n,v=int(sys.argv[1]),int(sys.argv[2]); print(','.join(['2']+[str(random.randrange(3,v)) for _ in range(n-1)]))" "$1" "$2"
}

peak_of() {  # peak_of OUT ERR CMD...: runs CMD >OUT 2>ERR while sampling the GPU's used memory; prints the peak
  local out=$1 err=$2 log
  shift 2
  log=$(mktemp)
  nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -i "${CUDA_VISIBLE_DEVICES:-0}" -lms 100 >"$log" &
  local smi=$!
  "$@" >"$out" 2>"$err"
  local rc=$?
  kill "$smi" 2>/dev/null
  wait "$smi" 2>/dev/null
  echo "peak GPU memory MiB: $(sort -n "$log" | tail -1) (exit $rc)"
  rm -f "$log"
}

for shape in ${SHAPES:-random:recurrent_gemma:2b random:recurrent_gemma:9b random:jamba:jamba-mini-1.6}; do
  tag=$(echo "$shape" | tr ':' '_')
  vocab=$("$hl" info --arch "$(echo "$shape" | cut -d: -f2)" --preset "$(echo "$shape" | cut -d: -f3)" --json |
          python3 -c "import json,sys; print(json.load(sys.stdin)['vocab'])")
  ids 4096 "$vocab" >"/tmp/ids_4096_$vocab"
  ids "$long" "$vocab" >"/tmp/ids_${long}_$vocab"
  echo "== $shape (vocab $vocab)"
  HL_CUDA_PROFILE=1 timeout "${RUN_TIMEOUT:-240}" "$hl" generate --model "$shape" --device cuda \
    --ids-file "/tmp/ids_4096_$vocab" --max-new-tokens 40 --ignore-eos --json \
    --entropy-out "$res/runs/${tag}_entropy4096.npy" >"$res/runs/${tag}_4096.json" 2>"$res/runs/${tag}_4096.txt"
  python3 - "$res/runs/${tag}_4096.json" <<'PY'
import json, sys
try:
    j = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
    print("4096 + 40: prefill %.3f s, decode %.2f ms/token" % (j["prefill_seconds"], 1000 * j["decode_seconds"] / 39))
except Exception as e:
    print("4096 + 40: no result (%s); see the .txt next to it" % e)
PY
  echo -n "$long-token prompt with entropy recording: "
  peak_of "$res/runs/${tag}_$long.json" "$res/runs/${tag}_$long.txt" timeout "${RUN_TIMEOUT:-240}" "$hl" generate \
    --model "$shape" --device cuda --ids-file "/tmp/ids_${long}_$vocab" --max-new-tokens 2 --ignore-eos --json \
    --entropy-out "$res/runs/${tag}_entropy$long.npy"
  rm -f "$res/runs/${tag}_entropy$long.npy"  # [layers, heads, 32k] floats: only its size mattered
done
tar -C "$res" -czf "$res/shapes.tar.gz" runs && rm -rf "$res/runs"
