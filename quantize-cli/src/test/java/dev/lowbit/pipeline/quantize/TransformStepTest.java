package dev.lowbit.pipeline.quantize;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lowbit.io.BadInputException;
import dev.lowbit.io.SharedData;
import dev.lowbit.io.arch.TensorRole;
import dev.lowbit.io.hf.DequantizingSource;
import dev.lowbit.io.quant.QuantScheme;
import dev.lowbit.io.safetensors.ShardedSafetensors;
import dev.lowbit.io.tensor.DType;
import dev.lowbit.io.tensor.TensorSource;
import dev.lowbit.pipeline.recipe.Output;
import dev.lowbit.pipeline.recipe.Recipe;
import dev.lowbit.pipeline.recipe.Step;
import dev.lowbit.pipeline.steps.Param;
import dev.lowbit.pipeline.steps.StepRegistry;
import dev.lowbit.pipeline.steps.StepType;
import dev.lowbit.ptq.rtn.Rtn;
import dev.lowbit.ptq.transform.ChannelStatistics;
import dev.lowbit.ptq.transform.LayerContext;
import dev.lowbit.ptq.transform.LayerLoss;
import dev.lowbit.ptq.transform.Statistic;
import dev.lowbit.ptq.transform.TensorSet;
import dev.lowbit.ptq.transform.WeightTransform;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Transform steps run from the recipe, per layer, before the quantizer, and what they change is written. The transform
 * here is the smallest real one: SmoothQuant's fold on the input-norm → q/k/v balance with fixed scales s_c,
 * γ_c ← γ_c / s_c and W[:, c] ← W[:, c]·s_c, which leaves the layer's function unchanged in exact arithmetic.
 */
class TransformStepTest {
    static final Path MODEL = SharedData.tinyLlama();

    @TempDir
    Path tmp;

    /** What the balance transform saw, for the test to check. */
    static final class Seen {
        final List<Integer> layers = new ArrayList<>();
        ChannelStatistics stats;
        /** mean |x| of layer 1's q/k/v input, as the statistics pass measured it. */
        double[] layer1MeanAbs;
        double lossSame = Double.NaN, lossBroken = Double.NaN, lossQuantized = Double.NaN;
        /** Sub-block losses: see {@link #calibratedTransformGetsStatisticsAndABlockLoss}. */
        double blockSame = Double.NaN, blockQuantized = Double.NaN, downAlone = Double.NaN, downInMlp = Double.NaN,
                afterFold = Double.NaN, staleSpace = Double.NaN;
    }

    /** s_c = 1 + (c mod 7)/4: fixed, far from 1, so a missing or double fold shows. */
    static float scale(int c) {
        return 1 + (c % 7) / 4f;
    }

    static final class Balance implements WeightTransform {
        final boolean calibrated;
        final boolean fpInputs;
        final Seen seen;

        Balance(boolean calibrated, boolean fpInputs, Seen seen) {
            this.calibrated = calibrated;
            this.fpInputs = fpInputs;
            this.seen = seen;
        }

        @Override
        public boolean fullPrecisionInputs() {
            return fpInputs;
        }

        @Override
        public String name() {
            return "balance";
        }

        @Override
        public Set<Statistic> statistics() {
            return calibrated ? Set.of(Statistic.MEAN_ABS, Statistic.MAX_ABS) : Set.of();
        }

        @Override
        public boolean usesLoss() {
            return calibrated;
        }

