package dev.lowbit.pipeline.awq;

import ai.djl.ndarray.NDArray;
import dev.lowbit.calib.model.Architecture;
import dev.lowbit.calib.model.Linear;
import dev.lowbit.calib.model.LinearInput;
import dev.lowbit.calib.model.LlamaConfig;
import dev.lowbit.calib.model.LlamaRunner;
import dev.lowbit.io.quant.QuantScheme;
import dev.lowbit.ptq.awq.AwqClipSearch;
import dev.lowbit.ptq.awq.AwqScaleSearch;
import dev.lowbit.ptq.awq.FakeQuantizer;
import dev.lowbit.ptq.rtn.Rtn;
import dev.lowbit.ptq.scheme.GroupQuantizer;
import dev.lowbit.ptq.smooth.ScaleFold;
import dev.lowbit.ptq.smooth.SmoothQuant;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Runs AWQ (scale search + clip search) or SmoothQuant over a model, layer by layer, on the full-precision outputs of
 * the already transformed previous layer (llm-awq's order), and returns the tensors it rewrote. The balance mappings
 * are the architecture table's (input_layernorm → q,k,v; v → o when the shapes allow; post_attention_layernorm →
 * gate,up; up → down); a mapping whose shapes do not fit is skipped with a one-line notice.
 * <pre>
 *   h = embed(windows)
 *   per layer: statistics of every Linear input over all windows (mean |x| for AWQ, max |x| for SmoothQuant)
 *              per mapping: AWQ: search α on the sample windows by the MSE of the inspected block
 *                                 (attention output, o_proj output, MLP output, down_proj output)
 *                           SmoothQuant: s = max|x|^α / max|W|^(1−α)  (α fixed, or searched on the grid by the same MSE)
 *                           fold s into the producer and the balanced Linears (the runner runs the folded model)
 *              AWQ clip: every Linear but q,k, on the scaled inputs of the sample windows
 *              h = layer(h) with the transformed fp weights
 * </pre>
 * The transformed fp model computes what the original did (scale moves are exact up to f32 rounding; only the clip
 * changes weights).
 */
public final class BalancePass {
    public enum Method { AWQ, SMOOTH }

    /**
     * @param scheme        the target weight grid the AWQ search quantizes with (null for SmoothQuant without search)
     * @param grid          α points (AWQ: 20 → i/20; SmoothQuant search: i/grid, i = 1..grid−1)
     * @param duo           AWQ: AutoAWQ's weight-normalised scales
     * @param clip          AWQ: run the clip search
     * @param alpha         SmoothQuant α; NaN = search it per mapping
     * @param mappings      which balance mappings to use (subset of {@link Mapping#values()})
     * @param searchWindows windows (from the start) that score candidates and feed the clip search
     * @param quantizer     quantize-dequantize under the target scheme (AWQ search and clip)
     */
    public record Options(Method method, QuantScheme scheme, int grid, boolean duo, boolean clip, double alpha,
                          List<Mapping> mappings, int searchWindows, FakeQuantizer quantizer) {
        public static Options awq(QuantScheme scheme, boolean clip) {
            return new Options(Method.AWQ, scheme, 20, true, clip, Double.NaN, List.of(Mapping.values()), 16,
                    (w, r, c) -> Rtn.rtn("awq-search", w, r, c, scheme).dequantize());
        }

        public static Options smooth(double alpha, List<Mapping> mappings) {
            return new Options(Method.SMOOTH, null, 20, false, false, alpha, mappings, 16, null);
        }
    }

    /** A balance mapping of the architecture table in runner terms. */
    public enum Mapping {
        QKV(null, LinearInput.QKV), VO(Linear.V, LinearInput.O), GATE_UP(null, LinearInput.GATE_UP), DOWN(Linear.UP, LinearInput.DOWN);

        final Linear producer; // null: the norm before the input
        final LinearInput input;

        Mapping(Linear producer, LinearInput input) {
            this.producer = producer;
            this.input = input;
        }
    }

