package dev.lowbit.pipeline.onnx;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lowbit.calib.model.LlamaConfig;
import dev.lowbit.io.BadInputException;
import dev.lowbit.io.hf.DequantizingSource;
import dev.lowbit.io.model.ModelSource;
import dev.lowbit.io.onnx.MatMulNBitsPacking;
import dev.lowbit.io.onnx.OnnxAttribute;
import dev.lowbit.io.onnx.OnnxDataType;
import dev.lowbit.io.onnx.OnnxGraph;
import dev.lowbit.io.onnx.OnnxModel;
import dev.lowbit.io.onnx.OnnxTensor;
import dev.lowbit.io.onnx.OnnxValueInfo;
import dev.lowbit.io.onnx.OnnxValueInfo.Dim;
import dev.lowbit.io.onnx.OnnxWriter;
import dev.lowbit.io.quant.QuantScheme;
import dev.lowbit.io.quant.QuantizedTensor;
import dev.lowbit.io.tensor.TensorSource;
import dev.lowbit.pipeline.output.Manifest;
import dev.lowbit.pipeline.output.SafeOutput;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * A Llama-family checkpoint (Llama 2/3, Mistral: no biases, no q/k norms) as an ONNX graph ONNX Runtime runs, in
 * standard opset-21 ops only (the choice and its reason are in docs/ONNX.md): RMSNorm as ReduceMean / Sqrt / Div,
 * rotary embedding as Gather from cos/sin tables (rotate-half), attention as MatMul / Softmax with an additive causal
 * and padding mask, grouped-query attention by expanding the K/V heads; a KV cache in and out. Inputs and outputs are
 * named as onnxruntime-genai's models name them: {@code input_ids}, {@code attention_mask},
 * {@code past_key_values.N.key/value} → {@code logits}, {@code present.N.key/value}.
 *
 * <p>Each decoder Linear is a {@code MatMul} with f32 weights, or — when the checkpoint holds integer codes (GPTQ v1,
 * AutoAWQ gemm, compressed-tensors pack-quantized: any lowbit quantizer's output) — {@code com.microsoft.MatMulNBits}
 * with exactly those codes, scales and zero points (4 or 8 bits, sequential groups of a power of two ≥ 16).
 */
public final class LlamaOnnxExport {
    private static final ObjectMapper JSON = new ObjectMapper();

    public record Report(String output, int layers, int matMulNBits, int matMul, long bytes, double seconds) {
        public void print(java.io.PrintStream out) {
            out.printf("wrote %s: %d layers, %d MatMulNBits + %d f32 MatMul, %d bytes, %.1f s%n", output, layers, matMulNBits, matMul, bytes, seconds);
        }

        public String toJson() {
            return JSON.createObjectNode().put("output", output).put("layers", layers).put("matmulnbits", matMulNBits)
                    .put("matmul", matMul).put("bytes", bytes).put("seconds", seconds).toString();
        }
    }

    private LlamaOnnxExport() {
    }

    public static Report export(Path modelDir, Path output, boolean force, Consumer<String> progress) {
        long t0 = System.nanoTime();
        if (!Files.isDirectory(modelDir)) throw new BadInputException(modelDir, "ONNX export reads a Hugging Face model directory");
        LlamaConfig c = LlamaConfig.fromJson(modelDir);
        try (ModelSource src = ModelSource.open(modelDir); TensorSource packed = DequantizingSource.openDirectory(modelDir)) {
            DequantizingSource codes = packed instanceof DequantizingSource d ? d : null;
            for (String n : src.tensorNames()) {
                if (n.endsWith(".bias") || n.contains("q_norm") || n.contains("k_norm")) {
                    throw new BadInputException(modelDir, "tensor '" + n + "': the ONNX export covers Llama / Mistral (no biases, no q/k norms)");
                }
            }
            Built b = build(c, src, codes, progress);
            SafeOutput.Inputs inputs = new SafeOutput.Inputs().add("MODEL", modelDir);
            try (SafeOutput out = SafeOutput.directory(output, force, inputs)) {
                try {
                    Path dir = out.path();
                    long bytes = OnnxWriter.write(b.model, dir.resolve("model.onnx"), "model.onnx.data", 1024);
                    List<String> files = new ArrayList<>(List.of("model.onnx", "model.onnx.data"));
                    for (String side : List.of("config.json", "tokenizer.json", "tokenizer_config.json", "generation_config.json")) {
                        Path p = modelDir.resolve(side);
                        if (Files.isRegularFile(p)) {
                            Files.copy(p, dir.resolve(side));
                            files.add(side);
                        }
                    }
                    String recipe = JSON.createObjectNode().put("format", "onnx").put("export", "llama")
                            .put("opset", 21).put("matmulnbits", b.nbits).toPrettyString() + "\n";
                    Files.writeString(dir.resolve("recipe.json"), recipe);
                    files.add("recipe.json");
                    new Manifest(recipe, 0).input("model", modelFiles(modelDir)).files(files).write(dir.resolve(Manifest.FILE_NAME));
                    out.commit();
                    return new Report(out.target().toString(), c.numLayers(), b.nbits, b.plain, bytes, (System.nanoTime() - t0) / 1e9);
                } catch (IOException | RuntimeException e) {
                    throw out.failure(e);
                }
            }
        }
    }

    private static List<Path> modelFiles(Path dir) {
        try (var s = Files.list(dir)) {
            return s.filter(Files::isRegularFile).sorted().toList();
        } catch (IOException e) {
            throw new BadInputException(dir, "cannot list: " + e.getMessage());
        }
    }

    record Built(OnnxModel model, int nbits, int plain) {
    }

    static Built build(LlamaConfig c, ModelSource src, DequantizingSource codes, Consumer<String> progress) {
        GraphBuilder g = new GraphBuilder();
        int h = c.hiddenSize(), nh = c.numHeads(), nkv = c.numKvHeads(), hd = c.headDim(), groups = c.groupSize();
        List<OnnxValueInfo> inputs = new ArrayList<>(), outputs = new ArrayList<>();
        Dim batch = Dim.symbolic("batch_size"), seq = Dim.symbolic("sequence_length"), total = Dim.symbolic("total_sequence_length"),
                past = Dim.symbolic("past_sequence_length");
        inputs.add(new OnnxValueInfo("input_ids", OnnxDataType.INT64, List.of(batch, seq), ""));
        inputs.add(new OnnxValueInfo("attention_mask", OnnxDataType.INT64, List.of(batch, total), ""));
        outputs.add(new OnnxValueInfo("logits", OnnxDataType.FLOAT, List.of(batch, seq, Dim.of(c.vocabSize())), ""));
        for (int l = 0; l < c.numLayers(); l++) {
            for (String kv : List.of("key", "value")) {
                inputs.add(new OnnxValueInfo("past_key_values." + l + "." + kv, OnnxDataType.FLOAT, List.of(batch, Dim.of(nkv), past, Dim.of(hd)), ""));
                outputs.add(new OnnxValueInfo("present." + l + "." + kv, OnnxDataType.FLOAT, List.of(batch, Dim.of(nkv), total, Dim.of(hd)), ""));
            }
        }
        // positions P .. P+S−1 (P = past length), cos / sin rows for them, the additive mask [B, 1, S, T]
        String pastLen = g.op("Shape", "/model/pos/past_len", List.of("past_key_values.0.key"), OnnxAttribute.ofInt("start", 2), OnnxAttribute.ofInt("end", 3));
        String seqLen = g.op("Shape", "/model/pos/seq_len", List.of("input_ids"), OnnxAttribute.ofInt("start", 1), OnnxAttribute.ofInt("end", 2));
        String totalLen = g.op("Add", "/model/pos/total_len", List.of(pastLen, seqLen));
        String p0 = g.op("Squeeze", "/model/pos/p0", List.of(pastLen));
        String t0 = g.op("Squeeze", "/model/pos/t0", List.of(totalLen));
        String zeroI = g.scalarInt("/model/constants/zero_i64", 0), oneI = g.scalarInt("/model/constants/one_i64", 1);
        String pos = g.op("Range", "/model/pos/positions", List.of(p0, t0, oneI));
        float[][] tables = ropeTables(c);
        long maxPos = c.maxPositionEmbeddings();
        String cosCache = g.init(OnnxTensor.ofFloats("cos_cache", new long[]{maxPos, hd}, tables[0]));
        String sinCache = g.init(OnnxTensor.ofFloats("sin_cache", new long[]{maxPos, hd}, tables[1]));
        String cos = g.op("Gather", "/model/rope/cos", List.of(cosCache, pos), OnnxAttribute.ofInt("axis", 0));
        String sin = g.op("Gather", "/model/rope/sin", List.of(sinCache, pos), OnnxAttribute.ofInt("axis", 0));
        String keys = g.op("Range", "/model/mask/keys", List.of(zeroI, t0, oneI));
        String axis0 = g.ints("/model/constants/axes_0", 0), axis1 = g.ints("/model/constants/axes_1", 1), axes12 = g.ints("/model/constants/axes_1_2", 1, 2);
        String causal = g.op("LessOrEqual", "/model/mask/causal", List.of(g.op("Unsqueeze", "/model/mask/keys_row", List.of(keys, axis0)),
                g.op("Unsqueeze", "/model/mask/pos_col", List.of(pos, axis1))));
        String padding = g.op("Unsqueeze", "/model/mask/padding", List.of(
                g.op("Cast", "/model/mask/mask_bool", List.of("attention_mask"), OnnxAttribute.ofInt("to", OnnxDataType.BOOL.id())), axes12));
        String allowed = g.op("And", "/model/mask/allowed", List.of(causal, padding));
        String mask = g.op("Where", "/model/mask/additive", List.of(allowed, g.scalarFloat("/model/constants/zero_f32", 0f),
                g.scalarFloat("/model/constants/lowest_f32", -Float.MAX_VALUE)));
        String eps = g.scalarFloat("/model/constants/rms_eps", (float) c.rmsNormEps());
        String lastAxis = g.ints("/model/constants/axes_last", -1);
        String scale = g.scalarFloat("/model/constants/attn_scale", (float) (1.0 / Math.sqrt(hd)));
        String qShape = g.ints("/model/constants/q_shape", 0, 0, nh, hd), kvShape = g.ints("/model/constants/kv_shape", 0, 0, nkv, hd);
        String merged = g.ints("/model/constants/merged_shape", 0, 0, (long) nh * hd);
        String repeat = g.ints("/model/constants/kv_repeat", 1, 1, groups, 1, 1), repeated = g.ints("/model/constants/kv_repeated_shape", 0, nh, -1, hd);
        String axis2 = g.ints("/model/constants/axes_2", 2);
        int[] counts = new int[2];
        String x = g.op("Gather", "/model/embed_tokens/Gather", List.of(g.init(plain(src, "model.embed_tokens.weight", "model.embed_tokens.weight", false)), "input_ids"),
                OnnxAttribute.ofInt("axis", 0));
        for (int l = 0; l < c.numLayers(); l++) {
            String p = "/model/layers." + l;
            String hf = "model.layers." + l + ".";
            String a = rms(g, p + "/input_layernorm", x, g.init(plain(src, hf + "input_layernorm.weight", hf + "input_layernorm.weight", false)), eps, lastAxis);
            String q = linear(g, src, codes, p + "/attn/q_proj", hf + "self_attn.q_proj", a, counts);
            String k = linear(g, src, codes, p + "/attn/k_proj", hf + "self_attn.k_proj", a, counts);
            String v = linear(g, src, codes, p + "/attn/v_proj", hf + "self_attn.v_proj", a, counts);
            List<OnnxAttribute> perm = List.of(OnnxAttribute.ofInts("perm", 0, 2, 1, 3));
            String q4 = g.op("Transpose", p + "/attn/q_heads", List.of(g.op("Reshape", p + "/attn/q_reshape", List.of(q, qShape))), perm.getFirst());
            String k4 = g.op("Transpose", p + "/attn/k_heads", List.of(g.op("Reshape", p + "/attn/k_reshape", List.of(k, kvShape))), perm.getFirst());
            String v4 = g.op("Transpose", p + "/attn/v_heads", List.of(g.op("Reshape", p + "/attn/v_reshape", List.of(v, kvShape))), perm.getFirst());
            String qr = rope(g, p + "/attn/q_rope", q4, cos, sin);
            String kr = rope(g, p + "/attn/k_rope", k4, cos, sin);
            String presentK = "present." + l + ".key", presentV = "present." + l + ".value";
            g.opTo("Concat", p + "/attn/k_cache", List.of("past_key_values." + l + ".key", kr), List.of(presentK), OnnxAttribute.ofInt("axis", 2));
            g.opTo("Concat", p + "/attn/v_cache", List.of("past_key_values." + l + ".value", v4), List.of(presentV), OnnxAttribute.ofInt("axis", 2));
            String kAll = presentK, vAll = presentV;
            if (groups > 1) {
                kAll = g.op("Reshape", p + "/attn/k_repeat", List.of(g.op("Expand", p + "/attn/k_expand", List.of(
                        g.op("Unsqueeze", p + "/attn/k_unsqueeze", List.of(presentK, axis2)), repeat)), repeated));
                vAll = g.op("Reshape", p + "/attn/v_repeat", List.of(g.op("Expand", p + "/attn/v_expand", List.of(
                        g.op("Unsqueeze", p + "/attn/v_unsqueeze", List.of(presentV, axis2)), repeat)), repeated));
            }
            String kt = g.op("Transpose", p + "/attn/k_t", List.of(kAll), OnnxAttribute.ofInts("perm", 0, 1, 3, 2));
            String scores = g.op("Add", p + "/attn/masked", List.of(g.op("Mul", p + "/attn/scaled", List.of(
                    g.op("MatMul", p + "/attn/qk", List.of(qr, kt)), scale)), mask));
            String probs = g.op("Softmax", p + "/attn/softmax", List.of(scores), OnnxAttribute.ofInt("axis", -1));
            String ctx = g.op("Reshape", p + "/attn/merge", List.of(g.op("Transpose", p + "/attn/ctx_t", List.of(
                    g.op("MatMul", p + "/attn/pv", List.of(probs, vAll))), perm.getFirst()), merged));
            String o = linear(g, src, codes, p + "/attn/o_proj", hf + "self_attn.o_proj", ctx, counts);
            String x1 = g.op("Add", p + "/attn/residual", List.of(x, o));
            String m = rms(g, p + "/post_attention_layernorm", x1, g.init(plain(src, hf + "post_attention_layernorm.weight", hf + "post_attention_layernorm.weight", false)), eps, lastAxis);
            String gate = linear(g, src, codes, p + "/mlp/gate_proj", hf + "mlp.gate_proj", m, counts);
            String up = linear(g, src, codes, p + "/mlp/up_proj", hf + "mlp.up_proj", m, counts);
            String silu = g.op("Mul", p + "/mlp/silu", List.of(gate, g.op("Sigmoid", p + "/mlp/sigmoid", List.of(gate))));
            String down = linear(g, src, codes, p + "/mlp/down_proj", hf + "mlp.down_proj", g.op("Mul", p + "/mlp/gate_up", List.of(silu, up)), counts);
            x = g.op("Add", p + "/mlp/residual", List.of(x1, down));
            progress.accept("layer " + l + " exported");
        }
        String norm = rms(g, "/model/norm", x, g.init(plain(src, "model.norm.weight", "model.norm.weight", false)), eps, lastAxis);
        String head = src.contains("lm_head.weight") ? "lm_head.weight" : "model.embed_tokens.weight";
        String headT = g.init(plain(src, head, "lm_head.weight.T", true));
        g.opTo("MatMul", "/lm_head/MatMul", List.of(norm, headT), List.of("logits"));
        OnnxGraph graph = new OnnxGraph("lowbit-llama", g.nodes, g.initializers, inputs, outputs, List.of(), "");
        OnnxModel model = new OnnxModel(10, List.of(new OnnxModel.OpsetId("", 21), new OnnxModel.OpsetId("com.microsoft", 1)),
                "lowbit", "0.1.0", "", 0, "", graph, List.of());
        return new Built(model, counts[0], counts[1]);
    }

    /** HF RMSNorm as our runtime computes it: x / sqrt(mean(x²) + eps) · γ. */
    private static String rms(GraphBuilder g, String p, String x, String gamma, String eps, String lastAxis) {
        String ms = g.op("ReduceMean", p + "/mean_square", List.of(g.op("Mul", p + "/square", List.of(x, x)), lastAxis), OnnxAttribute.ofInt("keepdims", 1));
        String denom = g.op("Sqrt", p + "/sqrt", List.of(g.op("Add", p + "/add_eps", List.of(ms, eps))));
        return g.op("Mul", p + "/gamma", List.of(g.op("Div", p + "/normalize", List.of(x, denom)), gamma));
    }

    /** Rotate-half RoPE: x·cos + (−x₂, x₁)·sin. */
    private static String rope(GraphBuilder g, String p, String x, String cos, String sin) {
        String x1 = p + "/x1", x2 = p + "/x2";
        g.opTo("Split", p + "/split", List.of(x), List.of(x1, x2), OnnxAttribute.ofInt("axis", -1), OnnxAttribute.ofInt("num_outputs", 2));
        String rotated = g.op("Concat", p + "/rotate_half", List.of(g.op("Neg", p + "/neg", List.of(x2)), x1), OnnxAttribute.ofInt("axis", -1));
        return g.op("Add", p + "/sum", List.of(g.op("Mul", p + "/x_cos", List.of(x, cos)), g.op("Mul", p + "/rot_sin", List.of(rotated, sin))));
    }

    /** One decoder Linear: MatMulNBits over the checkpoint's codes when it holds them, else MatMul with Wᵀ in f32. */
    private static String linear(GraphBuilder g, ModelSource src, DequantizingSource codes, String p, String module, String x, int[] counts) {
        if (codes != null && codes.quantizedModules().contains(module)) {
            QuantizedTensor q = codes.quantized(module);
            QuantScheme s = q.scheme();
            int bits = s.bits(), block = s.groupSize() == -1 ? q.cols() : s.groupSize();
            if (s.element() != QuantScheme.ElementType.INT || (bits != 4 && bits != 8) || q.planes().size() != 1 || q.zeros() == null
                    || block < 16 || Integer.bitCount(block) != 1) {
                throw new BadInputException(src.path(), module + ": " + s + " cannot be MatMulNBits (integer 4 or 8 bits, zero points, groups a power of 2 ≥ 16)");
            }
            MatMulNBitsPacking pk;
            try {
                pk = MatMulNBitsPacking.pack(q, bits, block);
            } catch (IllegalArgumentException e) {
                throw new BadInputException(src.path(), module + ": " + e.getMessage());
            }
            String qn = g.init(OnnxTensor.ofBytes(module + ".qweight_nbits", OnnxDataType.UINT8, pk.bDims(), pk.b()));
            String sn = g.init(OnnxTensor.ofFloats(module + ".scales_nbits", pk.scaleDims(), pk.scales()));
            String zn = g.init(OnnxTensor.ofBytes(module + ".qzeros_nbits", OnnxDataType.UINT8, pk.zeroDims(), pk.zeroPoints()));
            counts[0]++;
            return g.op("com.microsoft", "MatMulNBits", p + "/MatMulNBits", List.of(x, qn, sn, zn),
                    OnnxAttribute.ofInt("K", q.cols()), OnnxAttribute.ofInt("N", q.rows()), OnnxAttribute.ofInt("bits", bits),
                    OnnxAttribute.ofInt("block_size", block), OnnxAttribute.ofInt("accuracy_level", 0));
        }
        counts[1]++;
        return g.op("MatMul", p + "/MatMul", List.of(x, g.init(plain(src, module + ".weight", module + ".weight.T", true))));
    }

    /** A tensor as f32 (transposed for a Linear: [in, out], the MatMul orientation). */
    private static OnnxTensor plain(ModelSource src, String name, String onnxName, boolean transpose) {
        float[] w = src.readAll(name);
        long[] shape = src.shape(name);
        if (!transpose) return OnnxTensor.ofFloats(onnxName, shape, w);
        int rows = (int) shape[0], cols = (int) shape[1];
        float[] t = new float[w.length];
        for (int r = 0; r < rows; r++) for (int col = 0; col < cols; col++) t[col * rows + r] = w[r * cols + col];
        return OnnxTensor.ofFloats(onnxName, new long[]{cols, rows}, t);
    }

    /** cos / sin [max_position_embeddings, hd] of pos·inv_freq[i mod hd/2], in f32 as our runtime (and transformers) do. */
    static float[][] ropeTables(LlamaConfig c) {
        int hd = c.headDim(), n = c.maxPositionEmbeddings();
        float[] inv = c.ropeScaling().inverseFrequencies(c.ropeTheta(), hd);
        float[] cos = new float[n * hd], sin = new float[n * hd];
        for (int p = 0; p < n; p++) {
            for (int i = 0; i < hd; i++) {
                float angle = p * inv[i % (hd / 2)];
                cos[p * hd + i] = (float) Math.cos(angle);
                sin[p * hd + i] = (float) Math.sin(angle);
            }
        }
        return new float[][]{cos, sin};
    }

}
