#!/usr/bin/python3
"""PyTorch baseline for lowbit's speed comparisons, run on the same CPU in the same script run.

Written for lowbit from the GPTQ paper (Frantar et al., 2022) and the reference algorithm's published description;
it is a measuring stick, not part of the product. Needs Debian's python3-torch (1.13) with libopenblas0-pthread and
numpy; no other packages (safetensors and bf16 are decoded by hand, tokens come from `lowbit tokenize`).

  forward  : tokens/s of the fp32 forward over windows of 512 (the evaluate protocol), prints perplexity too
  gptq     : GPTQ w{bits} g{group} of every decoder Linear, layer by layer, inputs from the quantized prefix;
             prints the wall-time breakdown (calibration forward, Hessians, solve) as JSON
"""
import argparse, json, math, os, struct, sys, time
import numpy as np
import torch

def load_safetensors_dir(d):
    idx = os.path.join(d, "model.safetensors.index.json")
    files = sorted(set(json.load(open(idx))["weight_map"].values())) if os.path.exists(idx) else ["model.safetensors"]
    out = {}
    for f in files:
        raw = open(os.path.join(d, f), "rb").read()
        n = struct.unpack("<Q", raw[:8])[0]
        hdr = json.loads(raw[8:8 + n])
        base = 8 + n
        for name, e in hdr.items():
            if name == "__metadata__":
                continue
            b, en = e["data_offsets"]
            buf = raw[base + b: base + en]
            if e["dtype"] == "BF16":
                u = np.frombuffer(buf, dtype="<u2").astype(np.uint32) << 16
                a = u.view(np.float32)
            elif e["dtype"] == "F32":
                a = np.frombuffer(buf, dtype="<f4")
            elif e["dtype"] == "F16":
                a = np.frombuffer(buf, dtype="<f2").astype(np.float32)
            else:
                raise SystemExit(f"{f}: dtype {e['dtype']} not handled by this baseline")
            out[name] = torch.from_numpy(a.copy()).reshape(e["shape"])
    return out

class Llama:
    def __init__(self, d):
        self.cfg = json.load(open(os.path.join(d, "config.json")))
        self.w = load_safetensors_dir(d)
        c = self.cfg
        self.h = c["hidden_size"]; self.nh = c["num_attention_heads"]; self.nkv = c.get("num_key_value_heads", self.nh)
        self.hd = c.get("head_dim") or self.h // self.nh; self.eps = c["rms_norm_eps"]; self.L = c["num_hidden_layers"]
        theta = (c.get("rope_parameters") or {}).get("rope_theta", c.get("rope_theta", 10000.0))
        self.inv_freq = 1.0 / (theta ** (torch.arange(0, self.hd, 2, dtype=torch.float32) / self.hd))

    def W(self, i, name):
        return self.w[f"model.layers.{i}.{name}.weight"]

    def rms(self, x, g):
        v = x.pow(2).mean(-1, keepdim=True)
        return x * torch.rsqrt(v + self.eps) * g

    def rope(self, T):
        t = torch.arange(T, dtype=torch.float32)
        f = torch.outer(t, self.inv_freq)
        e = torch.cat([f, f], -1)
        return e.cos(), e.sin()

    @staticmethod
    def rot(x):
        a, b = x.chunk(2, -1)
        return torch.cat([-b, a], -1)

    def layer(self, i, x, hook=None):
        B, T, H = x.shape
        cos, sin = self.rope(T)
        hn = self.rms(x, self.w[f"model.layers.{i}.input_layernorm.weight"])
        if hook: hook(i, "qkv", hn)
        q = (hn @ self.W(i, "self_attn.q_proj").T).view(B, T, self.nh, self.hd).transpose(1, 2)
        k = (hn @ self.W(i, "self_attn.k_proj").T).view(B, T, self.nkv, self.hd).transpose(1, 2)
        v = (hn @ self.W(i, "self_attn.v_proj").T).view(B, T, self.nkv, self.hd).transpose(1, 2)
        q = q * cos + self.rot(q) * sin
        k = k * cos + self.rot(k) * sin
        rep = self.nh // self.nkv
        k = k.repeat_interleave(rep, 1); v = v.repeat_interleave(rep, 1)
        s = (q @ k.transpose(-1, -2)) / math.sqrt(self.hd)
        mask = torch.full((T, T), float("-inf")).triu(1)
        a = torch.softmax(s + mask, -1) @ v
        a = a.transpose(1, 2).reshape(B, T, self.nh * self.hd)
        if hook: hook(i, "o", a)
        x = x + a @ self.W(i, "self_attn.o_proj").T
        hn = self.rms(x, self.w[f"model.layers.{i}.post_attention_layernorm.weight"])
        if hook: hook(i, "gateup", hn)
        g = hn @ self.W(i, "mlp.gate_proj").T
        u = hn @ self.W(i, "mlp.up_proj").T
        m = torch.nn.functional.silu(g) * u
        if hook: hook(i, "down", m)
        return x + m @ self.W(i, "mlp.down_proj").T

    def embed(self, ids):
        return self.w["model.embed_tokens.weight"][ids]

    def logits(self, x):
        x = self.rms(x, self.w["model.norm.weight"])
        head = self.w.get("lm_head.weight", self.w["model.embed_tokens.weight"])
        return x @ head.T

