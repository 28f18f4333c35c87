package dev.lowbit.pipeline.quantize;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import dev.lowbit.calib.capture.ActivationSpill;
import dev.lowbit.calib.capture.Boundary;
import dev.lowbit.calib.eval.Evaluator;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lowbit.calib.model.LinearHook;
import dev.lowbit.calib.model.LlamaRunner;
import dev.lowbit.io.arch.ModelArchitecture;
import dev.lowbit.io.arch.TensorRole;
import dev.lowbit.pipeline.artifact.ArtifactPlan;
import dev.lowbit.pipeline.recipe.Output;
import dev.lowbit.pipeline.recipe.Step;
import dev.lowbit.pipeline.steps.StepRegistry;
import dev.lowbit.pipeline.steps.StepType;
import dev.lowbit.io.quant.ActivationScheme;
import dev.lowbit.ptq.smooth.SmoothQuant;
import dev.lowbit.ptq.smooth.SmoothQuantTransform;
import dev.lowbit.ptq.transform.TensorSet;
import dev.lowbit.ptq.transform.WeightTransform;
import java.util.EnumSet;
import dev.lowbit.io.model.ModelSource;
import dev.lowbit.io.model.OverlayModelSource;
import dev.lowbit.io.quant.QuantScheme;
import dev.lowbit.io.safetensors.SafetensorsWriter;
import dev.lowbit.io.tensor.Shape;
import dev.lowbit.io.tensor.Tensor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * With quantization switched off, the AWQ- and SmoothQuant-transformed fp model computes what the original did: the
 * transforms only move scale between tensors. Small random models: grouped-query attention with q/k/v biases
 * (Qwen2-style; v→o cannot be folded and is skipped with a notice) and multi-head attention (v→o folded), every
 * mapping of the architecture table.
 */
class TransformEquivalenceTest {
    /**
     * Logits of size ~1–10 computed in f32 through two layers: the fold changes the rounding of every product
     * (scales up to ~1e2 apart), ~1e-6 relative per op; 1e-4 relative (+1e-4 absolute near zero) is the bar
     * and far below what a wrong fold changes (O(1): a scale applied on one side only).
     */
    static final double REL = 1e-4, ABS = 1e-4;

    @TempDir
    Path dir;

    @Test
    void gqaWithBiases() throws Exception {
        Path model = write(dir.resolve("gqa"), 4, 2, true, 11);
        check(model, true);
    }

    @Test
    void multiHeadFoldsVIntoO() throws Exception {
        Path model = write(dir.resolve("mha"), 4, 4, false, 12);
        check(model, false);
    }