    /** What the pass did per layer and mapping: the chosen α (NaN = identity), and the seconds the layer took. */
    public record Report(Map<String, Double> alphas, List<String> notices, double[] layerSeconds, int clippedGroups) {}

    /** The rewritten tensors by Hugging Face name (f32), and the report. */
    public record Result(Map<String, float[]> tensors, Report report) {}

    private BalancePass() {}

    public static Result run(LlamaRunner runner, int[][] windows, int batch, Options o, Consumer<String> listener) {
        LlamaConfig config = runner.config();
        Architecture arch = config.architecture();
        List<NDArray> hidden = new ArrayList<>();
        for (int from = 0; from < windows.length; from += batch) {
            hidden.add(runner.embed(java.util.Arrays.copyOfRange(windows, from, Math.min(windows.length, from + batch))));
        }
        int sampleBatches = Math.max(1, Math.min(hidden.size(), Math.ceilDiv(o.searchWindows(), batch)));
        Map<String, float[]> out = new LinkedHashMap<>();
        Map<String, Double> alphas = new LinkedHashMap<>();
        List<String> notices = new ArrayList<>();
        double[] seconds = new double[config.numLayers()];
        int clipped = 0;
        try {
            for (int layer = 0; layer < config.numLayers(); layer++) {
                long t0 = System.nanoTime();
                Map<LinearInput, float[]> stats = statistics(runner, layer, hidden, o.method());
                StringBuilder phases = new StringBuilder(String.format(java.util.Locale.ROOT, "stats %.1f", (System.nanoTime() - t0) / 1e9));
                for (Mapping m : o.mappings()) {
                    String name = mappingName(arch, layer, m);
                    String skip = skipReason(runner, m);
                    if (skip != null) {
                        if (layer == 0) notices.add("skipped " + m.name().toLowerCase(java.util.Locale.ROOT) + " mapping (" + name + "): " + skip);
                        continue;
                    }
                    long tm = System.nanoTime();
                    double alpha = balance(runner, layer, m, stats.get(m.input), hidden.subList(0, sampleBatches), o);
                    alphas.put(name, alpha);
                    phases.append(String.format(java.util.Locale.ROOT, ", %s %.1f (α %s)", m.name().toLowerCase(java.util.Locale.ROOT),
                            (System.nanoTime() - tm) / 1e9, Double.isNaN(alpha) ? "-" : String.format(java.util.Locale.ROOT, "%.2f", alpha)));
                }
                if (o.method() == Method.AWQ && o.clip()) {
                    long tc = System.nanoTime();
                    clipped += clip(runner, layer, hidden.subList(0, sampleBatches), o);
                    phases.append(String.format(java.util.Locale.ROOT, ", clip %.1f", (System.nanoTime() - tc) / 1e9));
                }
                collect(runner, arch, layer, out);
                for (int i = 0; i < hidden.size(); i++) {
                    NDArray next = runner.runLayer(layer, hidden.get(i), (l, in, x) -> {});
                    hidden.get(i).close();
                    hidden.set(i, next);
                }
                runner.releaseLayer(layer);
                seconds[layer] = (System.nanoTime() - t0) / 1e9;
                listener.accept(String.format(java.util.Locale.ROOT, "layer %d/%d %s (%.1f s: %s s)", layer + 1, config.numLayers(),
                        o.method() == Method.AWQ ? "awq" : "smooth", seconds[layer], phases));
            }
        } finally {
            hidden.forEach(NDArray::close);
        }
        return new Result(out, new Report(alphas, notices, seconds, clipped));
    }

    static String mappingName(Architecture arch, int layer, Mapping m) {
        String to = String.join(",", m.input.readers().stream().map(l -> arch.linearName(layer, l)).toList());
        String from = m.producer != null ? arch.linearName(layer, m.producer)
                : arch.layerTensor(layer, m == Mapping.QKV ? arch.inputNorm() : arch.postAttentionNorm());
        return from + " -> " + to;
    }

