#!/usr/bin/env python3
"""Prints hybridlens's error against every reference fixture (needs python3-numpy; runs on the CPU).

  python3 tools/fixture_errors.py [--hybridlens build/hybridlens] [--fixtures tests/fixtures]
"""
import argparse
import json
import os
import subprocess
import tempfile

import numpy as np


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hybridlens", default="build/hybridlens")
    ap.add_argument("--fixtures", default="tests/fixtures")
    args = ap.parse_args()
    print(f"{'fixture':18} {'case':>4} {'T':>4} {'max|err|':>10} {'scale':>8} {'err/scale':>10} {'argmax':>7}"
          f" {'bf16-compute err':>16}")
    with tempfile.TemporaryDirectory() as tmp:
        for name in sorted(os.listdir(args.fixtures)):
            d = os.path.join(args.fixtures, name)
            if not os.path.exists(os.path.join(d, "cases.json")):
                continue
            meta = json.load(open(os.path.join(d, "cases.json")))
            for i, case in enumerate(meta["cases"]):
                out = os.path.join(tmp, "l.npy")
                subprocess.run([args.hybridlens, "forward", "--model", d, "--ids", ",".join(map(str, case["ids"])),
                                "--logits-out", out], check=True, stderr=subprocess.DEVNULL)
                ours, ref = np.load(out), np.load(os.path.join(d, case["logits"]))
                err = float(np.abs(ours - ref).max())
                scale = float(np.abs(ref).max())
                agree = float((ours.argmax(-1) == ref.argmax(-1)).mean())
                bf = os.path.join(d, f"logits_bf16compute_{i}.npy")
                bf_err = f"{float(np.abs(np.load(bf) - ref).max()):.3g}" if os.path.exists(bf) else ""
                print(f"{name:18} {i:>4} {len(case['ids']):>4} {err:>10.3g} {scale:>8.3g} {err / scale:>10.3g}"
                      f" {agree:>7.3f} {bf_err:>16}")


if __name__ == "__main__":
    main()