    private void check(Path model, boolean gqa) {
        Random rnd = new Random(5);
        int[][] windows = new int[4][24];
        for (int[] w : windows) for (int i = 0; i < w.length; i++) w[i] = rnd.nextInt(VOCAB);
        float[] original = logits(model, windows, null);
        QuantScheme w3 = new QuantScheme(3, 32, false);
        ObjectNode awq = JsonNodeFactory.instance.objectNode().put("clip", false).put("grid", 5).put("clip_bits", 3).put("clip_group_size", 32);
        // AWQ's scale search (no clip: the clip changes weights on purpose), scored with a real 3-bit grid; 5 α points keep it short
        StepType.TransformStep awqStep = (StepType.TransformStep) StepRegistry.DEFAULT.get("test", "awq")
                .configure("test", new Step("awq", List.of(), List.of(), awq), Output.of("gptq"));
        // SmoothQuant at a fixed α on every mapping: both norms, up→down and v→o (skipped under GQA)
        List<String> notices = new ArrayList<>();
        StepType.TransformStep smoothStep = new StepType.TransformStep() {
            public Step step() {
                return new Step("smooth", List.of(), List.of(), null);
            }

            public WeightTransform transform() {
                return new SmoothQuantTransform(0.5, EnumSet.of(TensorRole.INPUT_NORM, TensorRole.POST_ATTENTION_NORM, TensorRole.UP,
                        TensorRole.V), notices::add);
            }
        };
        // SmoothQuant with α searched per mapping, scored with 3-bit weights and int4 static per-tensor inputs, 5 α points (coarse
        // grids, so that the losses differ between α points): the search must still only move scale
        SmoothQuantTransform searching = new SmoothQuantTransform(new SmoothQuantTransform.Search(SmoothQuant.grid(5),
                ActivationScheme.named("int4-tensor"), 0), EnumSet.of(TensorRole.INPUT_NORM, TensorRole.POST_ATTENTION_NORM,
                TensorRole.UP, TensorRole.V), x -> {});
        StepType.TransformStep searchStep = new StepType.TransformStep() {
            public Step step() {
                return new Step("smooth-search", List.of(), List.of(), null);
            }

            public WeightTransform transform() {
                return searching;
            }
        };
        for (StepType.TransformStep step : List.of(awqStep, smoothStep, searchStep)) {
            float[] transformed = logits(model, windows, new Object[] {step, w3});
            double worst = 0;
            for (int i = 0; i < original.length; i++) {
                double err = Math.abs(transformed[i] - original[i]) / (ABS + REL * Math.abs(original[i]));
                worst = Math.max(worst, err);
            }
            assertTrue(worst <= 1, step.step().type() + ": logits differ by " + worst + "× the tolerance");
            double nllA = nll(original, windows), nllB = nll(transformed, windows);
            assertEquals(Math.exp(nllA), Math.exp(nllB), REL * Math.exp(nllA), "perplexity");
        }
        // the search's definition: the chosen α's block loss is ≤ that of every grid point; and the loss depends on α
        // (else the choice is vacuous): 2 layers × 3 mappings (v→o skipped under GQA) or 4
        assertEquals(LAYERS * (gqa ? 3 : 4), searching.choices().size(), searching.choices().keySet().toString());
        for (Map.Entry<String, SmoothQuant.Choice> e : searching.choices().entrySet()) {
            SmoothQuant.Choice c = e.getValue();
            int chosen = java.util.Arrays.binarySearch(c.grid(), c.alpha());
            double min = Double.POSITIVE_INFINITY, max = 0;
            for (double l : c.losses()) {
                assertTrue(c.losses()[chosen] <= l, e.getKey() + ": α " + c.alpha() + " loses to a grid point " + java.util.Arrays.toString(c.losses()));
                min = Math.min(min, l);
                max = Math.max(max, l);
            }
            assertTrue(max > min * 1.001, e.getKey() + ": the loss does not depend on α " + java.util.Arrays.toString(c.losses()));
        }
        assertEquals(gqa ? 1 : 0, notices.size(), notices.toString());
        if (gqa) assertTrue(notices.getFirst().contains("v_proj") || notices.getFirst().contains("V has"), notices.getFirst());
    }

    /**
     * Logits of the model, or (with {@code transform = {step, scheme}}) of the model after the transform ran layer by layer
     * through the pipeline's {@link LayerTransforms} (statistics and block loss on the runner), quantization off.
     */
    private static float[] logits(Path model, int[][] windows, Object[] transform) {
        try (ModelSource base = ModelSource.open(model)) {
            OverlayModelSource overlay = new OverlayModelSource(base);
            try (LlamaRunner runner = LlamaRunner.open(overlay, 1)) {
                if (transform != null) {
                    StepType.TransformStep step = (StepType.TransformStep) transform[0];
                    QuantScheme scheme = (QuantScheme) transform[1];
                    ModelArchitecture arch = ModelArchitecture.forHfClass(base.architecture(), "test");
                    List<ArtifactPlan.Entry> entries = new ArrayList<>();
                    for (String n : base.tensorNames()) {
                        boolean linear = n.endsWith("_proj.weight");
                        entries.add(new ArtifactPlan.Entry(n, base.shape(n), -1, linear ? scheme : null, null));
                    }
                    LayerTransforms lt = new LayerTransforms(List.of(step), arch, overlay, new ArtifactPlan(base, null, null, entries), 0);
                    lt.transformModel();
                    int replaced = 0;
                    // one batch, kept in memory (a budget nothing reaches: no spill directory is ever made)
                    try (ActivationSpill spill = new ActivationSpill(Long.MAX_VALUE, Path.of(System.getProperty("java.io.tmpdir")), m -> {});
                         Boundary h = new Boundary(spill, runner.manager(), 0)) {
                        h.add(runner.embed(windows));
                        for (int layer = 0; layer < LAYERS; layer++) {
                            TensorSet t = lt.load(layer);
                            lt.transformLayer(layer, t, runner, h);
                            replaced += t.changed().size();
                            NDArray next;
                            try (Boundary.Batch x = h.open(0)) {
                                next = runner.runLayer(layer, x.array(), LinearHook.NONE);
                            }
                            h.set(0, next);
                        }
                    }
                    // the transform really moved scale (else this test could not fail)
                    assertTrue(replaced > 0, step.step().type() + " changed nothing");
                }
                try (NDArray l = Evaluator.logits(runner, windows)) {
                    return l.toFloatArray();
                }
            }
        }
    }

