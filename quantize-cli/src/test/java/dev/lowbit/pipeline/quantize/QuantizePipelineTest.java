package dev.lowbit.pipeline.quantize;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lowbit.cli.Main;
import dev.lowbit.io.SharedData;
import dev.lowbit.io.hf.DequantizingSource;
import dev.lowbit.io.quant.QuantScheme;
import dev.lowbit.io.quant.QuantizedTensor;
import dev.lowbit.io.safetensors.ShardedSafetensors;
import dev.lowbit.io.tensor.TensorSource;
import dev.lowbit.kernels.FloatFormats;
import dev.lowbit.ptq.rtn.Rtn;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** End to end on tiny-llama-code: the written checkpoint holds exactly what the quantizer produced. */
class QuantizePipelineTest {
    static final Path SHARED = SharedData.root();
    static final Path MODEL = SHARED.resolve("models/tiny-llama-code");
    static final List<String> LINEARS = List.of("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
            "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj");

    @TempDir
    Path tmp;

    /**
     * Packing is exact: every Linear read back from the written checkpoint equals, bit for bit, the RTN result
     * dequantized with its scales rounded to the stored dtype (fp16 for GPTQ, bf16 for compressed-tensors), and
     * every pass-through tensor keeps its bytes. Independent of the writer: Rtn is called here directly.
     */
    @ParameterizedTest
    @ValueSource(strings = {"gptq", "compressed-tensors", "awq"})
    void writtenCheckpointEqualsInMemoryQuantization(String format) throws IOException {
        Path out = tmp.resolve("q-" + format);
        int bits = format.equals("gptq") ? 3 : 4;
        assertEquals(0, Main.execute("quantize", MODEL.toString(), "-o", out.toString(), "--method", "rtn",
                "--bits", "" + bits, "--group-size", "128", "--format", format, "-q"));
        QuantScheme scheme = new QuantScheme(bits, 128, false);
        try (TensorSource original = ShardedSafetensors.open(MODEL);
             TensorSource written = DequantizingSource.openDirectory(out)) {
            assertEquals(original.names().stream().sorted().toList(), written.names().stream().sorted().toList());
            for (String name : original.names()) {
                boolean linear = LINEARS.stream().anyMatch(l -> name.endsWith(l + ".weight"));
                if (!linear) {
                    assertArrayEquals(original.tensor(name).data().toArray(java.lang.foreign.ValueLayout.JAVA_BYTE),
                            written.tensor(name).data().toArray(java.lang.foreign.ValueLayout.JAVA_BYTE), name);
                    continue;
                }
                var t = original.tensor(name);
                int rows = (int) t.shape().dim(0), cols = (int) t.shape().dim(1);
                QuantizedTensor q = Rtn.rtn(name, t.toFloatArray(), rows, cols, scheme);
                float[] scales = q.scales().clone();
                for (int i = 0; i < scales.length; i++) {
                    scales[i] = !format.equals("compressed-tensors") ? FloatFormats.f16ToF32(FloatFormats.f32ToF16(scales[i]))
                            : FloatFormats.bf16ToF32(FloatFormats.f32ToBf16(scales[i]));
                }
                float[] expected = new QuantizedTensor(name, rows, cols, scheme, q.codes(), scales, q.zeros(), q.gIdx()).dequantize();
                assertArrayEquals(expected, written.tensor(name).toFloatArray(), 0f, name);
            }
        }
    }

    /** Same input, recipe and seed → byte-identical output directories (GPTQ on a small calibration set). */
    /**
     * Same input and recipe, same bytes, whatever the thread count: run a on 1 thread, b on 2 (PyTorch's forward,
     * the Hessian and GPTQ kernels; reductions have a fixed order), and the recipe replay c on the default (all cores).
     */
    @Test
    void deterministicOutput() throws IOException {
        Path calib = tmp.resolve("calib.txt");
        Files.writeString(calib, Files.readString(SHARED.resolve("data/calib_code.txt")).substring(0, 20_000));
        Path a = tmp.resolve("a"), b = tmp.resolve("b");
        for (Path out : List.of(a, b)) {
            assertEquals(0, Main.execute("quantize", MODEL.toString(), "-o", out.toString(), "--method", "gptq",
                    "--bits", "4", "--group-size", "128", "--calib", calib.toString(), "--calib-samples", "2",
                    "--calib-seqlen", "64", "--threads", out == a ? "1" : "2", "-q"));
        }
        List<Path> files = list(a);
        assertEquals(files.stream().map(Path::getFileName).toList(), list(b).stream().map(Path::getFileName).toList());
        for (Path f : files) {
            assertArrayEquals(Files.readAllBytes(f), Files.readAllBytes(b.resolve(f.getFileName())), f.getFileName().toString());
        }
        assertTrue(Files.readString(a.resolve("config.json")).contains("\"quant_method\" : \"gptq\""));
        assertTrue(Files.exists(a.resolve("recipe.json")) && Files.exists(a.resolve("lowbit-manifest.json")));
        // The recipe replays to the same bytes.
        Path c = tmp.resolve("c");
        assertEquals(0, Main.execute("quantize", MODEL.toString(), "-o", c.toString(), "--recipe", a.resolve("recipe.json").toString(), "-q"));
        for (Path f : files) {
            if (f.getFileName().toString().startsWith("model")) {
                assertArrayEquals(Files.readAllBytes(f), Files.readAllBytes(c.resolve(f.getFileName())), f.getFileName().toString());
            }
        }
    }

