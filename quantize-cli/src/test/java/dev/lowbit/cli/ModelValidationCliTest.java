package dev.lowbit.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lowbit.pipeline.output.CliRun;
import dev.lowbit.io.gguf.GgufFile;
import dev.lowbit.io.gguf.GgufValue;
import dev.lowbit.io.gguf.GgufWriter;
import dev.lowbit.io.imatrix.Imatrix;
import dev.lowbit.io.tensor.DType;
import dev.lowbit.io.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Models validated as models, through the real CLI on hostile copies of tiny-llama-code and of stories260K: config.json
 * (or GGUF hyperparameters) against the tensors, for quantize, convert and evaluate. Every case is exit 2, one line
 * naming the cause, and no output.
 */
class ModelValidationCliTest {
    @TempDir
    Path tmp;

    private int n;

    HostileModel model() {
        return HostileModel.copyTo(tmp.resolve("model" + (n++)));
    }

    /** Runs quantize (RTN → GPTQ v1), convert (→ F32 GGUF) and evaluate; each must refuse with {@code expect}. */
    void refusedEverywhere(HostileModel m, String... expect) {
        Path q = tmp.resolve("q" + n), g = tmp.resolve("g" + n + ".gguf");
        refused(CliRun.run("quantize", m.toString(), "-o", q.toString(), "--method", "rtn", "-q"), expect);
        refused(CliRun.run("convert", m.toString(), "-o", g.toString(), "--type", "f32"), expect);
        refused(CliRun.run("evaluate", m.toString(), "--data", HostileModel.EVAL.toString(), "--ctx", "16",
                "--max-windows", "1"), expect);
        assertFalse(Files.exists(q), "no quantize output");
        assertFalse(Files.exists(g), "no convert output");
    }

    static void refused(CliRun r, String... expect) {
        assertEquals(2, r.code(), r.err());
        assertEquals(1, r.err().strip().lines().count(), "one line: " + r.err());
        assertTrue(r.err().startsWith("lowbit: "), r.err());
        for (String e : expect) assertTrue(r.err().contains(e), "'" + e + "' in: " + r.err());
        assertFalse(r.err().contains("internal error"), r.err());
    }

    @Test
    void fewerLayersInConfigThanInTheCheckpoint() {
        refusedEverywhere(model().config(c -> c.put("num_hidden_layers", 4)), "says 4 layers", "layer 4");
    }

    @Test
    void moreLayersInConfigThanInTheCheckpoint() {
        refusedEverywhere(model().config(c -> c.put("num_hidden_layers", 8)), "says 8 layers", "no tensors for layer 6");
    }

    @Test
    void wrongHiddenVocabAndIntermediateSizes() {
        refusedEverywhere(model().config(c -> c.put("hidden_size", 640)), "model.embed_tokens.weight", "[8192, 640]");
        refusedEverywhere(model().config(c -> c.put("vocab_size", 9000)), "model.embed_tokens.weight", "vocab_size 9000");
        refusedEverywhere(model().config(c -> c.put("intermediate_size", 1024)), "mlp.gate_proj.weight", "intermediate_size 1024");
    }

    @Test
    void headCountsThatAreZeroOrDoNotDivide() {
        refusedEverywhere(model().config(c -> c.put("num_attention_heads", 0)), "config.json", "num_attention_heads must be positive");
        refusedEverywhere(model().config(c -> c.put("num_key_value_heads", 3)), "config.json", "not a multiple of num_key_value_heads 3");
    }

    @Test
    void anIntegerLmHeadIsNotAWeight() {
        HostileModel m = model().replace("lm_head.weight", t -> HostileModel.retyped(t, DType.I16, 8192, 512));
        refusedEverywhere(m, "'lm_head.weight' is I16", "floating-point");
    }

    @Test
    void aThreeDimensionalLinearIsRefused() {
        HostileModel m = model().replace("model.layers.0.self_attn.q_proj.weight", t -> HostileModel.retyped(t, t.dtype(), 8, 64, 512));
        refusedEverywhere(m, "model.layers.0.self_attn.q_proj.weight", "[8, 64, 512]", "implies [512, 512]");
    }