    static final int D = 64, FF = 96, LAYERS = 2, VOCAB = 50, HD = 16;

    /** Mean next-token NLL of the windows under the logits (perplexity = exp of it). */
    private static double nll(float[] logits, int[][] windows) {
        double sum = 0;
        int n = 0, t = windows[0].length;
        for (int b = 0; b < windows.length; b++) {
            for (int p = 0; p < t - 1; p++) {
                int base = (b * t + p) * VOCAB;
                double max = Double.NEGATIVE_INFINITY;
                for (int v = 0; v < VOCAB; v++) max = Math.max(max, logits[base + v]);
                double z = 0;
                for (int v = 0; v < VOCAB; v++) z += Math.exp(logits[base + v] - max);
                sum += max + Math.log(z) - logits[base + windows[b][p + 1]];
                n++;
            }
        }
        return sum / n;
    }

    /** A random Llama/Qwen2 checkpoint in f32, with a few activation-outlier channels made by large norm weights. */
    private static Path write(Path dir, int heads, int kv, boolean bias, long seed) throws Exception {
        Files.createDirectories(dir);
        Random rnd = new Random(seed);
        List<SafetensorsWriter.TensorSpec> specs = new ArrayList<>();
        java.util.function.BiConsumer<String, long[]> put = (name, shape) -> {
            int n = 1;
            for (long s : shape) n *= (int) s;
            float[] v = new float[n];
            boolean norm = name.contains("norm");
            double scale = norm ? 0.2 : name.contains("embed") ? 1.0 : 1.0 / Math.sqrt(shape[shape.length - 1]);
            for (int i = 0; i < n; i++) v[i] = (float) ((norm ? 1 : 0) + scale * rnd.nextGaussian());
            if (norm) for (int c = 3; c < n; c += 17) v[c] *= 8; // outlier channels: scales worth moving
            specs.add(SafetensorsWriter.TensorSpec.of(Tensor.ofFloats(name, Shape.of(shape), v)));
        };
        put.accept("model.embed_tokens.weight", new long[] {VOCAB, D});
        for (int l = 0; l < LAYERS; l++) {
            String p = "model.layers." + l + ".";
            put.accept(p + "input_layernorm.weight", new long[] {D});
            put.accept(p + "post_attention_layernorm.weight", new long[] {D});
            put.accept(p + "self_attn.q_proj.weight", new long[] {heads * HD, D});
            put.accept(p + "self_attn.k_proj.weight", new long[] {kv * HD, D});
            put.accept(p + "self_attn.v_proj.weight", new long[] {kv * HD, D});
            if (bias) {
                put.accept(p + "self_attn.q_proj.bias", new long[] {heads * HD});
                put.accept(p + "self_attn.k_proj.bias", new long[] {kv * HD});
                put.accept(p + "self_attn.v_proj.bias", new long[] {kv * HD});
            }
            put.accept(p + "self_attn.o_proj.weight", new long[] {D, heads * HD});
            put.accept(p + "mlp.gate_proj.weight", new long[] {FF, D});
            put.accept(p + "mlp.up_proj.weight", new long[] {FF, D});
            put.accept(p + "mlp.down_proj.weight", new long[] {D, FF});
        }
        put.accept("model.norm.weight", new long[] {D});
        put.accept("lm_head.weight", new long[] {VOCAB, D});
        SafetensorsWriter.write(dir.resolve("model.safetensors"), specs, SafetensorsWriter.Options.defaults());
        String arch = bias ? "Qwen2ForCausalLM" : "LlamaForCausalLM";
        String type = bias ? "qwen2" : "llama";
        Files.writeString(dir.resolve("config.json"), """
                {"architectures":["%s"],"model_type":"%s","hidden_size":%d,"intermediate_size":%d,
                 "num_hidden_layers":%d,"num_attention_heads":%d,"num_key_value_heads":%d,"vocab_size":%d,
                 "rms_norm_eps":1e-6,"rope_theta":10000.0,"tie_word_embeddings":false,"max_position_embeddings":128}"""
                .formatted(arch, type, D, FF, LAYERS, heads, kv, VOCAB));
        return dir;
    }
}