    /** Why a mapping cannot be folded in this model (null if it can): the producer's rows must be the Linears' inputs. */
    static String skipReason(LlamaRunner runner, Mapping m) {
        if (m.producer == null) return null;
        long rows = runner.linearShape(m.producer)[0];
        long cols = runner.linearShape(m.input.readers().getFirst())[1];
        if (rows == cols) return null;
        return m.producer.name().toLowerCase(java.util.Locale.ROOT) + "_proj has " + rows + " output rows but "
                + m.input.readers().getFirst().name().toLowerCase(java.util.Locale.ROOT) + "_proj reads " + cols
                + " inputs (grouped-query attention)";
    }

    /** mean |x| (AWQ) or max |x| (SmoothQuant) per channel of each Linear input, over every window. */
    private static Map<LinearInput, float[]> statistics(LlamaRunner runner, int layer, List<NDArray> hidden, Method method) {
        Map<LinearInput, double[]> acc = new EnumMap<>(LinearInput.class);
        long[] rows = new long[LinearInput.values().length];
        for (NDArray h : hidden) {
            runner.runLayer(layer, h, (l, in, x) -> {
                float[] v = method == Method.AWQ ? x.abs().sum(new int[] {0}).toFloatArray() : x.abs().max(new int[] {0}).toFloatArray();
                double[] a = acc.computeIfAbsent(in, k -> new double[v.length]);
                for (int j = 0; j < v.length; j++) a[j] = method == Method.AWQ ? a[j] + v[j] : Math.max(a[j], v[j]);
                rows[in.ordinal()] += x.getShape().get(0);
            }, LinearInput.DOWN);
        }
        Map<LinearInput, float[]> out = new EnumMap<>(LinearInput.class);
        acc.forEach((in, a) -> {
            float[] f = new float[a.length];
            for (int j = 0; j < a.length; j++) f[j] = (float) (method == Method.AWQ ? a[j] / rows[in.ordinal()] : a[j]);
            out.put(in, f);
        });
        return out;
    }

    /** Searches (or computes) the scales of one mapping, folds them into the runner's weights; returns the α (NaN: none). */
    private static double balance(LlamaRunner runner, int layer, Mapping m, float[] stat, List<NDArray> sample, Options o) {
        List<Linear> readers = m.input.readers();
        List<AwqScaleSearch.Balanced> balanced = new ArrayList<>();
        for (Linear l : readers) {
            long[] shape = runner.linearShape(l);
            balanced.add(new AwqScaleSearch.Balanced(l.name(), runner.linearWeight(layer, l), (int) shape[0], (int) shape[1]));
        }
        BlockLoss loss = o.method() == Method.AWQ || Double.isNaN(o.alpha()) ? new BlockLoss(runner, layer, m, sample) : null;
        float[] s;
        double alpha;
        try {
            if (o.method() == Method.AWQ) {
                AwqScaleSearch.Result r = AwqScaleSearch.search(stat, balanced,
                        new AwqScaleSearch.Config(o.grid(), o.duo(), o.scheme().groupSize()), o.quantizer(), loss);
                s = r.scales();
                alpha = r.alpha();
            } else if (!Double.isNaN(o.alpha())) {
                s = SmoothQuant.scales(stat, balanced.stream().map(AwqScaleSearch.Balanced::weight).toList(), o.alpha());
                alpha = o.alpha();
            } else {
                // α search: the fold is exact, so score each α by the block's output with activations quantized as the runner does
                double best = loss.loss(balanced.stream().map(AwqScaleSearch.Balanced::weight).toList());
                s = null;
                alpha = Double.NaN;
                for (int i = 1; i < o.grid(); i++) {
                    double a = (double) i / o.grid();
                    float[] cand = SmoothQuant.scales(stat, balanced.stream().map(AwqScaleSearch.Balanced::weight).toList(), a);
                    double l = loss.smoothed(cand);
                    if (l < best) {
                        best = l;
                        s = cand;
                        alpha = a;
                    }
                }
                if (s == null) return Double.NaN;
            }
        } finally {
            if (loss != null) loss.close();
        }
        fold(runner, layer, m, balanced, s);
        return alpha;
    }