def windows(tokens, ctx, n):
    k = len(tokens) // ctx
    if n: k = min(k, n)
    return torch.from_numpy(tokens[: k * ctx].astype(np.int64)).view(k, ctx)

@torch.no_grad()
def cmd_forward(a):
    m = Llama(a.model)
    if a.rtn:
        bits, group = (int(v) for v in a.rtn.split(":"))
        for k in [k for k in m.w if k.startswith("model.layers.") and k.endswith("_proj.weight")]:
            W = m.w[k]; g = group if group > 0 else W.shape[1]
            for c in range(0, W.shape[1], g):
                scale, zero, maxq = quantize_params(W[:, c:c + g], bits, a.sym)
                W[:, c:c + g] = fake_quant(W[:, c:c + g], scale.unsqueeze(1), zero.unsqueeze(1), maxq)
    ids = windows(np.fromfile(a.tokens, dtype="<i4"), a.ctx, a.max_windows)
    t0 = time.time(); nll = 0.0; cnt = 0
    for s in range(0, ids.shape[0], a.batch):
        b = ids[s: s + a.batch]
        x = m.embed(b)
        for i in range(m.L): x = m.layer(i, x)
        lp = torch.log_softmax(m.logits(x)[:, :-1].double(), -1)
        nll -= lp.gather(-1, b[:, 1:, None]).sum().item(); cnt += b.shape[0] * (b.shape[1] - 1)
    dt = time.time() - t0
    print(json.dumps({"impl": "pytorch " + torch.__version__, "threads": torch.get_num_threads(), "windows": ids.shape[0],
                      "tokens": ids.numel(), "seconds": dt, "tokens_per_second": ids.numel() / dt,
                      "perplexity": math.exp(nll / cnt)}))

def quantize_params(w, bits, sym):
    """Per-row min/max grid of the GPTQ reference (range always contains 0); w is [rows, g]."""
    maxq = 2 ** bits - 1
    lo = torch.minimum(w.min(1).values, torch.zeros(w.shape[0]))
    hi = torch.maximum(w.max(1).values, torch.zeros(w.shape[0]))
    if sym:
        hi = torch.maximum(lo.abs(), hi); lo = torch.where(lo < 0, -hi, lo)
    both0 = (lo == 0) & (hi == 0); lo[both0] = -1; hi[both0] = 1
    scale = (hi - lo) / maxq
    zero = torch.full_like(scale, (maxq + 1) / 2) if sym else torch.round(-lo / scale)
    return scale, zero, maxq

def fake_quant(x, scale, zero, maxq):
    q = torch.clamp(torch.round(x / scale) + zero, 0, maxq)
    return scale * (q - zero)