        @Override
        public void transformLayer(LayerContext ctx) {
            seen.layers.add(ctx.layer());
            if (calibrated && ctx.layer() == 1) seen.layer1MeanAbs = ctx.statistics(TensorRole.Q).meanAbs();
            TensorSet t = ctx.tensors();
            TensorSet candidate = t.copy();
            fold(ctx, candidate);
            if (calibrated && ctx.layer() == 0) {
                seen.stats = ctx.statistics(TensorRole.K);
                seen.lossSame = ctx.loss().loss(candidate, false);
                seen.lossQuantized = ctx.loss().loss(candidate, true);
                TensorSet broken = t.copy();
                float[] g = broken.edit(ctx.name(TensorRole.INPUT_NORM, false));
                for (int c = 0; c < g.length; c++) g[c] /= scale(c); // the norm without the Linears
                seen.lossBroken = ctx.loss().loss(broken, false);
                LayerLoss loss = ctx.loss();
                String q = ctx.name(TensorRole.Q, false), down = ctx.name(TensorRole.DOWN, false);
                seen.blockSame = loss.blockLoss(LayerLoss.Block.ATTENTION, Map.of(TensorRole.Q, t.read(q).clone()));
                seen.blockQuantized = loss.blockLoss(LayerLoss.Block.ATTENTION, Map.of(TensorRole.Q, loss.fakeQuantize(TensorRole.Q, t.read(q))));
                float[] downQ = loss.fakeQuantize(TensorRole.DOWN, t.read(down));
                seen.downAlone = loss.blockLoss(LayerLoss.Block.DOWN, Map.of(TensorRole.DOWN, downQ));
                seen.downInMlp = loss.blockLoss(LayerLoss.Block.MLP, Map.of(TensorRole.DOWN, downQ));
                float[] unfolded = t.read(q).clone();
                fold(ctx, t);
                // the block now runs with the folded norm: the folded q is the fp block again, the unfolded one is not
                seen.afterFold = loss.blockLoss(LayerLoss.Block.ATTENTION, Map.of(TensorRole.Q, t.read(q).clone()));
                seen.staleSpace = loss.blockLoss(LayerLoss.Block.ATTENTION, Map.of(TensorRole.Q, unfolded));
                return;
            }
            fold(ctx, t);
        }

        static void fold(LayerContext ctx, TensorSet t) {
            float[] g = t.edit(ctx.name(TensorRole.INPUT_NORM, false));
            for (int c = 0; c < g.length; c++) g[c] /= scale(c);
            for (TensorRole r : List.of(TensorRole.Q, TensorRole.K, TensorRole.V)) {
                String n = ctx.name(r, false);
                float[] w = t.edit(n);
                int cols = (int) t.shape(n)[1];
                for (int i = 0; i < w.length; i++) w[i] *= scale(i % cols);
            }
        }
    }

    static StepRegistry registry(Seen seen) {
        List<StepType> types = new ArrayList<>(StepRegistry.DEFAULT.all());
        types.add(new StepType() {
            @Override
            public String name() {
                return "balance";
            }

            @Override
            public Role role() {
                return Role.TRANSFORM;
            }

            @Override
            public String description() {
                return "test: fixed input-norm → q/k/v fold";
            }

            @Override
            public List<Param> params() {
                return List.of(Param.ofBool("calibrated", false, "ask for statistics and score with the layer loss"),
                        Param.ofBool("fp_inputs", false, "let the next layer calibrate on the fp outputs"));
            }

            @Override
            public Configured configure(String source, Step step, Output output) {
                var p = StepRegistry.resolve(source, "step 'balance'", step.params(), params(), params(), "");
                boolean calibrated = p.get("calibrated").booleanValue();
                boolean fpInputs = p.get("fp_inputs").booleanValue();
                Step resolved = step.withParams(p);
                return new TransformStep() {
                    @Override
                    public Step step() {
                        return resolved;
                    }

                    @Override
                    public WeightTransform transform() {
                        return new Balance(calibrated, fpInputs, seen);
                    }
                };
            }
        });
        return new StepRegistry(types);
    }

    static Step step(String type, String json) throws IOException {
        var p = (com.fasterxml.jackson.databind.node.ObjectNode) new com.fasterxml.jackson.databind.ObjectMapper().readTree(json);
        return new Step(type, List.of(), List.of(), p);
    }

