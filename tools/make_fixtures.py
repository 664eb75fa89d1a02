#!/usr/bin/env python3
"""Reference-fixture generator for hybridlens.

Writes small random-weight checkpoints (RecurrentGemma, Jamba, Mamba) in the Hugging Face layout,
SentencePiece tokenizers trained here from generated text, and reference outputs computed with
Hugging Face transformers in float32 on the CPU:

    OUT/<fixture>/config.json
    OUT/<fixture>/model.safetensors        (or model-0000k-of-0000n.safetensors + model.safetensors.index.json)
    OUT/<fixture>/tokenizer.model
    OUT/<fixture>/cases.json               (texts, ids, greedy continuations, notes)
    OUT/<fixture>/logits_{i}.npy           float32 [T, vocab], every position
    OUT/<fixture>/entropy_{i}.npy          float32 [n_attention_layers, num_heads, T] (nats; not for Mamba)
    OUT/manifest.json

Usage:  python3 tools/make_fixtures.py --out DIR [--diag DIR] [--only NAME[,NAME..]]
        python3 tools/make_fixtures.py --selftest     (parts that need no transformers)

Needs: torch, transformers 5.x, sentencepiece, numpy, safetensors.  Everything is seeded and runs on
the CPU in float32 (no TF32, deterministic algorithms), attn_implementation="eager".

RecurrentGemma and the attention window: the prompts are several windows long.  transformers 5.x
builds a sliding-window mask (each query sees itself and the previous window-1 positions); the script
checks that from the recorded attention probabilities.  Should a transformers version not window the
prefill, the script imposes the window itself and says so in cases.json.
"""

import argparse
import contextlib
import copy
import json
import math
import os
import platform
import random
import re
import shutil
import sys
import tempfile
import time
import traceback
import zlib

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import numpy as np  # noqa: E402
import torch  # noqa: E402

VOCAB = 512
GREEDY_NEW = 16
GREEDY_UNCACHED = 20
MIN_PROMPT_TOKENS = 101  # including BOS, so at least 100 text tokens
MIN_GREEDY_MARGIN = 2e-3  # prompts whose greedy continuation has a closer top-2 call are replaced
PROMPT_ATTEMPTS = 10

# ----------------------------------------------------------------------------------------------
# Deterministic text
# ----------------------------------------------------------------------------------------------

WORDS = """
the of and to in is was that for it with as on be at by this had not are but from or have an they which
one you were her all she there would their we him been has when who will more no if out so said what up
its about into than them can only other new some could time these two may then do first any my now such
like our over man me even most made after also did many before must through back years where much your
way well down should because each just those people how too little state good very make world still own
see men work long get here between both life being under never day same another know while last might us
great old year off come since against go came right used take three place small house river stone water
light night morning garden window table chair paper letter number story city town road bridge forest
mountain valley island ocean field farm animal horse bird fish tree flower grass seed fruit apple bread
cheese butter milk coffee tea sugar salt honey lemon orange green blue red yellow black white silver gold
iron glass wood cloth wool cotton summer winter spring autumn north south east west left quiet loud
bright dark warm cold early late quick slow happy tired clever brave gentle careful simple strange
ancient modern music song voice dream memory question answer problem reason method engine signal pattern
window clock candle lamp mirror door wall roof floor kitchen market school library museum station harbor
captain teacher doctor farmer sailor painter writer friend mother father sister brother child king queen
village castle tower path journey travel walk run jump swim climb read write sing listen watch carry
build open close begin finish remember forget believe follow return wait hope find keep hold turn bring
seven eight nine ten hundred thousand special magic hidden secret careful everyone nothing something
""".split()


def make_sentence(rng):
    n = rng.randint(4, 12)
    words = [rng.choice(WORDS) for _ in range(n)]
    if rng.random() < 0.35:
        words.insert(rng.randint(0, len(words)), str(rng.randint(0, 99999)))
    if rng.random() < 0.25 and len(words) > 5:
        k = rng.randint(1, len(words) - 2)
        words[k] = words[k] + ","
    s = " ".join(words)
    s = s[0].upper() + s[1:]
    return s + rng.choice([".", ".", ".", ".", "?", "!"])


def make_text(rng, n_sentences):
    return " ".join(make_sentence(rng) for _ in range(n_sentences))


# ----------------------------------------------------------------------------------------------
# Tokenizers
# ----------------------------------------------------------------------------------------------

TOKENIZER_STYLES = {
    # RecurrentGemma / Gemma: no dummy prefix (as Gemma's tokenizer.model)
    "gemma": dict(pad_id=0, eos_id=1, bos_id=2, unk_id=3, add_dummy_prefix=False),
    # Llama-style (Jamba, and Mamba here): dummy prefix on
    "llama": dict(unk_id=0, bos_id=1, eos_id=2, pad_id=-1, add_dummy_prefix=True),
}

TOKENIZER_PROBES = [
    "Hello world.",
    "The special magic number is 73914.",
    "  two  spaces and a trailing space ",
    "tab\there, newline\nthere",
    "caf\u00e9 na\u00efve \u00fcber \u65e5\u672c",
    "1234567890",
    "Zebra QUIZ xylophone?!",
]


def _train_spm(spm, corpus, prefix, st):
    spm.SentencePieceTrainer.train(
        input=corpus,
        model_prefix=prefix,
        model_type="bpe",
        vocab_size=VOCAB,
        character_coverage=1.0,
        split_digits=True,
        byte_fallback=True,
        normalization_rule_name="identity",
        remove_extra_whitespaces=False,
        add_dummy_prefix=st["add_dummy_prefix"],
        pad_id=st["pad_id"],
        eos_id=st["eos_id"],
        bos_id=st["bos_id"],
        unk_id=st["unk_id"],
        num_threads=1,
        shuffle_input_sentence=False,
        input_sentence_size=0,
        minloglevel=2,
    )


