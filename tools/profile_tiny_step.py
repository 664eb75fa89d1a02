#!/usr/bin/env python3
"""Times one training step of each tiny model (tools/train_tiny.py's configs and fast scans) on a GPU, at a few
batch sizes, and prints the profiler's top operations: where a step's time goes.

    python3 tools/profile_tiny_step.py [--models griffin,jamba,mamba] [--T 364] [--batches 64,256]
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train_tiny as tt  # noqa: E402


def step_fn(model, opt, ids):
    import torch
    logits = model(input_ids=ids, use_cache=False).logits
    loss = torch.nn.functional.cross_entropy(logits[:, :-1].float().reshape(-1, tt.VOCAB), ids[:, 1:].reshape(-1))
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="griffin,jamba,mamba")
    ap.add_argument("--T", type=int, default=364)
    ap.add_argument("--batches", default="64,256")
    ap.add_argument("--profile", type=int, default=1)
    a = ap.parse_args()
    import torch
    import transformers
    transformers.logging.set_verbosity_error()
    dev = torch.device("cuda")
    for name in a.models.split(","):
        torch.manual_seed(0)
        model = getattr(transformers, tt.MODELS[name]["cls"])(tt.build_config(name)).float().to(dev)
        how = tt.install_rg_fast() if name == "griffin" else tt.install_mamba_fast(jamba=(name == "jamba"))
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=True)
        for B in [int(x) for x in a.batches.split(",")]:
            ids = torch.randint(4, tt.VOCAB, (B, a.T), device=dev)
            for fast in (True, False) if B == 64 else (True,):
                tt.FAST["on"] = fast
                for _ in range(2):
                    step_fn(model, opt, ids)
                torch.cuda.synchronize()
                t0 = time.time()
                n = 5
                for _ in range(n):
                    step_fn(model, opt, ids)
                torch.cuda.synchronize()
                ms = (time.time() - t0) / n * 1e3
                print("STEP %s B=%d T=%d fast=%s: %.1f ms/step, peak mem %.1f GB" % (
                    name, B, a.T, fast, ms, torch.cuda.max_memory_allocated() / 1e9), flush=True)
        tt.FAST["on"] = True
        if a.profile:
            ids = torch.randint(4, tt.VOCAB, (64, a.T), device=dev)
            from torch.profiler import profile, ProfilerActivity
            with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
                for _ in range(2):
                    step_fn(model, opt, ids)
                torch.cuda.synchronize()
            print("PROFILE", name, how)
            print(prof.key_averages().table(sort_by="cuda_time_total", row_limit=18, max_name_column_width=60))
            print(prof.key_averages().table(sort_by="cpu_time_total", row_limit=12, max_name_column_width=60))
        del model, opt
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


if __name__ == "__main__":
    main()
