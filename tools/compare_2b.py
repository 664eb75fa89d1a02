#!/usr/bin/env python3
"""Compares hybridlens with transformers on a RecurrentGemma-2B-shaped random checkpoint.

Runs on a machine with torch + transformers (the GPU machine). Builds the model with transformers' own
random initialisation, stores it in bf16, computes the reference logits in fp32 on the CPU from those
bf16 weights, runs `hybridlens forward` on the same checkpoint and prompt, and prints the error.

  python3 tools/compare_2b.py --hybridlens build/hybridlens --work /tmp/rg2b --out result.json
"""
import argparse
import json
import os
import subprocess
import time

import numpy as np
import torch
from transformers import RecurrentGemmaConfig, RecurrentGemmaForCausalLM


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hybridlens", required=True)
    ap.add_argument("--work", default="/tmp/rg2b")
    ap.add_argument("--out", required=True)
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--threads", type=int, default=16)
    args = ap.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    cfg = RecurrentGemmaConfig(
        hidden_size=2560, intermediate_size=15360, num_hidden_layers=26, vocab_size=256000,
        num_attention_heads=10, num_key_value_heads=1, attention_window_size=2048, lru_width=2560,
        conv1d_width=4, logits_soft_cap=30.0, rms_norm_eps=1e-6, tie_word_embeddings=True)
    t0 = time.time()
    model = RecurrentGemmaForCausalLM(cfg).to(torch.bfloat16)
    model.save_pretrained(args.work, safe_serialization=True)
    del model
    ref_model = RecurrentGemmaForCausalLM.from_pretrained(args.work, dtype=torch.float32, attn_implementation="eager")
    ref_model.eval()
    gen = torch.Generator().manual_seed(1)
    ids = [2] + torch.randint(3, 256000, (args.tokens - 1,), generator=gen).tolist()
    with torch.no_grad():
        ref = ref_model(torch.tensor([ids])).logits[0].float().numpy()
    t_ref = time.time() - t0
    ours_path = os.path.join(args.work, "ours.npy")
    t1 = time.time()
    subprocess.run([args.hybridlens, "forward", "--model", args.work, "--ids", ",".join(map(str, ids)),
                    "--logits-out", ours_path, "--threads", str(args.threads)], check=True)
    t_ours = time.time() - t1
    ours = np.load(ours_path)
    err = np.abs(ours - ref)
    scale = float(np.abs(ref).max())
    result = {
        "shape": list(ref.shape),
        "max_abs_error": float(err.max()),
        "mean_abs_error": float(err.mean()),
        "reference_scale_max_abs_logit": scale,
        "relative_to_scale": float(err.max()) / scale,
        "argmax_agreement": float((ours.argmax(-1) == ref.argmax(-1)).mean()),
        "per_position_max_error_first_last": [float(err[0].max()), float(err[-1].max())],
        "reference_seconds_including_init_and_save": t_ref,
        "hybridlens_forward_seconds": t_ours,
        "transformers_version": __import__("transformers").__version__,
        "torch_version": torch.__version__,
    }
    print(json.dumps(result, indent=2))
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