def train_tokenizer(style, workdir):
    import sentencepiece as spm

    rng = random.Random(1234)
    lines = [make_sentence(rng) for _ in range(4000)]
    # a few lines with capitals and rarer characters so single-letter pieces exist for them
    lines += ["Zebra Quiz Xylophone Jazz Vex Kayak Yak Quip Wax Fjord."] * 20
    corpus = os.path.join(workdir, "corpus_%s.txt" % style)
    with open(corpus, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    prefix = os.path.join(workdir, "tok_%s" % style)
    st = TOKENIZER_STYLES[style]
    # relative paths: the trainer records them in tokenizer.model, keep the file byte-reproducible
    cwd = os.getcwd()
    os.chdir(workdir)
    try:
        _train_spm(spm, os.path.basename(corpus), os.path.basename(prefix), st)
    finally:
        os.chdir(cwd)
    path = prefix + ".model"
    sp = spm.SentencePieceProcessor(model_file=path)
    assert sp.get_piece_size() == VOCAB, sp.get_piece_size()
    assert sp.bos_id() == st["bos_id"] and sp.eos_id() == st["eos_id"], (sp.bos_id(), sp.eos_id())
    assert sp.unk_id() == st["unk_id"] and sp.pad_id() == st["pad_id"], (sp.unk_id(), sp.pad_id())
    return path, sp


def make_prompt(sp, bos_id, seed, min_tokens):
    """Shortest word prefix of a generated text whose ids (with BOS) number at least min_tokens."""
    rng = random.Random(seed)
    words = make_text(rng, 80).split(" ")
    lo = 1
    # linear search is cheap here (a few hundred encodes at most)
    for k in range(lo, len(words) + 1):
        text = " ".join(words[:k])
        ids = [bos_id] + sp.encode(text)
        if len(ids) >= min_tokens:
            return text, ids
    raise RuntimeError("text too short for %d tokens" % min_tokens)


# ----------------------------------------------------------------------------------------------
# Fixture specifications
# ----------------------------------------------------------------------------------------------

RG_COMMON = dict(
    vocab_size=VOCAB,
    conv1d_width=4,
    logits_soft_cap=30.0,
    rms_norm_eps=1e-6,
    hidden_activation="gelu_pytorch_tanh",
    partial_rotary_factor=0.5,
    rope_theta=10000.0,
    block_types=["recurrent", "recurrent", "attention"],
    attention_bias=False,
    tie_word_embeddings=True,
    pad_token_id=0,
    eos_token_id=1,
    bos_token_id=2,
)

JAMBA_COMMON = dict(
    vocab_size=VOCAB,
    tie_word_embeddings=False,
    hidden_act="silu",
    rms_norm_eps=1e-6,
    use_mamba_kernels=False,
    mamba_d_conv=4,
    mamba_expand=2,
    mamba_dt_rank="auto",
    mamba_conv_bias=True,
    mamba_proj_bias=False,
    num_hidden_layers=4,
    max_position_embeddings=1024,
    pad_token_id=0,
    bos_token_id=1,
    eos_token_id=2,
)

MAMBA_COMMON = dict(
    vocab_size=VOCAB,
    expand=2,
    conv_kernel=4,
    use_bias=False,
    use_conv_bias=True,
    time_step_rank="auto",
    layer_norm_epsilon=1e-5,
    tie_word_embeddings=True,
    pad_token_id=0,
    bos_token_id=1,
    eos_token_id=2,
)


def _rg(**kw):
    d = dict(RG_COMMON)
    d.update(kw)
    return d


def _jamba(**kw):
    d = dict(JAMBA_COMMON)
    d.update(kw)
    return d


def _mamba(**kw):
    d = dict(MAMBA_COMMON)
    d.update(kw)
    return d


FIXTURES = [
    dict(
        name="rg_mqa_f32", arch="recurrent_gemma", dtype="F32", tok="gemma", seed=101,
        cfg=_rg(num_hidden_layers=6, hidden_size=64, intermediate_size=128, num_attention_heads=4,
                num_key_value_heads=1, lru_width=64, attention_window_size=16),
    ),
    dict(
        name="rg_kv2_lru_f32", arch="recurrent_gemma", dtype="F32", tok="gemma", seed=102,
        # hidden 32: sqrt(32) is not a bf16 value, so the bf16-rounded embedding normalizer matters;
        # lru_width 48 != hidden; rope_theta non-default
        cfg=_rg(num_hidden_layers=6, hidden_size=32, intermediate_size=64, num_attention_heads=4,
                num_key_value_heads=2, lru_width=48, attention_window_size=24, rope_theta=1000.0),
    ),
    dict(
        name="rg_bf16", arch="recurrent_gemma", dtype="BF16", tok="gemma", seed=103, bf16_compute_store=True,
        cfg=_rg(num_hidden_layers=6, hidden_size=64, intermediate_size=128, num_attention_heads=4,
                num_key_value_heads=1, lru_width=64, attention_window_size=16),
    ),
    dict(
        name="rg_sharded_f32", arch="recurrent_gemma", dtype="F32", tok="gemma", seed=104, shards=2,
        old_config_spelling=True,
        # same layout as rg_mqa_f32 (6 layers, 4 heads, 1 KV head, window 16) at hidden 32 to save space
        cfg=_rg(num_hidden_layers=6, hidden_size=32, intermediate_size=64, num_attention_heads=4,
                num_key_value_heads=1, lru_width=32, attention_window_size=16),
    ),
    dict(
        name="jamba_gqa1_f32", arch="jamba", dtype="F32", tok="llama", seed=201,
        cfg=_jamba(hidden_size=32, intermediate_size=24, num_attention_heads=4, num_key_value_heads=4,
                   attn_layer_period=4, attn_layer_offset=1, num_experts=4, num_experts_per_tok=2,
                   expert_layer_period=2, expert_layer_offset=1, mamba_d_state=16),
    ),
    dict(
        name="jamba_gqa2_f32", arch="jamba", dtype="F32", tok="llama", seed=202,
        cfg=_jamba(hidden_size=32, intermediate_size=40, num_attention_heads=4, num_key_value_heads=2,
                   attn_layer_period=2, attn_layer_offset=0, num_experts=2, num_experts_per_tok=1,
                   expert_layer_period=2, expert_layer_offset=0, mamba_d_state=8),
    ),
    dict(
        name="jamba_gqa4_f32", arch="jamba", dtype="F32", tok="llama", seed=203,
        cfg=_jamba(hidden_size=32, intermediate_size=24, num_attention_heads=4, num_key_value_heads=1,
                   attn_layer_period=4, attn_layer_offset=3, num_experts=4, num_experts_per_tok=1,
                   expert_layer_period=4, expert_layer_offset=1, mamba_d_state=8),  # was 3/1 when the committed fixture was made: the same layer kinds on 4 layers (only layer 1 is MoE); hybridlens rejects periods that do not divide the layer count
    ),
    dict(
        name="jamba_bf16", arch="jamba", dtype="BF16", tok="llama", seed=204,
        cfg=_jamba(hidden_size=32, intermediate_size=24, num_attention_heads=8, num_key_value_heads=2,
                   attn_layer_period=4, attn_layer_offset=2, num_experts=2, num_experts_per_tok=2,
                   expert_layer_period=2, expert_layer_offset=1, mamba_d_state=16),
    ),
    dict(
        name="mamba_f32", arch="mamba", dtype="F32", tok="llama", seed=301,
        cfg=_mamba(hidden_size=32, num_hidden_layers=4, state_size=16),
    ),
    dict(
        name="mamba_bf16", arch="mamba", dtype="BF16", tok="llama", seed=302,
        cfg=_mamba(hidden_size=32, num_hidden_layers=4, state_size=8),
    ),
]

HF_CLASSES = {
    "recurrent_gemma": ("RecurrentGemmaConfig", "RecurrentGemmaForCausalLM", "GemmaTokenizer"),
    "jamba": ("JambaConfig", "JambaForCausalLM", "LlamaTokenizer"),
    "mamba": ("MambaConfig", "MambaForCausalLM", "LlamaTokenizer"),
}


# ----------------------------------------------------------------------------------------------
# Small helpers
# ----------------------------------------------------------------------------------------------

LOG = []


def log(*a):
    s = " ".join(str(x) for x in a)
    print(s, flush=True)
    LOG.append(s)


def stable_seed(*parts):
    return zlib.crc32("/".join(str(p) for p in parts).encode()) & 0x7FFFFFFF


def set_determinism():
    torch.manual_seed(0)
    random.seed(0)
    np.random.seed(0)
    torch.set_num_threads(16)
    try:
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    except Exception:
        pass
    try:
        torch.set_float32_matmul_precision("highest")
    except Exception:
        pass
    torch.use_deterministic_algorithms(True, warn_only=True)


def window_mask_bool(T, S, window, q_offset=0):
    """visible[i, j]: query at position q_offset+i sees key j iff i-window < j <= i."""
    qi = torch.arange(T).reshape(-1, 1) + q_offset
    kj = torch.arange(S).reshape(1, -1)
    return (kj <= qi) & (kj > qi - window)


def entropy_nats(p):
    """p: [..., S] probabilities (exact zeros where masked) -> entropy in nats, float64."""
    p = p.double()
    return torch.special.entr(p).sum(-1)


class AttnRecorder:
    """Replaces torch's scaled_dot_product_attention with an eager fp32 version that records the
    post-softmax probabilities, and wraps `eager_attention_forward` of the given modeling modules so
    their attention weights are recorded too.  Probabilities are recorded in call (= layer) order."""

    def __init__(self, modeling_modules=(), window=None):
        self.modeling_modules = [m for m in modeling_modules if m is not None]
        self.window = window
        self.probs = []
        self.sources = []
        self._saved = []

    def _sdpa(self, query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None,
              enable_gqa=False, **kw):
        L, S, D = query.shape[-2], key.shape[-2], query.shape[-1]
        if enable_gqa and key.shape[-3] != query.shape[-3]:
            rep = query.shape[-3] // key.shape[-3]
            key = key.repeat_interleave(rep, dim=-3)
            value = value.repeat_interleave(rep, dim=-3)
        if scale is None:
            scale = 1.0 / math.sqrt(D)
        scores = torch.matmul(query.float(), key.float().transpose(-2, -1)) * scale
        if is_causal:
            causal = torch.ones(L, S, dtype=torch.bool).tril(diagonal=S - L)
            scores = scores.masked_fill(~causal, float("-inf"))
        if attn_mask is not None:
            if attn_mask.dtype == torch.bool:
                scores = scores.masked_fill(~attn_mask, float("-inf"))
            else:
                scores = scores + attn_mask.float()
        if self.window is not None and L == S:
            vis = window_mask_bool(L, S, self.window)
            scores = scores.masked_fill(~vis, float("-inf"))
        probs = torch.softmax(scores, dim=-1)
        self.probs.append(probs.detach().float().cpu())
        self.sources.append("sdpa")
        return torch.matmul(probs.to(value.dtype), value)

    def __enter__(self):
        import torch.nn.functional as F

        self._saved.append((F, "scaled_dot_product_attention", getattr(F, "scaled_dot_product_attention", None)))
        F.scaled_dot_product_attention = self._sdpa
        for mod in self.modeling_modules:
            orig = getattr(mod, "eager_attention_forward", None)
            if orig is None:
                continue

            def wrapped(*a, _orig_fn=orig, **k):
                out = _orig_fn(*a, **k)
                if isinstance(out, tuple) and len(out) >= 2 and out[1] is not None:
                    self.probs.append(out[1].detach().float().cpu())
                    self.sources.append("eager_attention_forward")
                return out

            self._saved.append((mod, "eager_attention_forward", orig))
            setattr(mod, "eager_attention_forward", wrapped)
        return self

    def __exit__(self, *exc):
        for obj, name, orig in reversed(self._saved):
            if orig is None:
                delattr(obj, name)
            else:
                setattr(obj, name, orig)
        self._saved = []
        return False


@contextlib.contextmanager
def rg_window_patch(model, window):
    """Makes RecurrentGemmaModel build a sliding-window mask (uncached full forward only)."""
    inner = model.model
    if not hasattr(type(inner), "_update_causal_mask"):
        log("  WARNING: RecurrentGemmaModel has no _update_causal_mask; window patch not applied")
        yield False
        return

    def windowed(attention_mask, input_tensor, cache_position):
        dtype, device = input_tensor.dtype, input_tensor.device
        B, T = input_tensor.shape[0], input_tensor.shape[1]
        q_pos = cache_position.reshape(-1, 1).to(device)
        k_pos = torch.arange(T, device=device).reshape(1, -1)
        vis = (k_pos <= q_pos) & (k_pos > q_pos - window)
        m = torch.full((T, T), torch.finfo(dtype).min, dtype=dtype, device=device)
        m = m.masked_fill(vis, 0.0)
        return m[None, None].expand(B, 1, T, T)

    inner._update_causal_mask = windowed
    try:
        yield True
    finally:
        del inner._update_causal_mask


@contextlib.contextmanager
def rg_context(model, mode, window):
    """mode "native": transformers as is; "patched": window imposed on the mask and in the attention."""
    if mode == "native":
        yield
        return
    with rg_window_patch(model, window):
        with AttnRecorder([sys.modules.get(type(model).__module__)], window=window):
            yield


def visible_counts(probs_layer):
    """probs_layer [1, H, T, S] -> per query the number of keys with nonzero probability (head 0)."""
    return (probs_layer[0, 0] > 0).sum(-1).tolist()


# ----------------------------------------------------------------------------------------------
# Weights
# ----------------------------------------------------------------------------------------------


# Scales of the random weights.  With tied embeddings a large embedding makes every position predict
# its own token (and greedy decoding repeat one token), so the tied models get small embeddings and
# strong block outputs: the residual stream is then dominated by what the layers compute.
INIT_SCALES = {
    "recurrent_gemma": dict(embed=0.7, out_gain=16.0, qk_gain=2.0),
    "jamba": dict(embed=1.0, out_gain=1.0, qk_gain=1.5, lm_head=3.0),
    "mamba": dict(embed=0.7, out_gain=8.0),
}
OUT_PROJ_NAMES = ("linear_out.weight", "o_proj.weight", "down_proj.weight", "out_proj.weight")


def randomize_parameters(model, arch, seed, scales=None):
    """Overwrites every parameter with seeded values of a useful scale (no zero biases, norm weights
    away from their neutral value, peaky attention, decisive lm_head)."""
    g = torch.Generator().manual_seed(seed)
    sc = dict(INIT_SCALES[arch])
    sc.update(scales or {})

    def randn(shape):
        return torch.randn(tuple(shape), generator=g, dtype=torch.float32)

    cfg = model.config
    hidden = cfg.hidden_size
    done = []
    with torch.no_grad():
        for name, p in model.named_parameters():
            shape = p.shape
            parts = name.split(".")
            leaf = parts[-1]
            owner = parts[-2] if len(parts) >= 2 else ""
            if name.endswith("embed_tokens.weight") or name.endswith("embeddings.weight"):
                new = randn(shape) * sc["embed"]
            elif name == "lm_head.weight":
                new = randn(shape) * (sc.get("lm_head", 3.0) / math.sqrt(hidden))
            elif leaf == "weight" and "norm" in owner and p.ndim == 1:
                if arch == "recurrent_gemma":
                    new = randn(shape) * 0.2  # stored as offset from 1
                else:
                    new = 1.0 + randn(shape) * 0.2
            elif leaf == "A_log":
                n_state = shape[-1]
                base = torch.log(torch.arange(1, n_state + 1, dtype=torch.float32)).expand(shape)
                new = base + randn(shape) * 0.1
            elif leaf == "D" and p.ndim == 1:
                new = 1.0 + randn(shape) * 0.2
            elif name.endswith("dt_proj.bias"):
                u = torch.rand(tuple(shape), generator=g)
                dt = torch.exp(u * (math.log(0.1) - math.log(0.001)) + math.log(0.001))
                new = dt + torch.log(-torch.expm1(-dt))  # inverse softplus
            elif name.endswith("dt_proj.weight"):
                new = randn(shape) * (1.0 / math.sqrt(shape[-1]))
            elif leaf == "recurrent_param":
                # as transformers' RecurrentGemma init: a^c in [0.9, 0.999]
                u = torch.rand(tuple(shape), generator=g) * ((0.999 ** 2) - (0.9 ** 2)) + 0.9 ** 2 + 1e-8
                new = torch.log(torch.exp(-0.5 * torch.log(u)) - 1.0)
            elif name.endswith("router.weight"):
                new = randn(shape) * (2.0 / math.sqrt(shape[-1]))
            elif name.endswith("q_proj.weight") or name.endswith("k_proj.weight"):
                new = randn(shape) * (sc.get("qk_gain", 1.0) / math.sqrt(shape[-1]))
            elif name.endswith(OUT_PROJ_NAMES) or re.search(r"experts\.down_proj$", name):
                new = randn(shape) * (sc["out_gain"] / math.sqrt(shape[-1]))
            elif leaf.endswith("bias"):
                new = randn(shape) * 0.1
            elif p.ndim >= 2:
                # Linear [out, in], conv [C, 1, K], RG-LRU gates [H, in, out], fused experts [E, out, in]
                new = randn(shape) * (1.0 / math.sqrt(shape[-1]))
            else:
                raise RuntimeError("no init rule for parameter %s %s" % (name, tuple(shape)))
            p.copy_(new.to(p.dtype))
            done.append(name)
    return done


def round_params_to_bf16(model):
    with torch.no_grad():
        for _, p in model.named_parameters():
            p.copy_(p.to(torch.bfloat16).to(p.dtype))


def export_state_dict(model, cfg_dict_in_memory):
    """In-memory state dict -> checkpoint tensors in the public-checkpoint naming (per-expert MoE
    weights; no lm_head.weight when the embeddings are tied)."""
    cfg = model.config
    tied = bool(getattr(cfg, "tie_word_embeddings", False))
    hidden = cfg.hidden_size
    inter = getattr(cfg, "intermediate_size", None)
    notes = []
    out = {}
    for k, v in model.state_dict().items():
        v = v.detach()
        if tied and k == "lm_head.weight":
            continue
        m = re.match(r"^(.*\.experts)\.gate_up_proj$", k)
        if m:
            E = v.shape[0]
            if tuple(v.shape) == (E, 2 * inter, hidden):
                gate, up = v[:, :inter, :], v[:, inter:, :]
            elif tuple(v.shape) == (E, hidden, 2 * inter):
                gate, up = v[:, :, :inter].transpose(1, 2), v[:, :, inter:].transpose(1, 2)
                notes.append("gate_up_proj stored [E, hidden, 2I] in memory")
            else:
                raise RuntimeError("unexpected gate_up_proj shape %s" % (tuple(v.shape),))
            for e in range(E):
                out["%s.%d.gate_proj.weight" % (m.group(1), e)] = gate[e].clone().contiguous()
                out["%s.%d.up_proj.weight" % (m.group(1), e)] = up[e].clone().contiguous()
            notes.append("fused %s [%s] split into per-expert gate_proj/up_proj" % (k, "x".join(map(str, v.shape))))
            continue
        m = re.match(r"^(.*\.experts)\.down_proj$", k)
        if m:
            E = v.shape[0]
            if tuple(v.shape) == (E, hidden, inter):
                down = v
            elif tuple(v.shape) == (E, inter, hidden):
                down = v.transpose(1, 2)
                notes.append("down_proj stored [E, I, hidden] in memory")
            else:
                raise RuntimeError("unexpected down_proj shape %s" % (tuple(v.shape),))
            for e in range(E):
                out["%s.%d.down_proj.weight" % (m.group(1), e)] = down[e].clone().contiguous()
            continue
        if re.search(r"\.experts\.(gate_up_proj|down_proj)_bias$", k):
            raise RuntimeError("fused expert biases are not expected: %s" % k)
        out[k] = v.clone().contiguous()
    return out, notes


def expected_checkpoint_keys(arch, cfg):
    """Tensor names per /work/shared/ARCHITECTURES.md."""
    keys = set()
    L = cfg["num_hidden_layers"]
    if arch == "recurrent_gemma":
        keys |= {"model.embed_tokens.weight", "model.final_norm.weight"}
        bt = cfg["block_types"]
        for i in range(L):
            p = "model.layers.%d." % i
            keys |= {p + "temporal_pre_norm.weight", p + "channel_pre_norm.weight"}
            for n in ("gate_proj", "up_proj", "down_proj"):
                keys |= {p + "mlp_block.%s.weight" % n, p + "mlp_block.%s.bias" % n}
            if bt[i % len(bt)] == "recurrent":
                for n in ("linear_x", "linear_y", "linear_out", "conv_1d"):
                    keys |= {p + "temporal_block.%s.weight" % n, p + "temporal_block.%s.bias" % n}
                for n in ("recurrent_param", "input_gate_weight", "input_gate_bias", "recurrent_gate_weight",
                          "recurrent_gate_bias"):
                    keys.add(p + "temporal_block.rg_lru." + n)
            else:
                for n in ("q_proj", "k_proj", "v_proj", "o_proj"):
                    keys.add(p + "temporal_block.%s.weight" % n)
                keys.add(p + "temporal_block.o_proj.bias")
    elif arch == "jamba":
        keys |= {"model.embed_tokens.weight", "lm_head.weight", "model.final_layernorm.weight"}
        for i in range(L):
            p = "model.layers.%d." % i
            keys |= {p + "input_layernorm.weight", p + "pre_ff_layernorm.weight"}
            if i % cfg["attn_layer_period"] == cfg["attn_layer_offset"]:
                for n in ("q_proj", "k_proj", "v_proj", "o_proj"):
                    keys.add(p + "self_attn.%s.weight" % n)
            else:
                for n in ("in_proj.weight", "conv1d.weight", "conv1d.bias", "x_proj.weight", "dt_proj.weight",
                          "dt_proj.bias", "A_log", "D", "out_proj.weight", "dt_layernorm.weight",
                          "b_layernorm.weight", "c_layernorm.weight"):
                    keys.add(p + "mamba." + n)
            if cfg["num_experts"] > 1 and i % cfg["expert_layer_period"] == cfg["expert_layer_offset"]:
                keys.add(p + "feed_forward.router.weight")
                for e in range(cfg["num_experts"]):
                    for n in ("gate_proj", "up_proj", "down_proj"):
                        keys.add(p + "feed_forward.experts.%d.%s.weight" % (e, n))
            else:
                for n in ("gate_proj", "up_proj", "down_proj"):
                    keys.add(p + "feed_forward.%s.weight" % n)
    elif arch == "mamba":
        keys |= {"backbone.embeddings.weight", "backbone.norm_f.weight"}
        for i in range(L):
            p = "backbone.layers.%d." % i
            keys.add(p + "norm.weight")
            for n in ("in_proj.weight", "conv1d.weight", "x_proj.weight", "dt_proj.weight", "dt_proj.bias",
                      "A_log", "D", "out_proj.weight"):
                keys.add(p + "mixer." + n)
            if cfg.get("use_conv_bias", True):
                keys.add(p + "mixer.conv1d.bias")
            if cfg.get("use_bias", False):
                keys |= {p + "mixer.in_proj.bias", p + "mixer.out_proj.bias"}
    return keys


def write_safetensors(tensors, outdir, dtype, shards=1):
    from safetensors.torch import save_file

    tdtype = {"F32": torch.float32, "BF16": torch.bfloat16}[dtype]
    tensors = {k: v.to(tdtype).contiguous() for k, v in tensors.items()}
    meta = {"format": "pt"}
    if shards == 1:
        save_file(tensors, os.path.join(outdir, "model.safetensors"), metadata=meta)
        return ["model.safetensors"]
    keys = sorted(tensors)
    nbytes = {k: tensors[k].numel() * tensors[k].element_size() for k in keys}
    total = sum(nbytes.values())
    groups = [[] for _ in range(shards)]
    acc = 0
    for k in keys:
        idx = min(shards - 1, int(acc * shards / total))
        groups[idx].append(k)
        acc += nbytes[k]
    files = []
    weight_map = {}
    for s, group in enumerate(groups):
        fname = "model-%05d-of-%05d.safetensors" % (s + 1, shards)
        save_file({k: tensors[k] for k in group}, os.path.join(outdir, fname), metadata=meta)
        files.append(fname)
        for k in group:
            weight_map[k] = fname
    index = {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}
    with open(os.path.join(outdir, "model.safetensors.index.json"), "w") as f:
        json.dump(index, f, indent=2)
        f.write("\n")
    return files + ["model.safetensors.index.json"]


def rewrite_config_old_spelling(cfg):
    """v5 spelling -> older spelling: `_block_types`, rope_theta/partial_rotary_factor at top level,
    `torch_dtype`."""
    cfg = dict(cfg)
    if "block_types" in cfg:
        cfg["_block_types"] = cfg.pop("block_types")
    rp = cfg.pop("rope_parameters", None) or {}
    if "rope_theta" in rp:
        cfg["rope_theta"] = rp["rope_theta"]
    if "partial_rotary_factor" in rp:
        cfg["partial_rotary_factor"] = rp["partial_rotary_factor"]
    cfg.setdefault("partial_rotary_factor", 0.5)
    if "dtype" in cfg:
        cfg["torch_dtype"] = cfg.pop("dtype")
    return dict(sorted(cfg.items()))


# ----------------------------------------------------------------------------------------------
# Reference computations
# ----------------------------------------------------------------------------------------------


def load_model(ModelCls, path, dtype, **kw):
    try:
        return ModelCls.from_pretrained(path, dtype=dtype, attn_implementation="eager", **kw)
    except TypeError:
        return ModelCls.from_pretrained(path, torch_dtype=dtype, attn_implementation="eager", **kw)


def n_attention_layers(arch, hf_cfg):
    if arch == "recurrent_gemma":
        return [i for i, t in enumerate(hf_cfg.layers_block_type) if t == "attention"]
    if arch == "jamba":
        return [i for i, t in enumerate(hf_cfg.layers_block_type) if t == "attention"]
    return []


def forward_logits(model, ids, **kw):
    x = torch.tensor([ids], dtype=torch.long)
    out = model(input_ids=x, **kw)
    lg = out.logits
    if lg.shape[1] != len(ids):
        raise RuntimeError("logits cover %d of %d positions" % (lg.shape[1], len(ids)))
    return lg[0].float(), out


def greedy_uncached(model, ids, n, **kw):
    cur = list(ids)
    new, margins = [], []
    for _ in range(n):
        x = torch.tensor([cur], dtype=torch.long)
        lg = model(input_ids=x, use_cache=False, **kw).logits[0, -1].double()
        top = torch.topk(lg, 2)
        nxt = int(top.indices[0])
        new.append(nxt)
        margins.append(float(top.values[0] - top.values[1]))
        cur.append(nxt)
    return new, margins


def hf_generate(model, ids, n, pad_id):
    gc = copy.deepcopy(model.generation_config)
    gc.eos_token_id = None
    gc.do_sample = False
    gc.num_beams = 1
    gc.max_new_tokens = n
    gc.pad_token_id = pad_id
    model.generation_config.eos_token_id = None
    x = torch.tensor([ids], dtype=torch.long)
    out = model.generate(input_ids=x, attention_mask=torch.ones_like(x), generation_config=gc)
    return out[0, len(ids):].tolist()


def check_logits(lg, where):
    problems = []
    if not torch.isfinite(lg).all():
        problems.append("%s: non-finite logits" % where)
    row_std = lg.double().std(dim=-1)
    if float(row_std.min()) < 1e-3:
        problems.append("%s: a logits row is (nearly) constant (min std %.3g)" % (where, float(row_std.min())))
    if lg.shape[0] > 1 and float((lg[1:] - lg[:-1]).abs().max()) < 1e-6:
        problems.append("%s: logits rows identical" % where)
    return problems


def entropies_from_probs(probs, n_layers, n_heads, T):
    if len(probs) != n_layers:
        raise RuntimeError("recorded %d attention calls, expected %d" % (len(probs), n_layers))
    ent = []
    for p in probs:
        if p.shape[0] != 1 or p.shape[1] != n_heads or p.shape[2] != T:
            raise RuntimeError("unexpected attention probability shape %s" % (tuple(p.shape),))
        s = p.sum(-1)
        if float((s - 1).abs().max()) > 1e-4:
            raise RuntimeError("attention rows do not sum to 1 (max dev %g)" % float((s - 1).abs().max()))
        ent.append(entropy_nats(p[0]))  # [H, T]
    return torch.stack(ent).float()


def check_entropy(ent, window):
    """ent [L, H, T]; bounds 0 <= H(t) <= log(min(t+1, window))."""
    T = ent.shape[-1]
    t = torch.arange(T, dtype=torch.float64)
    n_keys = t + 1 if window is None else torch.clamp(t + 1, max=window)
    bound = torch.log(n_keys).float()
    problems = []
    if not torch.isfinite(ent).all():
        problems.append("non-finite entropy")
    if float(ent.min()) < -1e-5:
        problems.append("negative entropy %g" % float(ent.min()))
    over = float((ent - bound).max())
    if over > 1e-4:
        problems.append("entropy above log(#visible keys) by %g" % over)
    return problems


def hf_tokenizer_check(tok, text, ids):
    """Compare sentencepiece+BOS ids with transformers' tokenizer class loaded from the bare tokenizer.model,
    as is and with add_bos_token=True."""
    out = {}
    for key, hf in (("default", tok.get("hf")), ("add_bos_token", tok.get("hf_bos"))):
        if hf is None:
            continue
        try:
            hids = list(hf(text)["input_ids"])
        except Exception as e:  # noqa: BLE001
            out[key] = {"error": repr(e)[:200]}
            continue
        r = {"equals_ids": hids == ids, "prepends_bos": hids[:1] == [tok["bos"]],
             "equals_ids_without_bos": hids == ids[1:]}
        if not (r["equals_ids"] or r["equals_ids_without_bos"]):
            r["ids"] = hids
        out[key] = r
    return out


# ----------------------------------------------------------------------------------------------
# One fixture
# ----------------------------------------------------------------------------------------------


def build_fixture(spec, tok, out_root, versions, diag):
    import transformers

    name, arch, dtype = spec["name"], spec["arch"], spec["dtype"]
    cfg_name, cls_name, tok_cls_name = HF_CLASSES[arch]
    CfgCls = getattr(transformers, cfg_name)
    ModelCls = getattr(transformers, cls_name)
    outdir = os.path.join(out_root, name)
    if os.path.exists(outdir):
        shutil.rmtree(outdir)
    os.makedirs(outdir)
    notes = []
    problems = []
    t0 = time.time()
    log("=" * 100)
    log("fixture %s  arch=%s  dtype=%s" % (name, arch, dtype))

    # ---- model in memory ----------------------------------------------------------------------
    torch.manual_seed(spec["seed"])
    hf_cfg = CfgCls(**spec["cfg"])
    model = ModelCls(hf_cfg).float().eval()
    names = randomize_parameters(model, arch, spec["seed"])
    if dtype == "BF16":
        round_params_to_bf16(model)
    n_params = sum(p.numel() for p in model.parameters())
    log("  parameters: %d (%d tensors randomized)" % (n_params, len(names)))

    tied_ok = None
    if getattr(hf_cfg, "tie_word_embeddings", False):
        tied_ok = model.get_output_embeddings().weight.data_ptr() == model.get_input_embeddings().weight.data_ptr()
        log("  lm_head tied to embeddings in memory:", tied_ok)
        if not tied_ok:
            with torch.no_grad():
                model.get_output_embeddings().weight.copy_(model.get_input_embeddings().weight)
            notes.append("lm_head was not tied in memory after construction; copied the embeddings into it")

    if arch == "recurrent_gemma":
        mlp = model.model.layers[0].mlp_block
        mlp_width = int(mlp.gate_proj.weight.shape[0])
        log("  RG MLP width: %d (intermediate_size %d)" % (mlp_width, hf_cfg.intermediate_size))
        nz = model.model.normalizer
        log("  RG normalizer in memory: dtype=%s value=%r (sqrt(hidden)=%r)" % (nz.dtype, float(nz), math.sqrt(hf_cfg.hidden_size)))

    # ---- config.json ----------------------------------------------------------------------------
    with tempfile.TemporaryDirectory() as td:
        hf_cfg.save_pretrained(td)
        with open(os.path.join(td, "config.json")) as f:
            raw_cfg = json.load(f)
    if diag is not None and spec.get("log_raw_config", True):
        log("  config.json as written by %s.save_pretrained:" % cfg_name)
        log("  " + json.dumps(raw_cfg, sort_keys=True))
    cfg_out = dict(raw_cfg)
    cfg_out["architectures"] = [cls_name]
    cfg_out.pop("torch_dtype", None)
    cfg_out["dtype"] = {"F32": "float32", "BF16": "bfloat16"}[dtype]
    if arch == "recurrent_gemma" and "rope_parameters" not in cfg_out:
        cfg_out["rope_parameters"] = {
            "rope_type": "default",
            "rope_theta": cfg_out.pop("rope_theta", spec["cfg"]["rope_theta"]),
            "partial_rotary_factor": cfg_out.get("partial_rotary_factor", 0.5),
        }
        notes.append("transformers did not write rope_parameters; added it")
    spelling = "v5"
    if spec.get("old_config_spelling"):
        cfg_out = rewrite_config_old_spelling(cfg_out)
        spelling = "old (_block_types, top-level rope_theta/partial_rotary_factor, torch_dtype)"
    with open(os.path.join(outdir, "config.json"), "w") as f:
        json.dump(cfg_out, f, indent=2, sort_keys=True)
        f.write("\n")
    try:
        CfgCls.from_pretrained(outdir)
    except Exception as e:  # noqa: BLE001
        if not spec.get("old_config_spelling"):
            raise
        log("  WARNING: transformers cannot load the old-spelling config (%r); keeping block_types" % e)
        notes.append("transformers %s could not load `_block_types` (%r); this config keeps `block_types` and "
                     "only the rope keys use the old spelling" % (versions["transformers"], e))
        cfg_out["block_types"] = cfg_out.pop("_block_types")
        spelling = "old rope keys (top-level rope_theta/partial_rotary_factor, torch_dtype); block_types"
        with open(os.path.join(outdir, "config.json"), "w") as f:
            json.dump(cfg_out, f, indent=2, sort_keys=True)
            f.write("\n")
    log("  config.json written (%s spelling): %s" % (spelling, json.dumps(cfg_out, sort_keys=True)))

    # ---- weights --------------------------------------------------------------------------------
    tensors, exp_notes = export_state_dict(model, raw_cfg)
    notes += exp_notes
    exp = expected_checkpoint_keys(arch, spec["cfg"])
    missing = sorted(exp - set(tensors))
    extra = sorted(set(tensors) - exp)
    if missing or extra:
        msg = "checkpoint keys differ from ARCHITECTURES.md: missing %s extra %s" % (missing, extra)
        log("  WARNING:", msg)
        notes.append(msg)
    files = write_safetensors(tensors, outdir, dtype, shards=spec.get("shards", 1))
    shutil.copyfile(tok["path"], os.path.join(outdir, "tokenizer.model"))
    log("  wrote %s" % files)

    # ---- reload through transformers --------------------------------------------------------------
    loaded, info = load_model(ModelCls, outdir, torch.float32, output_loading_info=True)
    loaded = loaded.eval()
    info = {k: sorted([str(x) for x in v]) if isinstance(v, (set, list, tuple)) else str(v) for k, v in info.items()}
    log("  loading info:", json.dumps(info, default=str))
    for k in ("missing_keys", "unexpected_keys", "mismatched_keys"):
        bad = [x for x in info.get(k, []) if not (k == "missing_keys" and x == "lm_head.weight")]
        if bad:
            problems.append("from_pretrained %s: %s" % (k, bad))
    sd_mem, sd_ld = model.state_dict(), loaded.state_dict()
    diffs = []
    for k, v in sd_mem.items():
        if k not in sd_ld:
            diffs.append("%s absent after load" % k)
            continue
        w = sd_ld[k]
        if tuple(w.shape) != tuple(v.shape) or not torch.equal(w.float(), v.float()):
            diffs.append("%s differs after load" % k)
    if diffs:
        problems.append("reloaded weights differ: %s" % diffs[:10])
    log("  reloaded state dict identical to in-memory model:", not diffs)
    lcfg = loaded.config
    if arch == "recurrent_gemma":
        nz = loaded.model.normalizer
        normalizer = {"dtype": str(nz.dtype).replace("torch.", ""), "value": float(nz),
                      "sqrt_hidden": math.sqrt(lcfg.hidden_size),
                      "bf16_of_sqrt_hidden": float(torch.tensor(math.sqrt(lcfg.hidden_size)).to(torch.bfloat16))}
        log("  RG normalizer after from_pretrained(dtype=float32):", normalizer)
        rp = getattr(lcfg, "rope_parameters", None)
        cfg_check = {
            "layers_block_type": list(lcfg.layers_block_type),
            "rope_parameters": dict(rp) if isinstance(rp, dict) else str(rp),
            "partial_rotary_factor": getattr(lcfg, "partial_rotary_factor", None),
            "head_dim": lcfg.head_dim,
            "attention_window_size": lcfg.attention_window_size,
            "num_key_value_heads": lcfg.num_key_value_heads,
            "lru_width": lcfg.lru_width,
        }
        log("  loaded config:", json.dumps(cfg_check, default=str))
        want_bt = (spec["cfg"]["block_types"] * 100)[: spec["cfg"]["num_hidden_layers"]]
        if cfg_check["layers_block_type"] != want_bt:
            problems.append("loaded layers_block_type %s != %s" % (cfg_check["layers_block_type"], want_bt))
        theta = rp.get("rope_theta") if isinstance(rp, dict) else getattr(lcfg, "rope_theta", None)
        if theta is None or abs(float(theta) - spec["cfg"]["rope_theta"]) > 1e-6:
            problems.append("loaded rope_theta %r != %r" % (theta, spec["cfg"]["rope_theta"]))
        prf = rp.get("partial_rotary_factor") if isinstance(rp, dict) else None
        if prf is not None and abs(float(prf) - 0.5) > 1e-9:
            problems.append("loaded rope partial_rotary_factor %r" % prf)
        # the attention module uses config.partial_rotary_factor directly
        for layer in loaded.model.layers:
            tb = layer.temporal_block
            if hasattr(tb, "partial_rotary_factor") and abs(float(tb.partial_rotary_factor) - 0.5) > 1e-9:
                problems.append("attention module partial_rotary_factor %r" % tb.partial_rotary_factor)
            if hasattr(tb, "rotary_emb"):
                inv = tb.rotary_emb.inv_freq
                hd = lcfg.head_dim
                rot = int(hd * 0.5)
                want = 1.0 / (spec["cfg"]["rope_theta"] ** (torch.arange(0, rot, 2, dtype=torch.float32) / rot))
                if inv.shape != want.shape or float((inv.float() - want).abs().max()) > 1e-6:
                    problems.append("rotary inv_freq unexpected: %s" % inv.tolist())
                break
    else:
        normalizer = None
        cfg_check = None

    attn_layers = n_attention_layers(arch, lcfg)
    n_heads = getattr(lcfg, "num_attention_heads", None)
    window = lcfg.attention_window_size if arch == "recurrent_gemma" else None
    modeling_mod = sys.modules.get(ModelCls.__module__)

    # ---- prompts --------------------------------------------------------------------------------
    sp, bos = tok["sp"], tok["bos"]
    slots = [("long", i, MIN_PROMPT_TOKENS) for i in range(2)]
    if arch == "recurrent_gemma":
        slots.append(("short_within_window", 2, window - 4))

    def run_case(ci, kind, text, ids):
        T = len(ids)
        case = {"kind": kind, "text": text, "ids": ids, "T": T}
        log("  case %d (%s): T=%d" % (ci, kind, T))
        case["hf_tokenizer"] = hf_tokenizer_check(tok, text, ids)

        # -- logits + attention probabilities ------------------------------------------------
        if arch == "recurrent_gemma":
            want = [min(t + 1, window) for t in range(T)]
            with AttnRecorder([modeling_mod]) as rec:
                lg_ref, _ = forward_logits(loaded, ids, use_cache=False)
            vis = [visible_counts(p) for p in rec.probs]
            native_windowed = len(vis) == len(attn_layers) and all(v == want for v in vis)
            case["transformers_native_windowed"] = native_windowed
            if native_windowed:
                rg_mode = "native"
            else:
                rg_mode = "patched"
                log("    WARNING: transformers does not window this prompt (visible keys at the last query: "
                    "%s); imposing the window" % ([v[-1] for v in vis],))
                notes.append("case %d: transformers' own mask is not windowed (visible keys at the last "
                             "query %s); the reference imposes the window" % (ci, [v[-1] for v in vis]))
                lg_nat = lg_ref
                with rg_window_patch(loaded, window):
                    with AttnRecorder([modeling_mod], window=window) as rec:
                        lg_ref, _ = forward_logits(loaded, ids, use_cache=False)
                vis = [visible_counts(p) for p in rec.probs]
                if len(vis) != len(attn_layers) or not all(v == want for v in vis):
                    problems.append("case %d: could not impose the attention window" % ci)
                case["transformers_unwindowed_max_abs_diff"] = float((lg_nat - lg_ref).abs().max())
            case["reference_mode"] = rg_mode
            # a cached prefill (use_cache from the config) must give the same logits
            lg_cached, _ = forward_logits(loaded, ids, use_cache=True)
            case["cached_prefill_max_abs_diff"] = float((lg_cached - lg_ref).abs().max())
            log("    window from transformers' own mask: %s; cached-prefill vs reference max|diff| %.3g" %
                (native_windowed, case["cached_prefill_max_abs_diff"]))
            probs = rec.probs
        elif arch == "jamba":
            with AttnRecorder([modeling_mod]) as rec:
                lg_ref, out = forward_logits(loaded, ids, use_cache=False, output_attentions=True)
            att = getattr(out, "attentions", None)
            att = [a for a in (att or []) if a is not None]
            if len(att) == len(attn_layers):
                probs = [a.detach().float() for a in att]
                if len(rec.probs) == len(att):
                    dd = max(float((a - b).abs().max()) for a, b in zip(probs, rec.probs))
                    log("    output_attentions vs recorded eager weights max|diff| = %.3g" % dd)
            else:
                log("    NOTE: output_attentions gave %d tensors; using recorded eager weights (%d)" %
                    (len(att), len(rec.probs)))
                probs = rec.probs
        else:
            lg_ref, _ = forward_logits(loaded, ids, use_cache=False)
            probs = None

        problems.extend(check_logits(lg_ref, "case %d" % ci))
        lg_np = lg_ref.cpu().numpy().astype(np.float32)
        np.save(os.path.join(outdir, "logits_%d.npy" % ci), lg_np)
        case["logits"] = "logits_%d.npy" % ci
        log("    logits: shape %s  max|.| %.4g  mean row std %.4g" %
            (lg_np.shape, float(np.abs(lg_np).max()), float(lg_np.std(axis=-1).mean())))

        if probs is not None:
            ent = entropies_from_probs(probs, len(attn_layers), n_heads, T)
            problems.extend("case %d: %s" % (ci, p) for p in check_entropy(ent, window))
            ent_np = ent.cpu().numpy().astype(np.float32)
            np.save(os.path.join(outdir, "entropy_%d.npy" % ci), ent_np)
            case["entropy"] = "entropy_%d.npy" % ci
            case["entropy_min"] = float(ent_np.min())
            case["entropy_max"] = float(ent_np.max())
            log("    entropy: shape %s  min %.4f  max %.4f  mean %.4f" %
                (ent_np.shape, ent_np.min(), ent_np.max(), ent_np.mean()))
        else:
            case["entropy"] = None

        # -- greedy ------------------------------------------------------------------------------
        try:
            gen_hf = hf_generate(loaded, ids, GREEDY_NEW, pad_id=tok["pad_for_generate"])
        except Exception as e:  # noqa: BLE001
            log("    ERROR: generate failed: %r" % e)
            traceback.print_exc()
            problems.append("case %d: transformers generate failed: %r" % (ci, e))
            gen_hf = []
        if arch == "recurrent_gemma":
            with rg_context(loaded, rg_mode, window):
                unc, margins = greedy_uncached(loaded, ids, GREEDY_UNCACHED)
        else:
            unc, margins = greedy_uncached(loaded, ids, GREEDY_UNCACHED)
        agree = gen_hf == unc[: len(gen_hf)] and len(gen_hf) == GREEDY_NEW
        case["hf_generate_new_ids"] = gen_hf
        case["greedy_uncached_new_ids"] = unc
        case["greedy_uncached_min_margin"] = min(margins)
        case["greedy_uncached_margins"] = [round(m, 6) for m in margins]
        case["cached_uncached_agree"] = agree
        if agree:
            case["greedy_new_ids"] = gen_hf
            case["greedy_source"] = "transformers generate (agrees with uncached recomputation)"
        elif arch == "recurrent_gemma" or not gen_hf:
            case["greedy_new_ids"] = unc[:GREEDY_NEW]
            case["greedy_source"] = ("uncached %srecomputation (transformers generate %s)" %
                                     ("windowed " if arch == "recurrent_gemma" else "",
                                      "differs" if gen_hf else "failed"))
        else:
            case["greedy_new_ids"] = gen_hf
            case["greedy_source"] = "transformers generate (DIFFERS from uncached recomputation)"
        log("    generate      :", gen_hf)
        log("    uncached (20) :", unc, " min top1-top2 margin %.4g" % min(margins))
        log("    cached/uncached agree:", agree)
        if len(gen_hf) != GREEDY_NEW:
            notes.append("case %d: generate returned %d tokens" % (ci, len(gen_hf)))
        return case

    cases = []
    with torch.no_grad():
        for ci, (kind, slot, min_tokens) in enumerate(slots):
            for attempt in range(PROMPT_ATTEMPTS):
                seed = stable_seed(name, "prompt", slot) if attempt == 0 else stable_seed(name, "prompt", slot, attempt)
                text, ids = make_prompt(sp, bos, seed, min_tokens)
                case = run_case(ci, kind, text, ids)
                if case["greedy_uncached_min_margin"] >= MIN_GREEDY_MARGIN:
                    break
                log("    greedy top-2 margin %.3g < %g: trying another prompt" %
                    (case["greedy_uncached_min_margin"], MIN_GREEDY_MARGIN))
            case["prompt_attempt"] = attempt
            if case["greedy_uncached_min_margin"] < MIN_GREEDY_MARGIN:
                problems.append("case %d: greedy top-2 margin %.3g after %d prompts" %
                                (ci, case["greedy_uncached_min_margin"], PROMPT_ATTEMPTS))
            cases.append(case)
    max_abs = max(float(np.abs(np.load(os.path.join(outdir, c["logits"]))).max()) for c in cases)

    # ---- bf16 compute -----------------------------------------------------------------------------
    if dtype == "BF16":
        m16 = load_model(ModelCls, outdir, torch.bfloat16).eval()
        with torch.no_grad():
            for ci, case in enumerate(cases):
                ids = case["ids"]
                if arch == "recurrent_gemma":
                    with rg_context(m16, case["reference_mode"], window):
                        lg16, _ = forward_logits(m16, ids, use_cache=False)
                else:
                    lg16, _ = forward_logits(m16, ids, use_cache=False)
                ref = torch.from_numpy(np.load(os.path.join(outdir, case["logits"])))
                d = (lg16 - ref).abs()
                case["bf16compute_max_abs_diff"] = float(d.max())
                case["bf16compute_mean_abs_diff"] = float(d.mean())
                case["bf16compute_argmax_agreement"] = float((lg16.argmax(-1) == ref.argmax(-1)).double().mean())
                if spec.get("bf16_compute_store"):
                    fn = "logits_bf16compute_%d.npy" % ci
                    np.save(os.path.join(outdir, fn), lg16.cpu().numpy().astype(np.float32))
                    case["logits_bf16compute"] = fn
                log("  case %d bf16 compute vs fp32 reference: max|diff| %.4g mean %.4g argmax agreement %.3f" %
                    (ci, case["bf16compute_max_abs_diff"], case["bf16compute_mean_abs_diff"],
                     case["bf16compute_argmax_agreement"]))

    # ---- in-memory vs loaded ---------------------------------------------------------------------
    with torch.no_grad():
        ids0 = cases[0]["ids"]
        if arch == "recurrent_gemma":
            with rg_context(model, cases[0]["reference_mode"], window):
                lg_mem, _ = forward_logits(model, ids0, use_cache=False)
        else:
            lg_mem, _ = forward_logits(model, ids0, use_cache=False)
        ref0 = torch.from_numpy(np.load(os.path.join(outdir, cases[0]["logits"])))
        mem_diff = float((lg_mem - ref0).abs().max())
    log("  in-memory model vs from_pretrained model logits max|diff|: %.3g" % mem_diff)
    if mem_diff > 0:
        notes.append("in-memory model and the model loaded from these files differ in logits by %.3g "
                     "(the stored reference is the loaded model)" % mem_diff)

    # ---- cases.json -------------------------------------------------------------------------------
    hf_summary = {k: spec["cfg"][k] for k in sorted(spec["cfg"])}
    doc = {
        "fixture": name,
        "arch": arch,
        "hf_class": cls_name,
        "storage_dtype": dtype,
        "weights_files": files,
        "config_spelling": spelling,
        "bos_id": tok["bos"],
        "eos_id": tok["eos"],
        "pad_id": tok["pad"],
        "unk_id": tok["unk"],
        "tokenizer_style": tok["style"],
        "tokenizer_add_dummy_prefix": TOKENIZER_STYLES[tok["style"]]["add_dummy_prefix"],
        "prepend_bos": True,
        "config": hf_summary,
        "param_count": n_params,
        "attention_layers": attn_layers,
        "num_attention_heads": n_heads,
        "num_key_value_heads": getattr(lcfg, "num_key_value_heads", None),
        "attention_window": window,
        "reference": ("transformers %s, torch %s, float32 on CPU, %s; model loaded with from_pretrained from "
                      "this directory" % (versions["transformers"], versions["torch"],
                                          "attn_implementation=eager")),
        "entropy_units": "nats, post-softmax attention probabilities (after causal%s mask); [layer, head, query]"
                         % (" + sliding-window" if window else ""),
        "cases": cases,
        "max_abs_logit": max_abs,
        "tokenizer_cases": tok["probes"],
        "notes": notes,
        "problems": problems,
        "transformers_version": versions["transformers"],
        "torch_version": versions["torch"],
    }
    if arch == "recurrent_gemma":
        doc["mlp_width"] = mlp_width
        doc["hf_normalizer"] = normalizer
        doc["loaded_config_check"] = cfg_check
        doc["reference"] += ("; use_cache=False; sliding window: query t sees keys t-window+1..t "
                             "(cases[].reference_mode says whether transformers' own mask did that)")
    with open(os.path.join(outdir, "cases.json"), "w") as f:
        json.dump(doc, f, indent=1, default=str)
        f.write("\n")
    size = sum(os.path.getsize(os.path.join(outdir, x)) for x in os.listdir(outdir))
    log("  fixture size %.1f KB, %.1f s, problems: %s" % (size / 1024, time.time() - t0, problems or "none"))
    return {
        "name": name, "arch": arch, "hf_class": cls_name, "storage_dtype": dtype,
        "T": [c["T"] for c in cases], "case_kinds": [c["kind"] for c in cases],
        "bytes": size, "problems": problems, "files": sorted(os.listdir(outdir)),
        "cached_uncached_agree": [c["cached_uncached_agree"] for c in cases],
    }


# ----------------------------------------------------------------------------------------------
# Tokenizer setup (sentencepiece + transformers classes)
# ----------------------------------------------------------------------------------------------


def setup_tokenizer(style, workdir, hf_cls_name):
    path, sp = train_tokenizer(style, workdir)
    st = TOKENIZER_STYLES[style]
    tok = {"style": style, "path": path, "sp": sp, "bos": st["bos_id"], "eos": st["eos_id"],
           "pad": st["pad_id"], "unk": st["unk_id"],
           "pad_for_generate": st["pad_id"] if st["pad_id"] >= 0 else st["unk_id"]}
    hf = None
    hf_err = None
    if hf_cls_name:
        import transformers

        cls = getattr(transformers, hf_cls_name, None)
        d = os.path.join(workdir, "hf_tok_%s" % style)
        os.makedirs(d, exist_ok=True)
        shutil.copyfile(path, os.path.join(d, "tokenizer.model"))
        for attempt in ("from_pretrained", "vocab_file"):
            try:
                if attempt == "from_pretrained":
                    hf = cls.from_pretrained(d)
                else:
                    hf = cls(vocab_file=path)
                break
            except Exception as e:  # noqa: BLE001
                hf_err = "%s: %r" % (attempt, e)
                hf = None
        log("tokenizer %s: transformers %s -> %s %s" % (style, hf_cls_name, type(hf).__name__ if hf else None,
                                                          "" if hf else hf_err))
        try:
            tok["hf_bos"] = cls.from_pretrained(d, add_bos_token=True)
        except Exception as e:  # noqa: BLE001
            log("tokenizer %s: %s.from_pretrained(add_bos_token=True) failed: %r" % (style, hf_cls_name, e))
    probes = []
    for s in TOKENIZER_PROBES:
        e = {"text": s, "ids": sp.encode(s), "pieces": sp.encode(s, out_type=str), "note": "no BOS"}
        if hf is not None:
            try:
                hids = list(hf(s, add_special_tokens=False)["input_ids"])
                e["hf_ids_no_special"] = hids
                e["hf_agrees"] = hids == e["ids"]
            except Exception as ex:  # noqa: BLE001
                e["hf_error"] = repr(ex)[:200]
        probes.append(e)
    tok["probes"] = probes
    tok["hf"] = hf
    tok["hf_error"] = hf_err
    log("tokenizer %s: %d pieces; probe agreement with transformers: %s" %
        (style, sp.get_piece_size(), [p.get("hf_agrees") for p in probes]))
    return tok


def probe_config_spellings():
    """How transformers reads RecurrentGemma config spellings (written into the manifest)."""
    import transformers

    out = {}
    base = {"model_type": "recurrent_gemma", "hidden_size": 32, "num_attention_heads": 4, "num_hidden_layers": 6,
            "vocab_size": 512, "intermediate_size": 64}
    variants = {
        "block_types_nondefault": dict(base, block_types=["attention", "recurrent", "recurrent"]),
        "_block_types_nondefault": dict(base, _block_types=["attention", "recurrent", "recurrent"]),
        "top_level_rope": dict(base, rope_theta=500.0, partial_rotary_factor=0.5),
        "rope_parameters": dict(base, rope_parameters={"rope_type": "default", "rope_theta": 500.0,
                                                       "partial_rotary_factor": 0.5}),
    }
    for key, cfg in variants.items():
        with tempfile.TemporaryDirectory() as td:
            with open(os.path.join(td, "config.json"), "w") as f:
                json.dump(cfg, f)
            try:
                c = transformers.RecurrentGemmaConfig.from_pretrained(td)
                out[key] = {"layers_block_type": list(c.layers_block_type),
                            "rope_parameters": getattr(c, "rope_parameters", None),
                            "partial_rotary_factor": getattr(c, "partial_rotary_factor", None)}
            except Exception as e:  # noqa: BLE001
                out[key] = {"error": repr(e)[:300]}
    log("config spelling probe:", json.dumps(out, default=str))
    return out


def dump_sources(path):
    import inspect

    import transformers

    targets = [
        ("transformers.models.recurrent_gemma.modeling_recurrent_gemma", "RecurrentGemmaModel"),
        ("transformers.models.recurrent_gemma.modeling_recurrent_gemma", "RecurrentGemmaAttention"),
        ("transformers.models.recurrent_gemma.modeling_recurrent_gemma", "RecurrentGemmaDecoderLayer"),
        ("transformers.models.recurrent_gemma.modeling_recurrent_gemma", "RecurrentGemmaRMSNorm"),
        ("transformers.models.recurrent_gemma.modeling_recurrent_gemma", "_get_mask_sizes"),
        ("transformers.models.recurrent_gemma.modeling_recurrent_gemma", "RecurrentGemmaRecurrentBlock"),
        ("transformers.models.recurrent_gemma.modeling_recurrent_gemma", "RecurrentGemmaRglru"),
        ("transformers.models.recurrent_gemma.configuration_recurrent_gemma", "RecurrentGemmaConfig"),
        ("transformers.models.jamba.modeling_jamba", "JambaSparseMoeBlock"),
        ("transformers.models.jamba.modeling_jamba", "JambaExperts"),
        ("transformers.models.jamba.modeling_jamba", "JambaMambaMixer"),
        ("transformers.models.jamba.modeling_jamba", "JambaAttention"),
        ("transformers.models.mamba.modeling_mamba", "MambaMixer"),
        ("transformers.models.mamba.modeling_mamba", "MambaBlock"),
    ]
    with open(path, "w") as f:
        f.write("transformers %s from %s\n" % (transformers.__version__, os.path.dirname(transformers.__file__)))
        for modname, objname in targets:
            f.write("\n\n######## %s.%s\n" % (modname, objname))
            try:
                mod = __import__(modname, fromlist=[objname])
                f.write(inspect.getsource(getattr(mod, objname)))
            except Exception as e:  # noqa: BLE001
                f.write("unavailable: %r\n" % e)


# ----------------------------------------------------------------------------------------------
# Self-test of the parts that need no transformers
# ----------------------------------------------------------------------------------------------


def selftest():
    with tempfile.TemporaryDirectory() as td:
        for style in ("gemma", "llama"):
            path, sp = train_tokenizer(style, td)
            st = TOKENIZER_STYLES[style]
            for i in range(2):
                text, ids = make_prompt(sp, st["bos_id"], stable_seed("selftest", style, i), MIN_PROMPT_TOKENS)
                assert len(ids) >= MIN_PROMPT_TOKENS and ids[0] == st["bos_id"]
                assert sp.decode(ids[1:]) == text, (sp.decode(ids[1:]), text)
                print(style, i, len(ids), repr(text[:80]), ids[:12])
            for s in TOKENIZER_PROBES:
                print("  probe", repr(s), sp.encode(s, out_type=str))
            with open(path, "rb") as f:
                print("  %s tokenizer.model %d bytes crc %08x" % (style, len(f.read()), zlib.crc32(open(path, "rb").read())))
    # window mask
    m = window_mask_bool(6, 6, 3)
    assert m.sum(-1).tolist() == [1, 2, 3, 3, 3, 3], m
    # recorder vs a plain computation
    g = torch.Generator().manual_seed(0)
    q = torch.randn(1, 4, 10, 8, generator=g)
    k = torch.randn(1, 4, 10, 8, generator=g)
    v = torch.randn(1, 4, 10, 8, generator=g)
    mask = torch.full((10, 10), torch.finfo(torch.float32).min).masked_fill(window_mask_bool(10, 10, 4), 0.0)
    rec = AttnRecorder()
    out = rec._sdpa(q, k, v, attn_mask=mask[None, None], scale=0.3)
    ref_p = torch.softmax(q @ k.transpose(-1, -2) * 0.3 + mask, -1)
    assert torch.allclose(out, ref_p @ v, atol=1e-6)
    assert visible_counts(rec.probs[0]) == [1, 2, 3, 4, 4, 4, 4, 4, 4, 4]
    ent = entropies_from_probs(rec.probs, 1, 4, 10)
    assert not check_entropy(ent, 4), check_entropy(ent, 4)
    uni = torch.full((1, 1, 1, 5), 0.2)
    assert abs(float(entropy_nats(uni).squeeze()) - math.log(5)) < 1e-6
    # bool mask + window inside the recorder
    rec2 = AttnRecorder(window=4)
    out2 = rec2._sdpa(q, k, v, is_causal=True, scale=0.3)
    assert torch.allclose(out2, out, atol=1e-6)
    # config rewrite
    c = {"block_types": ["recurrent", "recurrent", "attention"], "dtype": "float32",
         "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0, "partial_rotary_factor": 0.5}}
    o = rewrite_config_old_spelling(c)
    assert o == {"_block_types": ["recurrent", "recurrent", "attention"], "partial_rotary_factor": 0.5,
                 "rope_theta": 10000.0, "torch_dtype": "float32"}, o
    # expected keys
    for spec in FIXTURES:
        ks = expected_checkpoint_keys(spec["arch"], spec["cfg"])
        print("  %-16s %d expected tensors" % (spec["name"], len(ks)))
    print("selftest ok")


# ----------------------------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", help="output directory (fixtures tree)")
    ap.add_argument("--diag", help="optional directory for diagnostics (transformers source excerpts)")
    ap.add_argument("--only", help="comma-separated fixture names")
    ap.add_argument("--selftest", action="store_true")
    args = ap.parse_args()
    if args.selftest:
        selftest()
        return 0
    if not args.out:
        ap.error("--out is required")

    set_determinism()
    import safetensors
    import sentencepiece
    import transformers

    transformers.logging.set_verbosity_error()
    versions = {
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "sentencepiece": sentencepiece.__version__,
        "numpy": np.__version__,
        "safetensors": safetensors.__version__,
        "python": platform.python_version(),
    }
    log("versions:", json.dumps(versions))
    log("torch threads:", torch.get_num_threads())
    if args.diag:
        os.makedirs(args.diag, exist_ok=True)
        dump_sources(os.path.join(args.diag, "hf_source.txt"))

    os.makedirs(args.out, exist_ok=True)
    only = set(args.only.split(",")) if args.only else None
    specs = [s for s in FIXTURES if only is None or s["name"] in only]
    work = tempfile.mkdtemp(prefix="hl_fixtures_")
    toks = {}
    for style, hf_cls in (("gemma", "GemmaTokenizer"), ("llama", "LlamaTokenizer")):
        if any(s["tok"] == style for s in specs):
            toks[style] = setup_tokenizer(style, work, hf_cls)

    try:
        spelling_probe = probe_config_spellings()
    except Exception as e:  # noqa: BLE001
        spelling_probe = {"error": repr(e)[:300]}
    results, errors = [], []
    for spec in specs:
        try:
            results.append(build_fixture(spec, toks[spec["tok"]], args.out, versions, args.diag))
        except Exception:  # noqa: BLE001
            tb = traceback.format_exc()
            log("ERROR in fixture %s:\n%s" % (spec["name"], tb))
            errors.append({"name": spec["name"], "traceback": tb[-4000:]})
            shutil.rmtree(os.path.join(args.out, spec["name"]), ignore_errors=True)

    manifest = {
        "generator": "tools/make_fixtures.py",
        "versions": versions,
        "device": "cpu, float32, torch.set_num_threads(16), deterministic algorithms, no TF32",
        "vocab_size": VOCAB,
        "fixtures": results,
        "errors": errors,
        "total_bytes": sum(r["bytes"] for r in results),
        "recurrent_gemma_config_spelling_probe": spelling_probe,
    }
    with open(os.path.join(args.out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    log("=" * 100)
    for r in results:
        log("%-16s %-16s %-5s T=%s %7.1f KB agree=%s problems=%s" %
            (r["name"], r["arch"], r["storage_dtype"], r["T"], r["bytes"] / 1024, r["cached_uncached_agree"],
             len(r["problems"])))
    log("total %.2f MB; %d fixtures ok, %d failed" % (manifest["total_bytes"] / 2 ** 20, len(results), len(errors)))
    shutil.rmtree(work, ignore_errors=True)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
