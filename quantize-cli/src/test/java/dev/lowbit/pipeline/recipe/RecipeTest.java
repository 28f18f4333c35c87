package dev.lowbit.pipeline.recipe;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lowbit.io.BadInputException;
import dev.lowbit.io.quant.QuantScheme;
import dev.lowbit.pipeline.steps.Param;
import dev.lowbit.pipeline.steps.QuantizerStep;
import dev.lowbit.pipeline.steps.StepRegistry;
import dev.lowbit.pipeline.steps.StepType;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RecipeTest {
    @TempDir
    Path tmp;

    static String resource(String name) throws IOException {
        try (InputStream in = RecipeTest.class.getResourceAsStream("/recipes/" + name)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    Path write(String name, String text) throws IOException {
        Path p = tmp.resolve(name);
        Files.writeString(p, text);
        return p;
    }

    @Test
    void versionOneUpgradesToOneStep() throws IOException {
        Recipe r = Recipe.read(write("v1.json", resource("v1-gptq-w4-ct.json")));
        assertEquals(1, r.steps().size());
        Step s = r.steps().getFirst();
        assertEquals("gptq", s.type());
        assertEquals(List.of("self_attn", "mlp\\.(gate|up)_proj"), s.targets());
        assertEquals(4, s.params().get("bits").intValue());
        assertTrue(s.params().get("symmetric").booleanValue());
        assertTrue(s.params().get("desc_act").booleanValue());
        assertEquals("compressed-tensors", r.output().format());
        assertEquals(7, r.seed());
        assertEquals(64, r.calibration().seqlen());
        assertTrue(r.calibration().randomWindows());
        assertTrue(r.quantizer().needsCalibration());
        assertTrue(r.toJson().startsWith("{\n  \"version\" : 2,"), r.toJson());
    }

    /** Version 1 recorded mse_clip under GPTQ and calibration under RTN but used neither: the upgrade drops them. */
    @Test
    void versionOneDropsWhatItNeverUsed() throws IOException {
        String gptq = resource("v1-gptq-w4-ct.json").replace("\"mse_clip\" : false", "\"mse_clip\" : true");
        assertFalse(Recipe.read(write("g.json", gptq)).steps().getFirst().params().get("mse_clip").booleanValue());
        String rtn = resource("v1-rtn-w3-ignore.json").replace("\"format\"",
                "\"calibration\" : {\"data\": \"x.txt\", \"samples\": 1, \"seqlen\": 8, \"random_windows\": false},\n  \"format\"");
        Recipe r = Recipe.read(write("r.json", rtn));
        assertNull(r.calibration());
        assertTrue(r.steps().getFirst().params().get("mse_clip").booleanValue(), "RTN did use mse_clip in version 1");
    }

    /** What toJson writes reads back to the same recipe; YAML reads to the same recipe as JSON. */
    @Test
    void roundTripJsonAndYaml() throws IOException {
        Recipe a = Recipe.read(write("v1.json", resource("v1-rtn-w3-ignore.json")));
        Recipe b = Recipe.read(write("v2.json", a.toJson()));
        assertEquals(a, b);
        assertEquals(a.toJson(), b.toJson());
        String yaml = """
                # the same run, by hand
                version: 2
                steps:
                  - type: rtn
                    ignore: ['layers\\.0\\.', down_proj]
                    bits: 3
                    mse_clip: true
                output: {format: gptq}
                """;
        assertEquals(a, Recipe.read(write("v2.yaml", yaml)));
    }

    /** GPTQ into GGUF sweeps in act-order unless the recipe says otherwise; the safetensors targets keep the reference's default. */
    @Test
    void gptqIntoGgufDefaultsToActOrder() throws IOException {
        String cal = "\"calibration\": {\"data\": \"c.txt\", \"samples\": 4, \"seqlen\": 64}, ";
        Recipe g = Recipe.read(write("g.json", "{\"version\": 2, \"steps\": [{\"type\": \"gptq\"}], " + cal
                + "\"output\": {\"format\": \"gguf\", \"type\": \"Q4_K_M\"}}"));
        assertTrue(g.steps().getFirst().params().get("desc_act").booleanValue());
        assertTrue(g.steps().getFirst().params().get("search_importance").booleanValue());
        Recipe off = Recipe.read(write("off.json", "{\"version\": 2, \"steps\": [{\"type\": \"gptq\", \"desc_act\": false}], "
                + cal + "\"output\": {\"format\": \"gguf\", \"type\": \"Q4_K_M\"}}"));
        assertFalse(off.steps().getFirst().params().get("desc_act").booleanValue());
        Recipe st = Recipe.read(write("st.json", "{\"version\": 2, \"steps\": [{\"type\": \"gptq\"}], " + cal
                + "\"output\": {\"format\": \"gptq\"}}"));
        assertFalse(st.steps().getFirst().params().get("desc_act").booleanValue());
        assertFalse(st.steps().getFirst().params().has("search_importance"), "gguf-only parameters stay out of other targets");
    }

    @Test
    void everyParameterIsWrittenExplicitly() throws IOException {
        Recipe r = Recipe.read(write("min.json", "{\"version\": 2, \"steps\": [{\"type\": \"gptq\"}], "
                + "\"calibration\": {\"data\": \"c.txt\", \"samples\": 4, \"seqlen\": 64}, \"output\": {\"format\": \"gptq\"}}"));
        ObjectNode p = r.steps().getFirst().params();
        for (String k : List.of("bits", "group_size", "symmetric", "mse_clip", "damp_percent", "block_size", "desc_act",
                "static_groups", "true_sequential")) {
            assertTrue(p.has(k), k + " missing from " + p);
        }
        assertTrue(r.toJson().contains("\"damp_percent\" : 0.01"), r.toJson());
    }

    /**
     * awq's {@code fp_inputs} takes effect before rtn only (GPTQ calibrates on the quantized outputs): set by the user
     * before gptq it is refused; left at its default it is recorded as what the run does (false before gptq, true
     * before rtn), and the recipe so written replays.
     */
    @Test
    void fpInputsIsRefusedWhereItCannotApplyAndRecordedAsTheRunDoesIt() throws IOException {
        String calib = "\"calibration\": {\"data\": \"c.txt\", \"samples\": 4, \"seqlen\": 64}, \"output\": {\"format\": \"gptq\"}}";
        BadInputException e = assertThrows(BadInputException.class, () -> Recipe.read(write("explicit.json",
                "{\"version\": 2, \"steps\": [{\"type\": \"awq\", \"fp_inputs\": true}, {\"type\": \"gptq\"}], " + calib)));
        assertTrue(e.getMessage().contains("step 'awq': fp_inputs: true does not apply here: 'gptq' calibrates each layer on the quantized outputs"),
                e.getMessage());
        assertFalse(e.getMessage().contains("\n"));
        // an explicit false before gptq states what happens: accepted
        Recipe.read(write("false.json", "{\"version\": 2, \"steps\": [{\"type\": \"awq\", \"fp_inputs\": false}, {\"type\": \"gptq\"}], " + calib));
        Recipe gptq = Recipe.read(write("gptq.json", "{\"version\": 2, \"steps\": [{\"type\": \"awq\"}, {\"type\": \"gptq\"}], " + calib));
        assertFalse(gptq.steps().getFirst().params().path("fp_inputs").asBoolean(true), gptq.toJson());
        Recipe replayed = Recipe.read(write("replay.json", gptq.toJson()));
        assertEquals(gptq.toJson(), replayed.toJson());
        Recipe rtn = Recipe.read(write("rtn.json", "{\"version\": 2, \"steps\": [{\"type\": \"awq\"}, {\"type\": \"rtn\"}], " + calib));
        assertTrue(rtn.steps().getFirst().params().path("fp_inputs").asBoolean(false), rtn.toJson());
        // a transform that needs quantized outputs (smooth) makes it inapplicable before rtn too
        assertThrows(BadInputException.class, () -> Recipe.read(write("smooth.json", "{\"version\": 2, \"steps\": [{\"type\": \"smooth\"}, "
                + "{\"type\": \"awq\", \"fp_inputs\": true}, {\"type\": \"rtn\"}], " + calib)));
    }

    @Test
    void badRecipesAreOneLineNamingTheProblem() throws IOException {
        String[][] cases = {
            {"{\"version\": 2, \"steps\": [{\"type\": \"hqq\"}], \"output\": {\"format\": \"gptq\"}}", "unknown step 'hqq' (known steps: rtn, gptq, ptqtp, ternary-rtn, binarize, pb-llm, awq, smooth, rotate)"},
            {"{\"version\": 2, \"steps\": [{\"type\": \"awq\"}], \"output\": {\"format\": \"gptq\"}}", "the last step must be a quantizer (rtn, gptq, ptqtp, ternary-rtn, binarize, pb-llm), got 'awq'"},
            {"{\"version\": 2, \"steps\": [{\"type\": \"awq\"}, {\"type\": \"rtn\"}], \"output\": {\"format\": \"gptq\"}}", "a transform step needs calibration data"},
            {"{\"version\": 2, \"steps\": [{\"type\": \"smooth\", \"alpha\": 1.5}, {\"type\": \"rtn\"}], \"output\": {\"format\": \"gptq\"}}", "alpha must lie strictly between 0 and 1, got 1.5"},
            {"{\"version\": 2, \"steps\": [{\"type\": \"smooth\", \"alpha\": 0}, {\"type\": \"rtn\"}], \"output\": {\"format\": \"gptq\"}}", "alpha must lie strictly between 0 and 1, got 0"},
            {"{\"version\": 2, \"steps\": [{\"type\": \"smooth\", \"alpha\": \"auto\"}, {\"type\": \"rtn\"}], \"output\": {\"format\": \"gptq\"}}", "alpha must be a number in (0, 1) or 'search', got 'auto'"},
            {"{\"version\": 2, \"steps\": [{\"type\": \"smooth\", \"alpha\": \"search\"}, {\"type\": \"rtn\"}], \"output\": {\"format\": \"gptq\"}}", "the output declares none, so give activations"},
            {"{\"version\": 2, \"steps\": [{\"type\": \"smooth\", \"alpha\": \"search\", \"activations\": \"int9-token\"}, {\"type\": \"rtn\"}], \"output\": {\"format\": \"gptq\"}}", "unknown activations 'int9-token'"},
            {"{\"version\": 2, \"steps\": [{\"type\": \"smooth\", \"alpha\": 0.5, \"activations\": \"int8-token\"}, {\"type\": \"rtn\"}], \"output\": {\"format\": \"gptq\"}}", "'activations' applies to alpha: search only"},
            {"{\"version\": 2, \"steps\": [{\"type\": \"smooth\", \"alpha\": 0.8, \"grid\": 5}, {\"type\": \"rtn\"}], \"output\": {\"format\": \"gptq\"}}", "'grid' applies to alpha: search only"},
            {"{\"version\": 2, \"steps\": [{\"type\": \"smooth\", \"alpha\": \"search\", \"activations\": \"int8-token\", \"grid\": 0}, {\"type\": \"rtn\"}], \"output\": {\"format\": \"gptq\"}}", "grid must be 1..1000, got 0"},
            {"{\"version\": 2, \"steps\": [{\"type\": \"smooth\", \"alpha\": 0.8, \"loss_tokens\": 512}, {\"type\": \"rtn\"}], \"output\": {\"format\": \"gptq\"}}", "'loss_tokens' applies to alpha: search only"},
            {"{\"version\": 2, \"steps\": [{\"type\": \"smooth\", \"alpha\": \"search\", \"activations\": \"int8-tensor\"}, {\"type\": \"rtn\"}], \"output\": {\"format\": \"compressed-tensors\", \"input_activations\": \"int8-token\"}}", "differ from the output's input_activations int8-token"},
            {"{\"version\": 2, \"steps\": [{\"type\": \"rtn\", \"bitz\": 3}], \"output\": {\"format\": \"gptq\"}}", "unknown parameter 'bitz'"},
            {"{\"version\": 2, \"steps\": [{\"type\": \"rtn\", \"bits\": \"3\"}], \"output\": {\"format\": \"gptq\"}}", "'bits' must be an integer"},
            {"{\"version\": 2, \"steps\": [{\"type\": \"rtn\", \"bits\": 9}], \"output\": {\"format\": \"gptq\"}}", "bits must be 2..8"},
            {"{\"version\": 2, \"steps\": [], \"output\": {\"format\": \"gptq\"}}", "no steps"},
            {"{\"version\": 2, \"steps\": [{\"type\": \"ptqtp\", \"start\": \"random\"}], \"output\": {\"format\": \"trit-planes\"}}", "start must be progressive or multi, got 'random'"},
            {"{\"version\": 2, \"steps\": [{\"type\": \"rtn\"}, {\"type\": \"gptq\"}], \"output\": {\"format\": \"gptq\"}}", "only the last step may quantize"},
            {"{\"version\": 2, \"steps\": [{\"type\": \"gptq\"}], \"output\": {\"format\": \"gptq\"}}", "needs calibration data"},
            {"{\"version\": 2, \"steps\": [{\"type\": \"rtn\", \"targets\": [\"(\"]}], \"output\": {\"format\": \"gptq\"}}", "invalid module pattern '('"},
            {"{\"version\": 2, \"steps\": [{\"type\": \"rtn\", \"bits\": 3}], \"output\": {\"format\": \"gguf\", \"type\": \"Q4_0\"}}", "'bits' does not apply to format gguf"},
            {"{\"version\": 2, \"steps\": [{\"type\": \"rtn\"}], \"output\": {\"format\": \"gguf\"}}", "needs a type"},
            {"{\"version\": 2, \"steps\": [{\"type\": \"rtn\"}], \"output\": {\"format\": \"onnx\"}}", "unknown format 'onnx'"},
            {"{\"version\": 2, \"steps\": [{\"type\": \"rtn\"}], \"output\": {\"format\": \"gptq\", \"type\": \"Q4_0\"}}", "apply to format gguf only"},
            {"{\"version\": 2, \"steps\": [{\"type\": \"rtn\"}], \"overrides\": [{\"pattern\": \"down\", \"type\": \"Q8_0\"}], \"output\": {\"format\": \"gptq\"}}", "format gptq takes bits, group_size and/or symmetric, not a ggml type"},
            {"{\"version\": 2, \"steps\": [{\"type\": \"rtn\"}], \"overrides\": [{\"pattern\": \"down\", \"bits\": 9}], \"output\": {\"format\": \"gptq\"}}", "override 'down': bits must be 2..8"},
            {"{\"version\": 2, \"steps\": [{\"type\": \"rtn\"}], \"overrides\": [{\"pattern\": \"down\", \"bits\": 8}], \"output\": {\"format\": \"gguf\", \"type\": \"Q4_0\"}}", "takes a ggml type"},
            {"{\"version\": 2, \"steps\": [{\"type\": \"rtn\"}], \"output\": {\"format\": \"gptq\"}, \"extra\": 1}", "unknown recipe key 'extra'"},
            {"{\"version\": 3}", "recipe version 3 is not supported"},
            // YAML's bare "-" (found by fuzzing: it reached the recipe as a null override, a NullPointerException)
            {"{\"version\": 2, \"steps\": [{\"type\": \"rtn\"}], \"overrides\": [null], \"output\": {\"format\": \"gptq\"}}", "every override is an object"},
            // a version-1 recipe whose targets hold a null (YAML "[ &a, x ]" found by fuzzing: a NullPointerException)
            {"{\"version\": 1, \"method\": \"rtn\", \"scheme\": {\"bits\": 4, \"group_size\": 64}, \"targets\": [null, \"mlp\"], \"format\": \"gptq\"}", "'targets' and 'ignore' must be lists of regexes"},
        };
        for (String[] c : cases) {
            BadInputException e = assertThrows(BadInputException.class, () -> Recipe.read(write("bad.json", c[0])), c[0]);
            assertTrue(e.userMessage().contains(c[1]), e.userMessage() + " should contain " + c[1]);
            assertEquals(1, e.userMessage().lines().count(), e.userMessage());
        }
    }

    /** A transform is a new StepType: the registry places it before the one quantizer without any other change. */
    @Test
    void transformsComeBeforeTheQuantizer() {
        StepType rotate = new StepType() {
            public String name() { return "spin"; }
            public Role role() { return Role.TRANSFORM; }
            public String description() { return "a test transform"; }
            public List<Param> params() { return List.of(Param.ofInt("seed", 0, "rotation seed")); }
            public Configured configure(String source, Step step, Output output) {
                ObjectNode p = StepRegistry.resolve(source, "step 'spin'", step.params(), params(), params(), "");
                Step resolved = step.withParams(p);
                return new TransformStep() {
                    public Step step() { return resolved; }
                    public dev.lowbit.ptq.transform.WeightTransform transform() { return () -> "spin"; }
                };
            }
        };
        List<StepType> types = new ArrayList<>(StepRegistry.DEFAULT.all());
        types.add(rotate);
        StepRegistry registry = new StepRegistry(types);
        Step rot = new Step("spin", List.of(), List.of(), null), rtn = new Step("rtn", List.of(), List.of(), null);
        Recipe ok = new Recipe(List.of(rot, rtn), List.of(), null, Output.of("gptq"), 0).validate("test", registry);
        assertEquals(0, ok.steps().getFirst().params().get("seed").intValue());
        assertTrue(registry.listing().contains("spin   transform  a test transform"), registry.listing());
        BadInputException last = assertThrows(BadInputException.class,
                () -> new Recipe(List.of(rtn, rot), List.of(), null, Output.of("gptq"), 0).validate("test", registry));
        assertTrue(last.userMessage().contains("only the last step may quantize"), last.userMessage());
        BadInputException none = assertThrows(BadInputException.class,
                () -> new Recipe(List.of(rot), List.of(), null, Output.of("gptq"), 0).validate("test", registry));
        assertTrue(none.userMessage().contains("the last step must be a quantizer (rtn, gptq, ptqtp, ternary-rtn, binarize, pb-llm), got 'spin'"), none.userMessage());
    }

    /** --mse-clip under GPTQ is honoured (the reference's mse=True): the clip search changes the group parameters. */
    @Test
    void gptqHonoursMseClip() {
        ObjectNode p = JsonNodeFactory.instance.objectNode().put("bits", 3).put("mse_clip", true);
        Recipe.Calibration cal = new Recipe.Calibration("c.txt", 1, 8, false);
        Recipe clipped = new Recipe(List.of(new Step("gptq", null, null, p)), null, cal, Output.of("gptq"), 0).validate("test");
        Recipe plain = new Recipe(List.of(new Step("gptq", null, null, p.deepCopy().put("mse_clip", false))), null, cal,
                Output.of("gptq"), 0).validate("test");
        assertTrue(clipped.toJson().contains("\"mse_clip\" : true"), clipped.toJson());
        int rows = 64, cols = 256;
        Random rnd = new Random(3);
        float[] w = new float[rows * cols];
        for (int i = 0; i < w.length; i++) w[i] = (float) (rnd.nextGaussian() * (i % 97 == 0 ? 6 : 1)); // outliers to clip
        double[] h = new double[cols * cols];
        for (int i = 0; i < cols; i++) h[i * cols + i] = 1 + rnd.nextDouble();
        QuantizerStep qc = clipped.quantizer(), qp = plain.quantizer();
        assertEquals(new QuantScheme(3, 128, false), qc.scheme());
        float[] sc = qc.quantize("m", qc.scheme(), w, rows, cols, h.clone()).scales();
        float[] sp = qp.quantize("m", qp.scheme(), w, rows, cols, h.clone()).scales();
        // group parameters after the first group see different error-compensated weights, so only "differs" holds
        assertEquals(sp.length, sc.length);
        assertFalse(java.util.Arrays.equals(sc, sp), "the clip search changed no group");
        assertNotNull(qc.step());
    }
}
