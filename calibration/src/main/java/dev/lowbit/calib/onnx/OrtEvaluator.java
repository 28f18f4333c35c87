package dev.lowbit.calib.onnx;

import dev.lowbit.calib.data.TextDataset;
import dev.lowbit.calib.data.TokenWindows;
import dev.lowbit.calib.eval.EvalRequest;
import dev.lowbit.calib.eval.EvalResult;
import dev.lowbit.calib.eval.Evaluator;
import dev.lowbit.calib.eval.Protocol;
import dev.lowbit.calib.model.LlamaConfig;
import dev.lowbit.calib.tokenize.ModelTokenizer;
import dev.lowbit.io.BadInputException;
import dev.lowbit.io.onnx.OnnxDataType;
import dev.lowbit.io.onnx.OnnxTensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;

/**
 * {@code lowbit evaluate model.onnx}: the same protocols and figures as the DJL runtime's {@link Evaluator}, with the
 * forward pass run by ONNX Runtime on an exported Llama graph (inputs {@code input_ids}, {@code attention_mask}, empty
 * {@code past_key_values.N.*}; output {@code logits}). The tokenizer and config.json come from the model's directory.
 * Log-softmax and NLL sums are computed in f64 from ORT's f32 logits.
 */
public final class OrtEvaluator {
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private OrtEvaluator() {
    }

    public static boolean isOnnx(Path model) {
        return model.getFileName() != null && model.getFileName().toString().endsWith(".onnx");
    }

