#!/usr/bin/env bash
# One call on the GPU machine (see docs/models.md): optionally a smoke run of tools/train_tiny.py, then the real run
# (for the models whose smoke run passed), everything that must come back packed into $OUT (a few files):
#   train.log, summary.json, smoke.tar.gz (smoke logs/metrics), model_tiny-<name>.tar.gz (one model directory each:
#   checkpoint, tokenizer, model card, metrics, log; the float32 weights state_f32.pt only with KEEP_F32=1).
# Env: OUT (default /tmp/hl_out), WORK (default /tmp/hl_train), LIMIT_S (wall budget of this script, default 560),
#      SMOKE (1: smoke run first, the default; 0: straight to the real run), MODELS (default griffin,jamba,mamba),
#      EXTRA (more arguments for the real run, e.g. "--init-from DIR").
set -u
T0=$(date +%s)
OUT=${OUT:-/tmp/hl_out}
WORK=${WORK:-/tmp/hl_train}
LIMIT_S=${LIMIT_S:-560}
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
mkdir -p "$OUT" "$WORK"
cd "$(dirname "$0")/.."
{
  nvidia-smi --query-gpu=name,driver_version,memory.used,memory.total --format=csv
  nproc
  python3 -c "import torch, transformers, sentencepiece, safetensors, numpy; print('torch', torch.__version__, 'transformers', transformers.__version__, 'sentencepiece', sentencepiece.__version__, 'safetensors', safetensors.__version__, 'numpy', numpy.__version__, 'cuda', torch.cuda.is_available())"
} 2>&1 | tee "$OUT/train.log"

OK=${MODELS:-griffin,jamba,mamba}
if [ "${SMOKE:-1}" = "1" ]; then
  python3 tools/train_tiny.py --out "$WORK/smoke" --smoke --models "$OK" --budget-s ${SMOKE_BUDGET:-120} --grace-s 60 2>&1 \
    | sed -u 's/^/[smoke] /' | tee -a "$OUT/train.log"
  for d in "$WORK"/smoke/tiny-*; do
    [ -f "$d/train.log" ] && sed "s|^|[smoke $(basename "$d")] |" "$d/train.log" >> "$OUT/train.log"
  done
  tar -C "$WORK" -czf "$OUT/smoke.tar.gz" --exclude=state_f32.pt --exclude=model.safetensors --exclude=corpus.txt smoke
  OK=$(python3 tools/train_tiny.py --passed "$WORK/smoke")
  echo "smoke passed: [$OK]" | tee -a "$OUT/train.log"
fi

if [ -n "$OK" ]; then
  NOW=$(date +%s)
  BUDGET=$(( LIMIT_S - (NOW - T0) - 25 ))
  echo "real run: models $OK, budget $BUDGET s" | tee -a "$OUT/train.log"
  python3 tools/train_tiny.py --out "$WORK/run" --models "$OK" --budget-s $BUDGET ${EXTRA:-} 2>&1 | tee -a "$OUT/train.log"
  for d in "$WORK"/run/tiny-*; do
    [ -f "$d/train.log" ] && sed "s|^|[$(basename "$d")] |" "$d/train.log" >> "$OUT/train.log"
    if [ "${KEEP_F32:-0}" = "1" ]; then
      tar -C "$WORK/run" -czf "$OUT/model_$(basename "$d").tar.gz" "$(basename "$d")"
    else
      tar -C "$WORK/run" -czf "$OUT/model_$(basename "$d").tar.gz" --exclude=state_f32.pt "$(basename "$d")"
    fi
  done
  cp "$WORK/run/summary.json" "$OUT/summary.json" 2>/dev/null
fi
ls -la "$OUT" | tee -a "$OUT/train.log"
echo "script seconds: $(( $(date +%s) - T0 ))" | tee -a "$OUT/train.log"
