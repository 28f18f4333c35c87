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
        if (req.baseline() != null) throw new BadInputException(req.model(), "--baseline is not supported with an ONNX model yet (evaluate each and compare perplexities)");
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
        double nll = 0;
        long count = 0;
        long tForward;
        try (OrtRunner ort = OrtRunner.of(req.model(), threads)) {
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
                for (int w = 0; w < b; w++) {
                    for (int j = first; j < t - 1; j++) {
                        long row = ((long) w * t + j) * v;
                        double max = Double.NEGATIVE_INFINITY;
                        for (int k = 0; k < v; k++) max = Math.max(max, z.getAtIndex(F32, row + k));
                        double sum = 0;
                        for (int k = 0; k < v; k++) sum += Math.exp(z.getAtIndex(F32, row + k) - max);
                        int target = windows[from + w][j + 1];
                        nll -= z.getAtIndex(F32, row + target) - max - Math.log(sum);
                        count++;
                    }
                }
                progress.advance(b);
            }
            tForward = System.nanoTime() - tForward;
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        return new EvalResult(Math.exp(nll / count), tokens.length, windows.length, count, seconds, tForward / 1e9,
                Double.NaN, Double.NaN, Double.NaN, Double.NaN);
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