    public static EvalResult evaluate(EvalRequest req, Evaluator.Progress progress) {
        long t0 = System.nanoTime();
        if (req.activations() != null) throw new BadInputException(req.model(), "--activations applies to lowbit's runtime only");
        Path dir = req.model().toAbsolutePath().getParent();
        LlamaConfig c = LlamaConfig.fromJson(dir);
        if (req.ctx() > c.maxPositionEmbeddings()) {
            throw new BadInputException(req.model(), "--ctx " + req.ctx() + " exceeds max_position_embeddings " + c.maxPositionEmbeddings());
        }
        int[] tokens;
        OptionalInt bos;
        try (ModelTokenizer tokenizer = ModelTokenizer.open(dir)) {
            tokens = tokenizer.encode(TextDataset.read(req.data()));
            bos = tokenizer.bosToken();
        }
        int[][] windows = TokenWindows.first(tokens, req.ctx(), req.maxWindows(), req.data().toString());
        if (req.protocol() == Protocol.LLAMACPP && bos.isPresent()) for (int[] w : windows) w[0] = bos.getAsInt();
        int first = req.protocol().firstScored(req.ctx());
        int threads = req.threads() > 0 ? req.threads() : Runtime.getRuntime().availableProcessors();
        double nll = 0, nllBase = 0, kl = 0, maxDelta = 0;
        long count = 0, agree = 0;
        long tForward;
        try (OrtRunner ort = OrtRunner.of(req.model(), threads); Baseline base = Baseline.open(req.baseline(), c, threads)) {
            progress.start(windows.length);
            tForward = System.nanoTime();
            for (int from = 0; from < windows.length; from += req.batch()) {
                int b = Math.min(req.batch(), windows.length - from);
                int t = req.ctx();
                Map<String, OnnxTensor> feeds = feeds(c, windows, from, b, t);
                OnnxTensor logits = ort.run(feeds, List.of("logits")).get("logits");
                long[] d = logits.dims();
                int v = c.vocabSize();
                if (d.length != 3 || d[0] != b || d[1] != t || d[2] != v) {
                    throw new BadInputException(req.model(), "logits have shape " + java.util.Arrays.toString(d) + ", expected [" + b + ", " + t + ", " + v + "]");
                }
                MemorySegment z = logits.data();
                float[] zb = base == null ? null : base.logits(windows, from, b, t);
                double[] lp = new double[v], lpb = new double[v];
                for (int w = 0; w < b; w++) {
                    for (int j = first; j < t - 1; j++) {
                        long row = ((long) w * t + j) * v;
                        int target = windows[from + w][j + 1];
                        logSoftmax(k -> z.getAtIndex(F32, row + k), v, lp);
                        nll -= lp[target];
                        count++;
                        if (zb != null) {
                            logSoftmax(k -> zb[(int) row + k], v, lpb);
                            nllBase -= lpb[target];
                            double klRow = 0, dz = 0;
                            int am = 0, amb = 0;
                            for (int k = 0; k < v; k++) {
                                klRow += Math.exp(lpb[k]) * (lpb[k] - lp[k]);
                                dz = Math.max(dz, Math.abs(z.getAtIndex(F32, row + k) - zb[(int) row + k]));
                                if (lp[k] > lp[am]) am = k;
                                if (lpb[k] > lpb[amb]) amb = k;
                            }
                            kl += klRow;
                            maxDelta = Math.max(maxDelta, dz);
                            if (am == amb) agree++;
                        }
                    }
                }
                progress.advance(b);
            }
            tForward = System.nanoTime() - tForward;
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        boolean cmp = req.baseline() != null;
        return new EvalResult(Math.exp(nll / count), tokens.length, windows.length, count, seconds, tForward / 1e9,
                cmp ? kl / count : Double.NaN, cmp ? (double) agree / count : Double.NaN, cmp ? maxDelta : Double.NaN,
                cmp ? Math.exp(nllBase / count) : Double.NaN);
    }

    private static void logSoftmax(java.util.function.IntToDoubleFunction z, int v, double[] out) {
        double max = Double.NEGATIVE_INFINITY;
        for (int k = 0; k < v; k++) max = Math.max(max, z.applyAsDouble(k));
        double sum = 0;
        for (int k = 0; k < v; k++) sum += Math.exp(z.applyAsDouble(k) - max);
        double log = Math.log(sum);
        for (int k = 0; k < v; k++) out[k] = z.applyAsDouble(k) - max - log;
    }

    /**
     * The model compared against: another exported {@code .onnx} (on ORT) or a checkpoint on lowbit's DJL runtime, so
     * that ORT's figures sit beside our runtime's on the same windows (KL, top-1 agreement, max |Δlogit|).
     */
    private interface Baseline extends AutoCloseable {
        float[] logits(int[][] windows, int from, int b, int t);

        @Override
        void close();

        static Baseline open(Path path, LlamaConfig c, int threads) {
            if (path == null) return null;
            if (isOnnx(path)) {
                OrtRunner r = OrtRunner.of(path, threads);
                return new Baseline() {
                    public float[] logits(int[][] windows, int from, int b, int t) {
                        return r.run(feeds(c, windows, from, b, t), List.of("logits")).get("logits").floats();
                    }

                    public void close() {
                        r.close();
                    }
                };
            }
            dev.lowbit.calib.model.LlamaRunner r = dev.lowbit.calib.model.LlamaRunner.open(path, threads);
            if (r.config().vocabSize() != c.vocabSize()) {
                r.close();
                throw new BadInputException(path, "vocabulary size " + r.config().vocabSize() + " differs from the model's " + c.vocabSize());
            }
            return new Baseline() {
                public float[] logits(int[][] windows, int from, int b, int t) {
                    try (ai.djl.ndarray.NDScope scope = new ai.djl.ndarray.NDScope()) {
                        return Evaluator.logits(r, java.util.Arrays.copyOfRange(windows, from, from + b)).toFloatArray();
                    }
                }

                public void close() {
                    r.close();
                }
            };
        }
    }

    static Map<String, OnnxTensor> feeds(LlamaConfig c, int[][] windows, int from, int b, int t) {
        ByteBuffer ids = ByteBuffer.allocate(b * t * 8).order(ByteOrder.LITTLE_ENDIAN);
        ByteBuffer mask = ByteBuffer.allocate(b * t * 8).order(ByteOrder.LITTLE_ENDIAN);
        for (int w = 0; w < b; w++) {
            for (int j = 0; j < t; j++) {
                ids.putLong(windows[from + w][j]);
                mask.putLong(1);
            }
        }
        Map<String, OnnxTensor> feeds = new LinkedHashMap<>();
        feeds.put("input_ids", OnnxTensor.ofBytes("input_ids", OnnxDataType.INT64, new long[]{b, t}, ids.array()));
        feeds.put("attention_mask", OnnxTensor.ofBytes("attention_mask", OnnxDataType.INT64, new long[]{b, t}, mask.array()));
        for (int l = 0; l < c.numLayers(); l++) {
            for (String kv : List.of("key", "value")) {
                String name = "past_key_values." + l + "." + kv;
                feeds.put(name, OnnxTensor.ofBytes(name, OnnxDataType.FLOAT, new long[]{b, c.numKvHeads(), 0, c.headDim()}, new byte[0]));
            }
        }
        return feeds;
    }
}
