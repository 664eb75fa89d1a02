#!/usr/bin/env python3
"""Weight averaging ("model soup") of train_tiny.py runs of one model, without torch.

    python3 tools/average_checkpoints.py --out DIR RUN_DIR[:WEIGHT] RUN_DIR[:WEIGHT] ...

Each RUN_DIR is a model directory that train_tiny.py wrote (state_f32.pt, config.json, tokenizer.model), or a
shipped one (models/tiny-*: its model.safetensors is read where there is no state_f32.pt), all of one
architecture (the same tensor names and shapes), e.g. continuations of one stage. The float32 weights are
averaged with the given weights (default 1 each, normalised to sum 1) and written as DIR/model.safetensors in
bfloat16 (round to nearest even, the public-checkpoint naming: no lm_head.weight when the embeddings are tied),
with the first run's config.json and tokenizer.model, and DIR/soup.json naming the parts.

Needs numpy (Debian: python3-numpy). state_f32.pt is read as the zip archive torch.save writes: the pickle's
tensors are rebuilt from their storages with numpy, so torch is not needed.
"""
import argparse
import json
import os
import pickle
import shutil
import struct
import sys
import zipfile

import numpy as np

_DTYPES = {"FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
           "LongStorage": np.int64, "IntStorage": np.int32, "BoolStorage": np.bool_, "ByteStorage": np.uint8}


class _StorageType:
    def __init__(self, name):
        if name not in _DTYPES:
            raise ValueError("unsupported tensor storage %s" % name)
        self.dtype = _DTYPES[name]


def load_torch_zip(path):
    """{name: numpy array} of a torch.save'd state dict (zip format, little-endian)."""
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        pkl = [n for n in names if n.endswith("/data.pkl")]
        if len(pkl) != 1:
            raise ValueError("%s: not a torch zip checkpoint (no single data.pkl)" % path)
        root = pkl[0][: -len("data.pkl")]
        storages = {}

        def storage(key, dtype):
            if key not in storages:
                storages[key] = np.frombuffer(z.read(root + "data/" + key), dtype=dtype)
            return storages[key]

        def rebuild(st, offset, size, stride, *_rest):
            flat = st
            if not size:
                return flat[offset : offset + 1].reshape(())
            item = flat.itemsize
            return np.lib.stride_tricks.as_strided(flat[offset:], shape=tuple(size),
                                                   strides=tuple(s * item for s in stride)).copy()

        class Unpickler(pickle.Unpickler):
            def find_class(self, module, name):
                if module == "torch._utils" and name == "_rebuild_tensor_v2":
                    return rebuild
                if module == "torch" and name.endswith("Storage"):
                    return _StorageType(name)
                if module == "collections" and name == "OrderedDict":
                    import collections
                    return collections.OrderedDict
                raise pickle.UnpicklingError("unexpected object in checkpoint: %s.%s" % (module, name))

            def persistent_load(self, pid):
                kind, stype, key, _location, _numel = pid
                if kind != "storage":
                    raise pickle.UnpicklingError("unexpected persistent id %r" % (pid,))
                return storage(key, stype.dtype)

        return dict(Unpickler(z.open(pkl[0])).load())


def load_safetensors(path):
    """name -> float32 array of a safetensors file (BF16, F16 or F32 tensors): a shipped checkpoint (models/)."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        raw = data[t["data_offsets"][0]:t["data_offsets"][1]]
        if t["dtype"] == "BF16":
            a = (np.frombuffer(raw, np.uint16).astype(np.uint32) << 16).view(np.float32)
        elif t["dtype"] in ("F16", "F32"):
            a = np.frombuffer(raw, np.float16 if t["dtype"] == "F16" else np.float32).astype(np.float32)
        else:
            raise ValueError("%s: tensor %s has dtype %s" % (path, name, t["dtype"]))
        out[name] = a.reshape(t["shape"])
    return out


def load_run(d):
    """A run's float32 weights: its state_f32.pt, or else its model.safetensors."""
    pt = os.path.join(d, "state_f32.pt")
    return load_torch_zip(pt) if os.path.isfile(pt) else load_safetensors(os.path.join(d, "model.safetensors"))


def to_bf16_bits(a):
    """float32 -> bfloat16 bit patterns, rounded to nearest even (finite inputs)."""
    u = np.ascontiguousarray(a, dtype=np.float32).view(np.uint32).astype(np.uint64)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)


def write_safetensors_bf16(path, tensors):
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        b = to_bf16_bits(tensors[name]).tobytes()
        header[name] = {"dtype": "BF16", "shape": list(tensors[name].shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("runs", nargs="+", help="RUN_DIR[:WEIGHT]")
    args = ap.parse_args()
    parts = []
    for spec in args.runs:
        d, sep, w = spec.rpartition(":") if ":" in spec else (spec, "", "1")
        try:
            weight = float(w)
        except ValueError:
            sys.exit("average_checkpoints: bad weight in %r" % spec)
        if not any(os.path.isfile(os.path.join(d, f)) for f in ("state_f32.pt", "model.safetensors")):
            sys.exit("average_checkpoints: %s has neither state_f32.pt nor model.safetensors" % d)
        parts.append((d, weight))
    total = sum(w for _, w in parts)
    if total <= 0:
        sys.exit("average_checkpoints: the weights must sum to more than 0")
    with open(os.path.join(parts[0][0], "config.json")) as f:
        cfg = json.load(f)
    avg = None
    for d, w in parts:
        try:
            sd = load_run(d)
        except (zipfile.BadZipFile, pickle.UnpicklingError, EOFError, KeyError, ValueError, struct.error) as e:
            sys.exit("average_checkpoints: %s: unreadable (%s)" % (d, e))
        if cfg.get("tie_word_embeddings"):  # shipped files leave the tied output head out
            sd.pop("lm_head.weight", None)
        if avg is None:
            avg = {k: np.zeros(v.shape, np.float64) for k, v in sd.items()}
        if sd.keys() != avg.keys() or any(sd[k].shape != avg[k].shape for k in sd):
            sys.exit("average_checkpoints: %s has other tensors than %s" % (d, parts[0][0]))
        for k, v in sd.items():
            avg[k] += (w / total) * v.astype(np.float64)
    if cfg.get("tie_word_embeddings"):
        avg.pop("lm_head.weight", None)
    os.makedirs(args.out, exist_ok=True)
    write_safetensors_bf16(os.path.join(args.out, "model.safetensors"),
                           {k: v.astype(np.float32) for k, v in avg.items()})
    for f in ("config.json", "tokenizer.model"):
        shutil.copyfile(os.path.join(parts[0][0], f), os.path.join(args.out, f))
    with open(os.path.join(args.out, "soup.json"), "w") as f:
        json.dump({"parts": [{"run": d, "weight": w / total} for d, w in parts]}, f, indent=1)
    print("average_checkpoints: %d runs -> %s (%d tensors)" % (len(parts), args.out, len(avg)))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, pickle.UnpicklingError, json.JSONDecodeError) as e:
        sys.exit("average_checkpoints: %s" % e)
