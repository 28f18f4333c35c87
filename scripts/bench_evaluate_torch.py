#!/usr/bin/env python3
"""PyTorch baseline for scripts/bench-evaluate.sh: the same Llama forward as lowbit's DJL runner, in plain torch,
f32 on the CPU, from the bf16 safetensors shards (parsed by hand: no safetensors/transformers needed).

Prints one JSON line: {"tokens_per_second": ..., "windows": ..., "seconds": ...}. Token ids are seeded random
(speed does not depend on them); the forward is timed over the same number of windows and batch size as lowbit's.
"""
import json, math, os, struct, sys, time
import numpy as np
import torch


def load(model_dir):
    index = os.path.join(model_dir, "model.safetensors.index.json")
    files = sorted(set(json.load(open(index))["weight_map"].values())) if os.path.exists(index) else ["model.safetensors"]
    out = {}
    for f in files:
        with open(os.path.join(model_dir, f), "rb") as fh:
            n = struct.unpack("<Q", fh.read(8))[0]
            header = json.loads(fh.read(n))
            data = fh.read()
        for name, e in header.items():
            if name == "__metadata__":
                continue
            a, b = e["data_offsets"]
            raw = np.frombuffer(data[a:b], dtype=np.uint16 if e["dtype"] in ("BF16", "F16") else np.float32)
            if e["dtype"] == "BF16":
                arr = (raw.astype(np.uint32) << 16).view(np.float32)
            elif e["dtype"] == "F16":
                arr = raw.view(np.float16).astype(np.float32)
            else:
                arr = raw
            out[name] = torch.from_numpy(arr.copy()).reshape(e["shape"])
    return out


def main():
    model_dir, windows, ctx, batch, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    torch.set_num_threads(threads)
    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    w = load(model_dir)
    d, nh, nkv = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
    hd = cfg.get("head_dim", d // nh)
    eps = cfg["rms_norm_eps"]
    theta = cfg.get("rope_theta") or cfg.get("rope_parameters", {}).get("rope_theta", 10000.0)
    inv = 1.0 / (theta ** (torch.arange(0, hd, 2, dtype=torch.int64).float() / hd))
    ang = torch.arange(ctx).float()[:, None] * inv[None, :]
    emb = torch.cat([ang, ang], -1)
    cos, sin = emb.cos(), emb.sin()
    mask = torch.full((ctx, ctx), float("-inf")).triu(1)
    head = w["model.embed_tokens.weight"] if cfg.get("tie_word_embeddings") else w["lm_head.weight"]

    def rms(x, g):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * g

    def rot(x):
        h, t = x.shape[-1] // 2, x.shape[-2]
        return x * cos[:t] + torch.cat([-x[..., h:], x[..., :h]], -1) * sin[:t]

    def forward(ids):
        b, t = ids.shape
        x = w["model.embed_tokens.weight"][ids]
        for l in range(cfg["num_hidden_layers"]):
            p = f"model.layers.{l}."
            a = rms(x, w[p + "input_layernorm.weight"])
            q = (a @ w[p + "self_attn.q_proj.weight"].T).view(b, t, nh, hd).transpose(1, 2)
            k = (a @ w[p + "self_attn.k_proj.weight"].T).view(b, t, nkv, hd).transpose(1, 2)
            v = (a @ w[p + "self_attn.v_proj.weight"].T).view(b, t, nkv, hd).transpose(1, 2)
            q, k = rot(q), rot(k)
            k = k.repeat_interleave(nh // nkv, 1)
            v = v.repeat_interleave(nh // nkv, 1)
            s = (q @ k.transpose(2, 3)) / math.sqrt(hd) + mask[:t, :t]
            o = (s.softmax(-1) @ v).transpose(1, 2).reshape(b, t, nh * hd)
            x = x + o @ w[p + "self_attn.o_proj.weight"].T
            m = rms(x, w[p + "post_attention_layernorm.weight"])
            g = torch.nn.functional.silu(m @ w[p + "mlp.gate_proj.weight"].T) * (m @ w[p + "mlp.up_proj.weight"].T)
            x = x + g @ w[p + "mlp.down_proj.weight"].T
        return rms(x, w["model.norm.weight"]) @ head.T

    # check this forward against the golden logits before timing it
    golden = os.path.join(model_dir, "..", "..", "data", "tiny-llama-code.golden-logits.safetensors")
    max_diff = None
    if os.path.exists(golden):
        with open(golden, "rb") as fh:
            n = struct.unpack("<Q", fh.read(8))[0]
            header = json.loads(fh.read(n))
            data = fh.read()
        a, b = header["input_ids"]["data_offsets"]
        gids = torch.from_numpy(np.frombuffer(data[a:b], dtype=np.int32).astype(np.int64))
        a, b = header["logits"]["data_offsets"]
        glog = torch.from_numpy(np.frombuffer(data[a:b], dtype=np.float32).copy()).reshape(header["logits"]["shape"])
        with torch.inference_mode():
            max_diff = (forward(gids[None])[0] - glog).abs().max().item()

    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(0, cfg["vocab_size"], (windows, ctx), generator=gen)
    with torch.inference_mode():
        forward(ids[:1])  # warm-up
        t0 = time.perf_counter()
        for i in range(0, windows, batch):
            z = forward(ids[i:i + batch])
            lp = z[:, :-1].log_softmax(-1).gather(-1, ids[i:i + batch, 1:, None])
        secs = time.perf_counter() - t0
    print(json.dumps({"tokens_per_second": windows * ctx / secs, "windows": windows, "seconds": secs,
                      "torch": torch.__version__, "threads": torch.get_num_threads(),
                      "golden_max_abs_diff": max_diff}))


if __name__ == "__main__":
    main()
