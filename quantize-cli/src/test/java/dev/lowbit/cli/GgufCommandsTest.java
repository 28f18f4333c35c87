package dev.lowbit.cli;

import static org.junit.jupiter.api.Assertions.*;

import dev.lowbit.io.SharedData;
import dev.lowbit.pipeline.output.CliRun;
import dev.lowbit.io.ggml.GgmlType;
import dev.lowbit.io.gguf.GgufWriter;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code lowbit convert} / {@code quantize --format gguf} end to end through {@link Main#execute}: exit codes and one-line errors. */
class GgufCommandsTest {
    static final Path STORIES = SharedData.resolve("data/gguf/stories260K");

    @TempDir
    Path tmp;

    /** A one-tensor GGUF whose tensor type id is then overwritten with {@code typeId}. */
    Path withTypeId(int typeId, String arch) throws IOException {
        Path p = tmp.resolve("type" + typeId + ".gguf");
        GgufWriter w = new GgufWriter();
        w.putString("general.architecture", arch);
        w.addTensor("token_embd.weight", new long[] {32, 2}, GgmlType.F32, MemorySegment.ofArray(new byte[256]));
        w.write(p);
        byte[] b = Files.readAllBytes(p);
        byte[] name = "token_embd.weight".getBytes(StandardCharsets.US_ASCII);
        int at = indexOf(b, name) + name.length + 4 + 2 * 8; // name, u32 n_dims, two u64 dims → u32 type
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putInt(at, typeId);
        Files.write(p, b);
        return p;
    }

    private static int indexOf(byte[] hay, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= hay.length; i++) {
            for (int j = 0; j < needle.length; j++) if (hay[i + j] != needle[j]) continue outer;
            return i;
        }
        throw new AssertionError("not found");
    }

    @Test
    void unknownTypeIdIsExitTwoNamingTheType() throws IOException {
        CliRun r = CliRun.run("convert", withTypeId(99, "llama").toString(), "-o", tmp.resolve("o.gguf").toString(), "--type", "f32");
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("unknown ggml type id 99"), r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertFalse(Files.exists(tmp.resolve("o.gguf")));
    }

    @Test
    void forkedDialectIsExitTwoNamingTheFork() throws IOException {
        CliRun r = CliRun.run("quantize", "--format", "gguf", withTypeId(36, "bitnet").toString(), "-o", tmp.resolve("o.gguf").toString(), "--type", "Q4_0");
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("ggml type 36") && r.err().contains("BitNet"), r.err());
    }

    @Test
    void misfitIsExitTwoNamingTheTensor() {
        CliRun r = CliRun.run("quantize", "--format", "gguf", STORIES.resolve("stories260K-f32.gguf").toString(), "-o", tmp.resolve("q.gguf").toString(),
                "--type", "Q8_0");
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("'blk.0.ffn_down.weight' row 172 vs Q8_0 block 32"), r.err());
        assertFalse(Files.exists(tmp.resolve("q.gguf")));
    }

    @Test
    void quantizeGgufPrintsAJsonReport() throws Exception {
        CliRun r = CliRun.run("quantize", "--format", "gguf", STORIES.resolve("stories260K-f32.gguf").toString(), "-o", tmp.resolve("q.gguf").toString(),
                "--type", "q4_0", "--tensor-type", "ffn_down=F16", "--json");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("\"ftype\":\"Q4_0\""), r.out());
        assertTrue(r.out().contains("\"tensor_types\":{\"F16\":5,\"F32\":11,\"Q4_0\":31,\"Q8_0\":1}"), r.out());
        assertTrue(r.out().contains("\"bits_per_weight\""), r.out());
        // the sidecar manifest: the input's digest (hashed on a background thread while quantizing) and the output's,
        // against SHA-256 computed here
        String manifest = Files.readString(tmp.resolve("q.gguf.lowbit-manifest.json"));
        assertTrue(manifest.contains("\"model/stories260K-f32.gguf\" : \"" + sha256(STORIES.resolve("stories260K-f32.gguf")) + "\""), manifest);
        assertTrue(manifest.contains("\"output_sha256\" : \"" + sha256(tmp.resolve("q.gguf")) + "\""), manifest);
        CliRun again = CliRun.run("quantize", "--format", "gguf", STORIES.resolve("stories260K-f32.gguf").toString(), "-o", tmp.resolve("q.gguf").toString(),
                "--type", "q4_0", "--tensor-type", "ffn_down=F16");
        assertEquals(2, again.code());
        assertTrue(again.err().contains("already exists (pass --force to replace an output lowbit wrote)"), again.err());
        assertEquals(2, CliRun.run("quantize", "--format", "gguf", "x", "-o", "y", "--type", "Q9_K").code());
        assertEquals(2, CliRun.run("quantize", "x", "-o", "y", "--format", "onnx").code());
    }

    private static String sha256(Path f) throws Exception {
        return java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(f)));
    }
}
