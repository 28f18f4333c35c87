package dev.lowbit.calib.model;

import java.util.Map;

/**
 * The obviously-correct forward: plain loops in f64 over the same weights, written from the Hugging Face
 * modelling code (LlamaRMSNorm, rotate_half RoPE, repeat_kv, eager attention, gated SiLU MLP, Qwen3 q/k norm).
 */
final class ScalarReference {
    final int d, layers, heads, kvHeads, hd, ff, vocab;
    final double eps;
    final double[] invFreq;
    final boolean qkNorm, tied;
    final Map<String, float[]> w;

    ScalarReference(int d, int layers, int heads, int kvHeads, int hd, int ff, int vocab, double eps, double[] invFreq,
                    boolean qkNorm, boolean tied, Map<String, float[]> w) {
        this.d = d;
        this.layers = layers;
        this.heads = heads;
        this.kvHeads = kvHeads;
        this.hd = hd;
        this.ff = ff;
        this.vocab = vocab;
        this.eps = eps;
        this.invFreq = invFreq;
        this.qkNorm = qkNorm;
        this.tied = tied;
        this.w = w;
    }

    /** Logits {@code [T][V]} of one window. */
    double[][] forward(int[] ids) {
        int t = ids.length;
        double[][] x = new double[t][d];
        float[] emb = w.get("model.embed_tokens.weight");
        for (int p = 0; p < t; p++) for (int i = 0; i < d; i++) x[p][i] = emb[ids[p] * d + i];
        for (int l = 0; l < layers; l++) {
            String pre = "model.layers." + l + ".";
            double[][] a = new double[t][];
            for (int p = 0; p < t; p++) a[p] = rms(x[p], w.get(pre + "input_layernorm.weight"));
            double[][][] q = new double[t][][], k = new double[t][][], v = new double[t][][];
            for (int p = 0; p < t; p++) {
                q[p] = split(lin(a[p], pre + "self_attn.q_proj"), heads);
                k[p] = split(lin(a[p], pre + "self_attn.k_proj"), kvHeads);
                v[p] = split(lin(a[p], pre + "self_attn.v_proj"), kvHeads);
                for (int h = 0; h < heads; h++) {
                    if (qkNorm) q[p][h] = rms(q[p][h], w.get(pre + "self_attn.q_norm.weight"));
                    q[p][h] = rope(q[p][h], p);
                }
                for (int h = 0; h < kvHeads; h++) {
                    if (qkNorm) k[p][h] = rms(k[p][h], w.get(pre + "self_attn.k_norm.weight"));
                    k[p][h] = rope(k[p][h], p);
                }
            }
            int rep = heads / kvHeads;
            for (int p = 0; p < t; p++) {
                double[] attn = new double[heads * hd];
                for (int h = 0; h < heads; h++) {
                    int g = h / rep;
                    double[] s = new double[p + 1];
                    double max = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j <= p; j++) {
                        double dot = 0;
                        for (int i = 0; i < hd; i++) dot += q[p][h][i] * k[j][g][i];
                        s[j] = dot / Math.sqrt(hd);
                        max = Math.max(max, s[j]);
                    }
                    double z = 0;
                    for (int j = 0; j <= p; j++) z += s[j] = Math.exp(s[j] - max);
                    for (int j = 0; j <= p; j++) for (int i = 0; i < hd; i++) attn[h * hd + i] += s[j] / z * v[j][g][i];
                }
                double[] o = lin(attn, pre + "self_attn.o_proj");
                for (int i = 0; i < d; i++) x[p][i] += o[i];
                double[] m = rms(x[p], w.get(pre + "post_attention_layernorm.weight"));
                double[] gate = lin(m, pre + "mlp.gate_proj");
                double[] up = lin(m, pre + "mlp.up_proj");
                double[] act = new double[ff];
                for (int i = 0; i < ff; i++) act[i] = gate[i] / (1 + Math.exp(-gate[i])) * up[i];
                double[] down = lin(act, pre + "mlp.down_proj");
                for (int i = 0; i < d; i++) x[p][i] += down[i];
            }
        }
        float[] head = w.get(tied ? "model.embed_tokens.weight" : "lm_head.weight");
        double[][] logits = new double[t][vocab];
        for (int p = 0; p < t; p++) {
            double[] n = rms(x[p], w.get("model.norm.weight"));
            for (int o = 0; o < vocab; o++) {
                double s = 0;
                for (int i = 0; i < d; i++) s += head[o * d + i] * n[i];
                logits[p][o] = s;
            }
        }
        return logits;
    }

    private double[] rms(double[] x, float[] gamma) {
        double ms = 0;
        for (double v : x) ms += v * v;
        double inv = 1 / Math.sqrt(ms / x.length + eps);
        double[] out = new double[x.length];
        for (int i = 0; i < x.length; i++) out[i] = x[i] * inv * gamma[i];
        return out;
    }

    private double[] lin(double[] x, String name) {
        float[] wt = w.get(name + ".weight");
        float[] b = w.get(name + ".bias");
        int out = wt.length / x.length;
        double[] y = new double[out];
        for (int o = 0; o < out; o++) {
            double s = b == null ? 0 : b[o];
            for (int i = 0; i < x.length; i++) s += wt[o * x.length + i] * x[i];
            y[o] = s;
        }
        return y;
    }

    private double[][] split(double[] y, int n) {
        double[][] out = new double[n][hd];
        for (int h = 0; h < n; h++) System.arraycopy(y, h * hd, out[h], 0, hd);
        return out;
    }

    /** (x₁, x₂) ↦ (x₁ cos θ − x₂ sin θ, x₂ cos θ + x₁ sin θ), θ_i = pos·inv_freq[i], halves of the head. */
    private double[] rope(double[] x, int pos) {
        int half = hd / 2;
        double[] out = new double[hd];
        for (int i = 0; i < half; i++) {
            double a = pos * invFreq[i];
            out[i] = x[i] * Math.cos(a) - x[i + half] * Math.sin(a);
            out[i + half] = x[i + half] * Math.cos(a) + x[i] * Math.sin(a);
        }
        return out;
    }
}