    /** Data-free: the norm is written in f32 as folded, and q/k/v are the RTN of the folded weights. */
    @Test
    void transformRunsBeforeTheQuantizerAndItsChangesAreWritten() throws IOException {
        Seen seen = new Seen();
        StepRegistry registry = registry(seen);
        Recipe recipe = new Recipe(List.of(step("balance", "{}"), step("rtn", "{\"bits\": 4, \"group_size\": 128}")),
                List.of(), null, Output.of(Output.GPTQ), 0).validate("test", registry);
        Path out = tmp.resolve("balanced");
        QuantizePipeline.run(MODEL, out, recipe, null, false, 2, QuantizePipeline.Listener.NONE, registry);
        assertEquals(List.of(0, 1, 2, 3, 4, 5), seen.layers);
        QuantScheme scheme = new QuantScheme(4, 128, false);
        try (TensorSource original = ShardedSafetensors.open(MODEL);
             TensorSource written = DequantizingSource.openDirectory(out);
             TensorSource rawOut = ShardedSafetensors.open(out)) {
            for (int layer : new int[] {0, 5}) {
                String norm = "model.layers." + layer + ".input_layernorm.weight";
                assertEquals(DType.F32, rawOut.tensor(norm).dtype(), "a changed tensor is written in f32");
                float[] g = original.tensor(norm).toFloatArray();
                for (int c = 0; c < g.length; c++) g[c] /= scale(c);
                assertArrayEquals(g, rawOut.tensor(norm).toFloatArray(), 0f, norm);
                String q = "model.layers." + layer + ".self_attn.q_proj.weight";
                var t = original.tensor(q);
                int rows = (int) t.shape().dim(0), cols = (int) t.shape().dim(1);
                float[] w = t.toFloatArray();
                for (int i = 0; i < w.length; i++) w[i] *= scale(i % cols);
                var expected = Rtn.rtn(q, w, rows, cols, scheme);
                float[] got = written.tensor(q).toFloatArray();
                float[] want = expected.dequantize();
                // scales are stored in f16: compare within one f16 rounding of the scale (2⁻¹¹ relative) per weight
                for (int i = 0; i < got.length; i += 97) {
                    assertEquals(want[i], got[i], Math.abs(want[i]) * 1e-3 + 1e-6, q + "[" + i + "]");
                }
                // an untouched tensor keeps its source bytes and dtype
                String post = "model.layers." + layer + ".post_attention_layernorm.weight";
                assertEquals(original.tensor(post).dtype(), rawOut.tensor(post).dtype());
            }
        }
        assertTrue(Files.readString(out.resolve("recipe.json")).contains("\"type\" : \"balance\""));
    }