    /**
     * The capture's two schedules give the same bytes: GPTQ (true-sequential) with the state kept between stages (the
     * default) and with {@code lowbit.capture.kept-bytes=0} (each stage runs the layer again from its input, the
     * schedule before the kept state). 4 windows of 64: every file of the output directories must be equal.
     */
    @Test
    void keptStagesGiveTheBytesOfRecomputedStages() throws IOException {
        Path calib = tmp.resolve("calib.txt");
        Files.writeString(calib, Files.readString(SHARED.resolve("data/calib_code.txt")).substring(0, 20_000));
        Path kept = tmp.resolve("kept"), again = tmp.resolve("again");
        for (Path out : List.of(kept, again)) {
            if (out == again) System.setProperty("lowbit.capture.kept-bytes", "0");
            try {
                assertEquals(0, Main.execute("quantize", MODEL.toString(), "-o", out.toString(), "--method", "gptq",
                        "--bits", "4", "--group-size", "128", "--calib", calib.toString(), "--calib-samples", "4",
                        "--calib-seqlen", "64", "--threads", "2", "-q"));
            } finally {
                System.clearProperty("lowbit.capture.kept-bytes");
            }
        }
        List<Path> files = list(kept);
        assertEquals(files.stream().map(Path::getFileName).toList(), list(again).stream().map(Path::getFileName).toList());
        for (Path f : files) {
            assertArrayEquals(Files.readAllBytes(f), Files.readAllBytes(again.resolve(f.getFileName())), f.getFileName().toString());
        }
    }

    /** Bad input: one line, exit code 2, nothing written. */
    @Test
    void badInputExitsWithTwoAndWritesNothing() throws IOException {
        Path out = tmp.resolve("never");
        String m = MODEL.toString(), o = out.toString();
        assertEquals(2, Main.execute("quantize", m, "-o", o, "--method", "rtn", "--bits", "9", "-q"));
        assertEquals(2, Main.execute("quantize", m, "-o", o, "--method", "rtn", "--bits", "1", "-q"));
        assertEquals(2, Main.execute("quantize", m, "-o", o, "--method", "rtn", "--group-size", "100", "-q"));
        assertEquals(2, Main.execute("quantize", m, "-o", o, "--method", "rtn", "--group-size", "0", "-q"));
        assertEquals(2, Main.execute("quantize", m, "-o", o, "--method", "gptq", "-q")); // no --calib
        assertEquals(2, Main.execute("quantize", m, "-o", o, "--method", "rtn", "--act-order", "-q"));
        assertEquals(2, Main.execute("quantize", m, "-o", o, "--method", "gptq", "--calib", "x", "--static-groups", "-q"));
        assertEquals(2, Main.execute("quantize", m, "-o", o, "--method", "rtn", "--bits", "5", "--format", "gptq", "-q"));
        assertEquals(2, Main.execute("quantize", m, "-o", o, "--method", "gptq", "--group-size", "-1", "--act-order",
                "--format", "compressed-tensors", "--calib", SHARED.resolve("data/calib_code.txt").toString(), "-q"));
        Path shortText = tmp.resolve("short.txt");
        Files.writeString(shortText, "def f():\n    return 1\n");
        assertEquals(2, Main.execute("quantize", m, "-o", o, "--method", "gptq", "--calib", shortText.toString(), "-q"));
        assertEquals(2, Main.execute("quantize", tmp.resolve("no-model").toString(), "-o", o, "--method", "rtn", "-q"));
        assertFalse(Files.exists(out), "nothing may be written for bad input");
        try (Stream<Path> s = Files.list(tmp)) {
            assertTrue(s.noneMatch(p -> p.getFileName().toString().contains("lowbit-tmp")), "no temp directory left behind");
        }
        // An existing output is refused without --force, and with it too unless lowbit wrote it.
        Files.createDirectories(out);
        Files.writeString(out.resolve("keep.txt"), "user data");
        assertEquals(2, Main.execute("quantize", m, "-o", o, "--method", "rtn", "-q"));
        assertEquals(2, Main.execute("quantize", m, "-o", o, "--method", "rtn", "--force", "-q"));
        assertEquals("user data", Files.readString(out.resolve("keep.txt")));
        Path mine = tmp.resolve("mine");
        assertEquals(0, Main.execute("quantize", m, "-o", mine.toString(), "--method", "rtn", "--bits", "8", "-q"));
        assertEquals(0, Main.execute("quantize", m, "-o", mine.toString(), "--method", "rtn", "--force", "-q"));
        assertTrue(Files.readString(mine.resolve("recipe.json")).contains("\"bits\" : 4"));
    }

    private static List<Path> list(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.sorted().toList();
        }
    }
}