    /** Producer ÷ s, balanced columns × s, in the runner. */
    static void fold(LlamaRunner runner, int layer, Mapping m, List<AwqScaleSearch.Balanced> balanced, float[] s) {
        Architecture arch = runner.config().architecture();
        if (m.producer == null) {
            String norm = arch.layerTensor(layer, m == Mapping.QKV ? arch.inputNorm() : arch.postAttentionNorm());
            float[] gamma = runner.tensor(norm);
            ScaleFold.divideNorm(gamma, null, s);
            runner.setTensor(norm, gamma);
        } else {
            long[] shape = runner.linearShape(m.producer);
            float[] w = runner.linearWeight(layer, m.producer);
            String biasName = arch.linearName(layer, m.producer) + ".bias";
            float[] bias = runner.hasTensor(biasName) ? runner.tensor(biasName) : null;
            ScaleFold.divideRows(w, (int) shape[0], (int) shape[1], bias, s);
            runner.setLinearWeight(layer, m.producer, w);
            if (bias != null) runner.setTensor(biasName, bias);
        }
        for (int i = 0; i < balanced.size(); i++) {
            AwqScaleSearch.Balanced b = balanced.get(i);
            float[] w = b.weight().clone();
            ScaleFold.multiplyColumns(w, b.rows(), b.cols(), s);
            runner.setLinearWeight(layer, m.input.readers().get(i), w);
        }
    }

    /** AWQ clip search for every Linear but q and k, on the inputs it reads now (after the folds). */
    private static int clip(LlamaRunner runner, int layer, List<NDArray> sample, Options o) {
        Map<LinearInput, List<float[]>> inputs = new EnumMap<>(LinearInput.class);
        for (NDArray h : sample) {
            runner.runLayer(layer, h, (l, in, x) -> inputs.computeIfAbsent(in, k -> new ArrayList<>()).add(subsample(x, 4096 / sample.size())),
                    LinearInput.DOWN);
        }
        int clipped = 0;
        QuantScheme scheme = o.scheme();
        int maxq = scheme.maxq();
        AwqClipSearch.GroupRounding rounding = (v, from, to) -> {
            float[] sc = new float[1], z = new float[1];
            GroupQuantizer.findParams(v, to, 1, from, to, scheme, null, sc, z);
            for (int c = from; c < to; c++) v[c] = GroupQuantizer.dequantize(GroupQuantizer.quantize(v[c], sc[0], z[0], maxq), sc[0], z[0]);
        };
        for (Linear l : Linear.values()) {
            if (l == Linear.Q || l == Linear.K) continue;
            List<float[]> xs = inputs.get(l.input());
            long[] shape = runner.linearShape(l);
            int cols = (int) shape[1];
            int tokens = 0;
            for (float[] x : xs) tokens += x.length / cols;
            float[] x = new float[tokens * cols];
            int at = 0;
            for (float[] part : xs) {
                System.arraycopy(part, 0, x, at, part.length);
                at += part.length;
            }
            AwqClipSearch.Result r = AwqClipSearch.search(runner.linearWeight(layer, l), (int) shape[0], cols,
                    scheme.groupSize(), x, tokens, AwqClipSearch.Config.defaults(), rounding);
            runner.setLinearWeight(layer, l, r.clipped());
            clipped += r.clippedGroups();
        }
        return clipped;
    }

    /** Every k-th row of {@code x [rows, cols]} so that about {@code target} rows remain (AutoAWQ samples with a stride). */
    private static float[] subsample(NDArray x, int target) {
        long rows = x.getShape().get(0);
        long stride = Math.max(1, rows / Math.max(1, target));
        if (stride == 1) return x.toFloatArray();
        return x.get(new ai.djl.ndarray.index.NDIndex("::{}", stride)).toFloatArray();
    }