    /**
     * Calibrated: the transform gets the statistics it asked for and a loss that runs the block. The fold is
     * function-preserving, so its loss is at f32 rounding level (≪ 1e-6 of the mean squared activation) while folding
     * the norm alone is not; fake-quantized 4-bit weights cost more than f32 rounding.
     */
    @Test
    void calibratedTransformGetsStatisticsAndABlockLoss() throws IOException {
        Path calib = tmp.resolve("calib.txt");
        Files.writeString(calib, Files.readString(SharedData.root().resolve("data/calib_code.txt")).substring(0, 20_000));
        Seen seen = new Seen();
        StepRegistry registry = registry(seen);
        Recipe recipe = new Recipe(List.of(step("balance", "{\"calibrated\": true}"), step("rtn", "{}")), List.of(),
                new Recipe.Calibration(calib.toString(), 2, 64, false), Output.of(Output.GPTQ), 0).validate("test", registry);
        QuantizePipeline.run(MODEL, tmp.resolve("o"), recipe, null, false, 2, QuantizePipeline.Listener.NONE, registry);
        assertEquals(List.of(0, 1, 2, 3, 4, 5), seen.layers);
        assertNotNull(seen.stats);
        assertEquals(2 * 64, seen.stats.tokens());
        assertEquals(512, seen.stats.meanAbs().length);
        for (int c = 0; c < 512; c++) assertTrue(seen.stats.maxAbs()[c] >= seen.stats.meanAbs()[c], "max |x| ≥ mean |x|");
        assertEquals(null, seen.stats.hessian());
        assertTrue(seen.lossSame < 1e-9, "function-preserving fold: " + seen.lossSame);
        assertTrue(seen.lossBroken > 1e3 * Math.max(seen.lossSame, 1e-12), "broken fold: " + seen.lossBroken);
        assertTrue(seen.lossQuantized > 1e3 * Math.max(seen.lossSame, 1e-12), "4-bit fake quantization: " + seen.lossQuantized);
        // sub-block losses: the same weights run the same kernels on the same sample, so exactly 0
        assertEquals(0.0, seen.blockSame, "unchanged q_proj on the attention block");
        assertTrue(seen.blockQuantized > 1e-9, "4-bit q_proj on the attention block: " + seen.blockQuantized);
        // down_proj alone (one matmul on its cached input) and inside the MLP (the runner's MLP) are two computations
        // of the same output: equal up to f32 accumulation order (relative 1e-3 is far below what any bug would give)
        assertTrue(seen.downAlone > 1e-9, "4-bit down_proj: " + seen.downAlone);
        assertEquals(seen.downInMlp, seen.downAlone, 1e-3 * seen.downAlone, "down_proj alone vs in the MLP");
        // after the fold the reference is recomputed with the folded norm: f32 rounding only, while q_proj in the
        // old input space (the norm folded, q not) is wrong by far more
        assertTrue(seen.afterFold < 1e-3 * seen.blockQuantized, "folded q_proj with the folded norm: " + seen.afterFold);
        assertTrue(seen.staleSpace > 10 * seen.blockQuantized, "unfolded q_proj with the folded norm: " + seen.staleSpace);
    }

    /**
     * {@link WeightTransform#fullPrecisionInputs()}: before RTN, layer 1 is calibrated on layer 0's fp outputs (the
     * statistics pass's), so its statistics are those of the unquantized model (a recipe of the transform alone), up
     * to the f32 rounding of running the folded instead of the loaded layer (relative 1e-4 is far below what a 2-bit
     * layer 0 changes); without it, layer 1 sees the 2-bit layer 0's outputs, which move its mean |x| by percents.
     */
    @Test
    void fullPrecisionInputsCalibrateTheNextLayerOnFpOutputs() throws IOException {
        Path calib = tmp.resolve("calib.txt");
        Files.writeString(calib, Files.readString(SharedData.root().resolve("data/calib_code.txt")).substring(0, 20_000));
        double[] fp = layer1MeanAbs(calib, "{\"calibrated\": true}", null, Output.SAFETENSORS);
        double[] fpFed = layer1MeanAbs(calib, "{\"calibrated\": true, \"fp_inputs\": true}", "{\"bits\": 2, \"group_size\": 128}", Output.GPTQ);
        double[] quantFed = layer1MeanAbs(calib, "{\"calibrated\": true}", "{\"bits\": 2, \"group_size\": 128}", Output.GPTQ);
        double worstFp = 0, worstQuant = 0;
        for (int c = 0; c < fp.length; c++) {
            worstFp = Math.max(worstFp, Math.abs(fpFed[c] - fp[c]) / fp[c]);
            worstQuant = Math.max(worstQuant, Math.abs(quantFed[c] - fp[c]) / fp[c]);
        }
        assertTrue(worstFp < 1e-4, "fp-fed layer 1 vs the fp model: " + worstFp);
        assertTrue(worstQuant > 1e-2, "quantized-fed layer 1 vs the fp model: " + worstQuant);
    }

