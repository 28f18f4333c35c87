package dev.lowbit.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lowbit.pipeline.output.CliRun;
import dev.lowbit.io.ggml.GgmlType;
import dev.lowbit.io.gguf.GgufFile;
import dev.lowbit.io.gguf.GgufTensorInfo;
import dev.lowbit.io.gguf.GgufWriter;
import dev.lowbit.io.imatrix.Imatrix;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Non-finite values through the real CLI: a NaN/Inf in any weight (quantized or passed through, Hugging Face or
 * GGUF) is exit 2 naming the tensor with nothing written; an importance matrix with NaN, Inf or negative values is
 * exit 2; an evaluation whose perplexity is not a number is exit 1 with the reason, so a CI gate cannot pass on it.
 */
class NonFiniteCliTest {
    @TempDir
    Path tmp;

    private int n;

    void refusedEverywhere(Path model, String... expect) {
        Path q = tmp.resolve("q" + n), g = tmp.resolve("g" + (n++) + ".gguf");
        if (Files.isDirectory(model)) {
            ModelValidationCliTest.refused(CliRun.run("quantize", model.toString(), "-o", q.toString(), "--method", "rtn", "-q"), expect);
        }
        ModelValidationCliTest.refused(CliRun.run("convert", model.toString(), "-o", g.toString(), "--type", "f16"), expect);
        ModelValidationCliTest.refused(CliRun.run("quantize", model.toString(), "-o", g.toString(), "--format", "gguf",
                "--type", "Q4_0", "--tensor-type", "ffn_down=F16"), expect);
        ModelValidationCliTest.refused(CliRun.run("evaluate", model.toString(), "--data", HostileModel.EVAL.toString(),
                "--ctx", "16", "--max-windows", "1"), expect);
        assertFalse(Files.exists(q));
        assertFalse(Files.exists(g));
    }

    @Test
    void nanInAQuantizedLinear() {
        HostileModel m = HostileModel.copyTo(tmp.resolve("m1")).setBf16("model.layers.1.self_attn.v_proj.weight", 700, Float.NaN);
        refusedEverywhere(m.path(), "'model.layers.1.self_attn.v_proj.weight' holds NaN at [1, 188]");
        Path fp4 = tmp.resolve("fp4");
        ModelValidationCliTest.refused(CliRun.run("quantize", m.path().toString(), "-o", fp4.toString(), "--method", "gptq",
                "--scheme", "nvfp4", "--calib", HostileModel.EVAL.toString(), "-q"), "'model.layers.1.self_attn.v_proj.weight' holds NaN at [1, 188]");
        assertFalse(Files.exists(fp4));
    }

    @Test
    void infinityInPassThroughTensors() {
        HostileModel norm = HostileModel.copyTo(tmp.resolve("m2")).setBf16("model.norm.weight", 5, Float.POSITIVE_INFINITY);
        refusedEverywhere(norm.path(), "'model.norm.weight' holds Infinity at [5]");
        HostileModel embd = HostileModel.copyTo(tmp.resolve("m3")).setBf16("model.embed_tokens.weight", 512 * 3, Float.NEGATIVE_INFINITY);
        refusedEverywhere(embd.path(), "'model.embed_tokens.weight' holds -Infinity at [3, 0]");
    }

    @Test
    void nanInAGgufModel() throws IOException {
        Path p = tmp.resolve("nan.gguf");
        try (GgufFile f = GgufFile.open(HostileModel.STORIES_F32)) {
            GgufWriter w = new GgufWriter();
            f.kv().forEach(w::put);
            for (GgufTensorInfo t : f.tensorInfos()) {
                MemorySegment data = f.data(t);
                if (t.name().equals("blk.2.attn_k.weight")) {
                    data = MemorySegment.ofArray(data.toArray(ValueLayout.JAVA_BYTE));
                    data.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 70, Float.NaN);
                }
                w.addTensor(t.name(), t.dims(), t.type(), data);
            }
            w.write(p);
        }
        refusedEverywhere(p, "'blk.2.attn_k.weight' holds NaN at [1, 6]");
    }

    @Test
    void importanceMatricesWithNanInfOrNegativeValues() throws IOException {
        Imatrix good = Imatrix.read(HostileModel.SHARED.resolve("data/gguf/stories260K/imatrix-wikivalid.gguf"));
        String entry = good.entries().keySet().iterator().next();
        for (float bad : new float[] {Float.NaN, Float.POSITIVE_INFINITY, -1f}) {
            Map<String, Imatrix.Entry> e = new LinkedHashMap<>(good.entries());
            float[] sums = e.get(entry).inSum2().clone();
            sums[3] = bad;
            e.put(entry, new Imatrix.Entry(sums, e.get(entry).counts()));
            Path im = tmp.resolve("im" + (n++) + ".gguf");
            new Imatrix(e, good.datasets(), good.chunkCount(), good.chunkSize()).write(im, false);
            Path out = tmp.resolve("o" + n + ".gguf");
            CliRun r = CliRun.run("quantize", HostileModel.STORIES_F32.toString(), "-o", out.toString(), "--format", "gguf",
                    "--type", "Q4_K_M", "--imatrix", im.toString());
            ModelValidationCliTest.refused(r, im.toString(), "entry '" + entry + "' holds " + bad + " at 3");
            assertFalse(Files.exists(out));
        }
    }

    @Test
    void aNonFinitePerplexityIsAFailureNotAResult() {
        // finite weights whose activations overflow f32: the forward pass yields ±Inf/NaN logits
        HostileModel m = HostileModel.copyTo(tmp.resolve("m4"));
        m.replace("model.norm.weight", t -> {
            for (int i = 0; i < 512; i++) {
                t.data().setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), i,
                        (short) (Float.floatToRawIntBits(3.0e38f) >>> 16));
            }
            return t;
        });
        // -q: no progress line beside the error (progress is one plain line per batch when stderr is not a terminal)
        CliRun r = CliRun.run("evaluate", m.toString(), "--data", HostileModel.EVAL.toString(), "--ctx", "16",
                "--max-windows", "1", "-q");
        assertEquals(1, r.code(), r.out() + r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertTrue(r.err().contains("evaluate: perplexity is"), r.err());
        assertFalse(r.err().contains("internal error"), r.err());
        assertFalse(r.out().contains("perplexity"), "no figure printed for a CI gate to parse: " + r.out());
        CliRun json = CliRun.run("evaluate", m.toString(), "--data", HostileModel.EVAL.toString(), "--ctx", "16",
                "--max-windows", "1", "--json");
        assertEquals(1, json.code(), json.err());
        assertTrue(json.out().isEmpty(), json.out());
    }
}