    /** Writes the layer's tensors as the runner now has them (norms, Linear weights, biases), f32. */
    private static void collect(LlamaRunner runner, Architecture arch, int layer, Map<String, float[]> out) {
        out.put(arch.layerTensor(layer, arch.inputNorm()), runner.tensor(arch.layerTensor(layer, arch.inputNorm())));
        out.put(arch.layerTensor(layer, arch.postAttentionNorm()), runner.tensor(arch.layerTensor(layer, arch.postAttentionNorm())));
        for (Linear l : Linear.values()) {
            out.put(arch.linearName(layer, l) + ".weight", runner.linearWeight(layer, l));
            String bias = arch.linearName(layer, l) + ".bias";
            if (runner.hasTensor(bias)) out.put(bias, runner.tensor(bias));
        }
    }

    /**
     * MSE of the inspected block's output on the sample, candidate weights against the current (fp) ones: the
     * attention sub-block for q,k,v; o_proj for v→o; the MLP for gate,up; down_proj for up→down.
     */
    static final class BlockLoss implements AwqScaleSearch.Loss, AutoCloseable {
        private final LlamaRunner runner;
        private final int layer;
        private final Mapping m;
        private final List<NDArray> inputs = new ArrayList<>();
        private final List<NDArray> reference = new ArrayList<>();
        private final List<float[]> original = new ArrayList<>();

        BlockLoss(LlamaRunner runner, int layer, Mapping m, List<NDArray> sample) {
            this.runner = runner;
            this.layer = layer;
            this.m = m;
            for (Linear l : m.input.readers()) original.add(runner.linearWeight(layer, l));
            for (NDArray h : sample) {
                NDArray in;
                if (m == Mapping.QKV) {
                    in = h;
                } else {
                    NDArray[] captured = new NDArray[1];
                    runner.runLayer(layer, h, (l, i, x) -> {
                        if (i == m.input) {
                            captured[0] = x.duplicate();
                            ai.djl.ndarray.NDScope.unregister(captured[0]);
                        }
                    }, m.input);
                    in = captured[0];
                }
                inputs.add(in);
                try (ai.djl.ndarray.NDScope scope = new ai.djl.ndarray.NDScope()) {
                    NDArray ref = forward(in);
                    ai.djl.ndarray.NDScope.unregister(ref);
                    reference.add(ref);
                }
            }
        }

        private NDArray forward(NDArray in) {
            return switch (m) {
                case QKV -> runner.attention(layer, in);
                case GATE_UP -> runner.mlp(layer, in);
                case VO, DOWN -> in.matMul(weightArray(m.input.readers().getFirst()).transpose());
            };
        }

        private NDArray weightArray(Linear l) {
            long[] shape = runner.linearShape(l);
            return runner.manager().create(runner.linearWeight(layer, l), new ai.djl.ndarray.types.Shape(shape));
        }

        @Override
        public double loss(List<float[]> candidates) {
            List<Linear> readers = m.input.readers();
            for (int i = 0; i < readers.size(); i++) runner.setLinearWeight(layer, readers.get(i), candidates.get(i));
            double sum = 0;
            long n = 0;
            try {
                for (int b = 0; b < inputs.size(); b++) {
                    // forward results of the runner's sub-blocks escape every scope: closed here; the rest dies with the scope
                    try (ai.djl.ndarray.NDScope scope = new ai.djl.ndarray.NDScope()) {
                        NDArray y = forward(inputs.get(b));
                        NDArray d = y.sub(reference.get(b));
                        sum += d.square().sum().toType(ai.djl.ndarray.types.DataType.FLOAT64, false).getDouble();
                        n += d.size();
                        if (m == Mapping.QKV || m == Mapping.GATE_UP) y.close();
                    }
                }
            } finally {
                for (int i = 0; i < readers.size(); i++) runner.setLinearWeight(layer, readers.get(i), original.get(i));
            }
            return sum / n;
        }

        /**
         * SmoothQuant α search: the folded model computes the same function, so a candidate s is scored by folding it
         * (producer included) and running the block with the runner's activation quantization, then undoing the fold.
         */
        double smoothed(float[] s) {
            throw new UnsupportedOperationException("SmoothQuant α search is not implemented yet");
        }

        @Override
        public void close() {
            for (int b = 0; b < inputs.size(); b++) {
                if (m != Mapping.QKV) inputs.get(b).close();
                reference.get(b).close();
            }
        }
    }
}