    /** The clip search's Gram sample: ⌈tokens / batch⌉ batches spread over the text, all of them for 0 or too many. */
    @Test
    void hessianSampleSpreadsWholeBatches() {
        // 16 batches of 8 × 512 tokens (128 windows), 16384 tokens: 4 batches, one per quarter
        assertArrayEquals(new boolean[] {true, false, false, false, true, false, false, false, true, false, false, false,
                true, false, false, false}, LayerTransforms.hessianBatches(16, 4096, 16384));
        // a partial batch's worth still takes a whole batch
        assertEquals(2, count(LayerTransforms.hessianBatches(16, 4096, 4097)));
        assertEquals(16, count(LayerTransforms.hessianBatches(16, 4096, 0)));
        assertEquals(3, count(LayerTransforms.hessianBatches(3, 4096, 1 << 20)));
    }

    private static int count(boolean[] b) {
        int n = 0;
        for (boolean x : b) if (x) n++;
        return n;
    }

    private double[] layer1MeanAbs(Path calib, String balance, String rtn, String format) throws IOException {
        Seen seen = new Seen();
        StepRegistry registry = registry(seen);
        List<Step> steps = rtn == null ? List.of(step("balance", balance)) : List.of(step("balance", balance), step("rtn", rtn));
        Recipe recipe = new Recipe(steps, List.of(), new Recipe.Calibration(calib.toString(), 2, 64, false), Output.of(format), 0)
                .validate("test", registry);
        QuantizePipeline.run(MODEL, tmp.resolve("o-" + seen.hashCode()), recipe, null, false, 2, QuantizePipeline.Listener.NONE, registry);
        assertNotNull(seen.layer1MeanAbs);
        return seen.layer1MeanAbs;
    }

    /**
     * A recipe of transforms only writes the transformed fp checkpoint (format safetensors): the changed tensors in
     * f32, every other tensor with its source bytes, the source's config.json without a quantization_config.
     */
    @Test
    void transformsOnlyWriteTheFpCheckpoint() throws IOException {
        Seen seen = new Seen();
        StepRegistry registry = registry(seen);
        Recipe recipe = new Recipe(List.of(step("balance", "{}")), List.of(), null, Output.of(Output.SAFETENSORS), 0)
                .validate("test", registry);
        Path out = tmp.resolve("fp");
        QuantizePipeline.run(MODEL, out, recipe, null, false, 2, QuantizePipeline.Listener.NONE, registry);
        try (TensorSource original = ShardedSafetensors.open(MODEL); TensorSource written = ShardedSafetensors.open(out)) {
            assertEquals(original.names().stream().sorted().toList(), written.names().stream().sorted().toList());
            int changed = 0;
            for (String name : original.names()) {
                boolean folded = name.endsWith("input_layernorm.weight") || name.matches(".*\\.(q|k|v)_proj\\.weight");
                if (!folded) {
                    assertArrayEquals(original.tensor(name).data().toArray(java.lang.foreign.ValueLayout.JAVA_BYTE),
                            written.tensor(name).data().toArray(java.lang.foreign.ValueLayout.JAVA_BYTE), name);
                    continue;
                }
                assertEquals(DType.F32, written.tensor(name).dtype(), name);
                float[] w = original.tensor(name).toFloatArray();
                long[] shape = original.tensor(name).shape().dims();
                int cols = (int) shape[shape.length - 1];
                for (int i = 0; i < w.length; i++) {
                    w[i] = name.endsWith("layernorm.weight") ? w[i] / scale(i % cols) : w[i] * scale(i % cols);
                }
                assertArrayEquals(w, written.tensor(name).toFloatArray(), 0f, name);
                changed++;
            }
            assertEquals(6 * 4, changed);
        }
        String config = Files.readString(out.resolve("config.json"));
        assertTrue(!config.contains("quantization_config"), config);
        BadInputException quantizes = org.junit.jupiter.api.Assertions.assertThrows(BadInputException.class,
                () -> new Recipe(List.of(step("balance", "{}"), step("rtn", "{}")), List.of(), null,
                        Output.of(Output.SAFETENSORS), 0).validate("test", registry));
        assertTrue(quantizes.userMessage().contains("fp checkpoint of a recipe of transforms only"), quantizes.userMessage());
    }
}
