#!/usr/bin/env python3
"""Times hybridlens (--device cuda) and transformers on the same GPU with the same weights: a hybridlens
random checkpoint (e.g. `hybridlens random-checkpoint --arch recurrent_gemma --preset 2b`), bf16.

Measures, on the GPU it runs on: the bf16 matrix rate and the copy bandwidth (the floors), transformers'
RecurrentGemmaForCausalLM prefill of --prompt-tokens tokens and greedy decode of --new-tokens tokens (both
timed through generate(), see transformers_run), and
`hybridlens generate --device cuda` on the same prompt (its own prefill/decode timers, weights already
resident, first-call costs included), and with --hl-bench the warmed-up GPU benchmarks of
bench/bench_gpu_model.cpp (prefill 4096, decode after 4096, a 4096+40 NIAH-sized cell). Prints one JSON object.

  python3 tools/bench_gpu.py --model /tmp/hl-rg-2b --hybridlens build-cuda/hybridlens \
      --hl-bench build-cuda/hl_bench --out bench.json
"""
import argparse
import json
import os
import subprocess
import tempfile
import time

import torch


def timed(fn, repeat=1):
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(repeat):
        r = fn()
    torch.cuda.synchronize()
    return (time.perf_counter() - t0) / repeat, r


def floors():
    a = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
    for _ in range(3):
        a @ b
    t, _ = timed(lambda: a @ b, 10)
    x = torch.empty(2 << 30, dtype=torch.uint8, device="cuda")
    y = torch.empty_like(x)
    y.copy_(x)
    tc, _ = timed(lambda: y.copy_(x), 10)
    return {"bf16_tflops": 2 * 8192**3 / t / 1e12, "copy_tb_s": 2 * x.numel() / tc / 1e12}


def transformers_run(model_dir, ids, new_tokens, repeat=2):
    """Prefill = generate() of one token; decode per token = (generate() of 1 + new_tokens tokens - that) /
    new_tokens. Both through generate(), after a warm-up, best of `repeat` each, so that the difference is
    decode and not a different code path or first-call costs."""
    from transformers import AutoModelForCausalLM

    t0 = time.perf_counter()
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.bfloat16).cuda().eval()
    load_s = time.perf_counter() - t0
    x = torch.tensor([ids], device="cuda")

    def gen(n):
        return model.generate(x, max_new_tokens=n, min_new_tokens=n, do_sample=False)

    with torch.no_grad():
        gen(2)  # warm-up at full length
        one = [timed(lambda: gen(1))[0] for _ in range(repeat)]
        runs = [timed(lambda: gen(1 + new_tokens)) for _ in range(repeat)]
    total_s = min(t for t, _ in runs)
    prefill_s = min(one)
    return {"load_s": load_s, "prefill_s": prefill_s, "prefill_runs_s": one,
            "prefill_plus_decode_s": total_s, "prefill_plus_decode_runs_s": [t for t, _ in runs],
            "decode_ms_per_token": 1000 * (total_s - prefill_s) / new_tokens,
            "new_ids": runs[0][1][0, len(ids):].tolist()}


def hybridlens_run(binary, model_dir, ids, new_tokens, extra):
    with tempfile.NamedTemporaryFile("w", suffix=".ids", delete=False) as f:
        f.write(",".join(map(str, ids)))
    cmd = [binary, "generate", "--model", model_dir, "--device", "cuda", "--ids-file", f.name,
           "--max-new-tokens", str(new_tokens), "--ignore-eos", "--json"] + extra
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    os.unlink(f.name)
    if p.returncode != 0:
        return {"error": p.stderr.strip()}
    j = json.loads(p.stdout.strip().splitlines()[-1])
    n = len(j.get("ids", j.get("new_ids", [])))
    return {"process_wall_s": wall, "prefill_s": j["prefill_seconds"], "decode_s": j["decode_seconds"],
            "decode_ms_per_token": 1000 * j["decode_seconds"] / max(1, new_tokens - 1),
            "new_ids": j.get("new_ids", j.get("ids")), "args": extra}


def hl_bench_run(binary, model_dir):
    env = dict(os.environ, HL_BENCH_MODEL_DIR=model_dir)
    p = subprocess.run([binary, "--benchmark_filter=Gpu2b", "--benchmark_format=json"], capture_output=True,
                       text=True, env=env)
    if p.returncode != 0:
        return {"error": p.stderr.strip()[-2000:]}
    out = {}
    for b in json.loads(p.stdout)["benchmarks"]:
        out[b["name"]] = {"ms": b["real_time"], "error": b.get("error_message")}
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--hybridlens", required=True)
    ap.add_argument("--prompt-tokens", type=int, default=4096)
    ap.add_argument("--new-tokens", type=int, default=32)
    ap.add_argument("--hl-bench")
    ap.add_argument("--skip-transformers", action="store_true")
    ap.add_argument("--out")
    a = ap.parse_args()
    g = torch.Generator().manual_seed(0)
    vocab = json.load(open(os.path.join(a.model, "config.json")))["vocab_size"]
    ids = [2] + torch.randint(3, vocab, (a.prompt_tokens - 1,), generator=g).tolist()
    r = {"gpu": torch.cuda.get_device_name(0), "prompt_tokens": a.prompt_tokens, "new_tokens": a.new_tokens,
         "floors": floors()}
    r["hybridlens"] = hybridlens_run(a.hybridlens, a.model, ids, a.new_tokens, [])
    r["hybridlens_entropy_k1"] = hybridlens_run(a.hybridlens, a.model, ids, a.new_tokens,
                                                ["--keep-heads", "1", "--sparsify", "generation"])
    if a.hl_bench:
        r["hl_bench"] = hl_bench_run(a.hl_bench, a.model)
    if not a.skip_transformers:
        try:
            r["transformers"] = transformers_run(a.model, ids, a.new_tokens)
        except Exception as e:  # report what failed next to the numbers that were measured
            r["transformers"] = {"error": f"{type(e).__name__}: {e}"}
    s = json.dumps(r, indent=1)
    print(s)
    if a.out:
        open(a.out, "w").write(s)


if __name__ == "__main__":
    main()