def gptq(W, H, bits, group, sym, damp=0.01, block=128):
    W = W.clone(); cols = W.shape[1]
    dead = torch.diag(H) == 0; H[dead, dead] = 1; W[:, dead] = 0
    H += torch.eye(cols) * (damp * torch.mean(torch.diag(H)))
    Hinv = torch.linalg.cholesky(torch.cholesky_inverse(torch.linalg.cholesky(H)), upper=True)
    Q = torch.zeros_like(W)
    scale = zero = maxq = None
    for i1 in range(0, cols, block):
        i2 = min(i1 + block, cols); n = i2 - i1
        W1 = W[:, i1:i2].clone(); Q1 = torch.zeros_like(W1); Err1 = torch.zeros_like(W1); Hinv1 = Hinv[i1:i2, i1:i2]
        for i in range(n):
            w = W1[:, i]; d = Hinv1[i, i]
            if (i1 + i) % group == 0:
                scale, zero, maxq = quantize_params(W[:, i1 + i: i1 + i + group], bits, sym)
            q = fake_quant(w, scale, zero, maxq)
            Q1[:, i] = q
            err = (w - q) / d
            W1[:, i:] -= err.unsqueeze(1) @ Hinv1[i, i:].unsqueeze(0)
            Err1[:, i] = err
        Q[:, i1:i2] = Q1
        W[:, i2:] -= Err1 @ Hinv[i1:i2, i2:]
    return Q

@torch.no_grad()
def cmd_gptq(a):
    m = Llama(a.model)
    ids = windows(np.fromfile(a.tokens, dtype="<i4"), a.ctx, a.samples)
    groups = [["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"], ["self_attn.o_proj"],
              ["mlp.gate_proj", "mlp.up_proj"], ["mlp.down_proj"]]
    site = {"self_attn.q_proj": "qkv", "self_attn.k_proj": "qkv", "self_attn.v_proj": "qkv", "self_attn.o_proj": "o",
            "mlp.gate_proj": "gateup", "mlp.up_proj": "gateup", "mlp.down_proj": "down"}
    t = {"calibration_forward": 0.0, "hessian": 0.0, "solve": 0.0}
    t0 = time.time()
    x = torch.cat([m.embed(ids[s: s + a.batch]) for s in range(0, ids.shape[0], a.batch)])
    t["calibration_forward"] += time.time() - t0
    for i in range(m.L):
        for grp in groups:
            want = site[grp[0]]; H = None; nsamples = 0
            def hook(li, s, inp):
                nonlocal H, nsamples
                if s != want: return
                th = time.time()
                inp = inp.reshape(-1, inp.shape[-1]).float(); n = inp.shape[0]
                if H is None: H = torch.zeros(inp.shape[1], inp.shape[1])
                H *= nsamples / (nsamples + n); nsamples += n
                inp = math.sqrt(2 / nsamples) * inp
                H += inp.T @ inp
                t["hessian"] += time.time() - th
            tf = time.time()
            for s in range(0, x.shape[0], a.batch): m.layer(i, x[s: s + a.batch], hook)
            t["calibration_forward"] += time.time() - tf - 0  # includes hook time; subtracted below
            ts = time.time()
            for name in grp:
                key = f"model.layers.{i}.{name}.weight"
                m.w[key] = gptq(m.w[key], H.clone(), a.bits, a.group_size if a.group_size > 0 else m.w[key].shape[1], a.sym)
            t["solve"] += time.time() - ts
        tf = time.time()
        x = torch.cat([m.layer(i, x[s: s + a.batch]) for s in range(0, x.shape[0], a.batch)])
        t["calibration_forward"] += time.time() - tf
    t["calibration_forward"] -= t["hessian"]
    t["total"] = time.time() - t0
    print(json.dumps({"impl": "pytorch " + torch.__version__ + " reference GPTQ", "threads": torch.get_num_threads(),
                      "bits": a.bits, "group_size": a.group_size, "samples": ids.shape[0], "seconds": t}))

def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mode", choices=["forward", "gptq"])
    p.add_argument("--model", required=True); p.add_argument("--tokens", required=True, help="little-endian int32 token ids")
    p.add_argument("--ctx", type=int, default=512); p.add_argument("--max-windows", type=int, default=0)
    p.add_argument("--samples", type=int, default=128); p.add_argument("--batch", type=int, default=8)
    p.add_argument("--bits", type=int, default=4); p.add_argument("--group-size", type=int, default=128)
    p.add_argument("--rtn", metavar="BITS:GROUP", help="forward: fake-quantize decoder Linears with reference RTN first")
    p.add_argument("--sym", action="store_true"); p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    cmd_forward(a) if a.mode == "forward" else cmd_gptq(a)

if __name__ == "__main__":
    main()