    @Test
    void aStrayTensorAndAMissingTensor() {
        String anchor = "model.layers.0.input_layernorm.weight";
        HostileModel stray = model().rewriteShard(anchor, ts -> {
            List<Tensor> out = new ArrayList<>(ts);
            Tensor t = ts.stream().filter(x -> x.name().equals(anchor)).findFirst().orElseThrow();
            out.add(new Tensor("model.layers.0.self_attn.secret.weight", t.dtype(), t.shape(), t.data()));
            return out;
        });
        refusedEverywhere(stray, "unexpected tensor 'model.layers.0.self_attn.secret.weight'");
        HostileModel missing = model().rewriteShard(anchor, ts -> ts.stream().filter(t -> !t.name().equals(anchor)).toList());
        refusedEverywhere(missing, "missing tensor '" + anchor + "'");
    }

    // ---------------------------------------------------------------- GGUF hyperparameters against tensors

    Path gguf(Consumer<GgufWriter> edit) throws IOException {
        Path p = tmp.resolve("stories" + (n++) + ".gguf");
        try (GgufFile f = GgufFile.open(HostileModel.STORIES_F32)) {
            GgufWriter w = GgufWriter.copyOf(f);
            edit.accept(w);
            w.write(p);
        }
        return p;
    }

    void ggufRefused(Path model, String... expect) {
        Path out = tmp.resolve("out" + (n++) + ".gguf");
        refused(CliRun.run("convert", model.toString(), "-o", out.toString(), "--type", "f16"), expect);
        refused(CliRun.run("quantize", model.toString(), "-o", out.toString(), "--format", "gguf", "--type", "Q8_0"), expect);
        refused(CliRun.run("evaluate", model.toString(), "--data", HostileModel.EVAL.toString(), "--ctx", "16",
                "--max-windows", "1"), expect);
        assertFalse(Files.exists(out));
    }

    @Test
    void ggufBlockCountThatDisagreesWithItsTensors() throws IOException {
        ggufRefused(gguf(w -> w.putUint32("llama.block_count", 3)), "GGUF metadata says 3 layers", "layer 3");
    }

    @Test
    void ggufMetadataOfTheWrongTypeOrOutOfRange() throws IOException {
        ggufRefused(gguf(w -> w.putString("llama.attention.head_count", "eight")), "'llama.attention.head_count' is STRING", "integer");
        ggufRefused(gguf(w -> w.putUint32("llama.attention.head_count", 0)), "'llama.attention.head_count' is 0");
        ggufRefused(gguf(w -> w.put("llama.block_count", GgufValue.ofInt64(1L << 40))), "'llama.block_count' is 1099511627776");
        ggufRefused(gguf(w -> w.putString("llama.rope.freq_base", "10000")), "'llama.rope.freq_base' is STRING", "float");
        ggufRefused(gguf(w -> w.putUint32("llama.attention.head_count_kv", 3)), "not a multiple of num_key_value_heads 3");
    }

    @Test
    void importanceMatrixMetadataOfTheWrongType() throws IOException {
        Path im = tmp.resolve("imatrix.gguf");
        try (GgufFile f = GgufFile.open(HostileModel.SHARED.resolve("data/gguf/stories260K/imatrix-wikivalid.gguf"))) {
            GgufWriter w = GgufWriter.copyOf(f);
            w.putString("imatrix.chunk_count", "many");
            w.write(im);
        }
        Path out = tmp.resolve("o.gguf");
        refused(CliRun.run("quantize", HostileModel.STORIES_F32.toString(), "-o", out.toString(), "--format", "gguf",
                "--type", "Q4_K_M", "--imatrix", im.toString()), "'imatrix.chunk_count' is STRING");
        assertFalse(Files.exists(out));
        assertTrue(Imatrix.read(HostileModel.SHARED.resolve("data/gguf/stories260K/imatrix-wikivalid.gguf")).entries().size() > 0);
    }

    @Test
    void theUntouchedModelsStillPass() {
        CliRun r = CliRun.run("convert", model().toString(), "-o", tmp.resolve("ok.gguf").toString(), "--type", "f32");
        assertEquals(0, r.code(), r.err());
        CliRun s = CliRun.run("convert", HostileModel.STORIES_F32.toString(), "-o", tmp.resolve("s.gguf").toString(), "--type", "f16");
        assertEquals(0, s.code(), s.err());
    }
}
