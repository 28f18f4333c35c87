package dev.lowbit.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lowbit.pipeline.output.CliRun;
import dev.lowbit.io.gguf.GgufFile;
import dev.lowbit.io.gguf.GgufWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Leaks through the real CLI: tokenizer-side files are copied into an artifact only when they are what they claim and
 * really live in the model's tree (Hugging Face cache snapshots keep working); text from files reaches the terminal
 * with its control characters escaped, while JSON output stays exact.
 */
class LeakCliTest {
    @TempDir
    Path tmp;

    CliRun quantize(Path model, Path out) {
        return CliRun.run("quantize", model.toString(), "-o", out.toString(), "--method", "rtn", "-q");
    }

    @Test
    void aLinkToASecretOutsideTheModelIsNeverCopied() throws IOException {
        Path secret = Files.writeString(tmp.resolve("credentials.json"), "{\"aws_secret_access_key\": \"hunter2\"}");
        HostileModel m = HostileModel.copyTo(tmp.resolve("m"));
        Files.createSymbolicLink(m.dir.resolve("special_tokens_map.json"), secret);
        Path out = tmp.resolve("out");
        CliRun r = quantize(m.dir, out);
        ModelValidationCliTest.refused(r, "special_tokens_map.json", "outside the model directory");
        assertFalse(Files.exists(out));
    }

    @Test
    void filesThatAreNotWhatTheirNameSaysAreRefused() throws IOException {
        String[][] cases = {
            {"merges.txt", "AWS_SECRET=hunter2\n", "line 1 is not a BPE merge"},
            {"tokenizer.model", "-----BEGIN OPENSSH PRIVATE KEY-----\n", "not a sentencepiece model"},
            {"vocab.json", "password: hunter2", "not valid JSON"},
            {"generation_config.json", "[1, 2, 3]", "not a JSON object"},
        };
        int i = 0;
        for (String[] c : cases) {
            HostileModel m = HostileModel.copyTo(tmp.resolve("m" + i));
            Files.writeString(m.dir.resolve(c[0]), c[1]);
            Path out = tmp.resolve("out" + i++);
            ModelValidationCliTest.refused(quantize(m.dir, out), c[0], c[2]);
            assertFalse(Files.exists(out));
        }
    }

    @Test
    void genuineSideFilesAndHuggingFaceCacheSnapshotsWork() throws IOException {
        // models--org--tiny/snapshots/<rev>/<file> -> ../../blobs/<hash>, as huggingface_hub lays a cache out
        Path repo = tmp.resolve("hub/models--org--tiny");
        Path blobs = Files.createDirectories(repo.resolve("blobs"));
        Path snap = Files.createDirectories(repo.resolve("snapshots/0123abcd"));
        HostileModel m = HostileModel.copyTo(tmp.resolve("staging"));
        Files.writeString(m.dir.resolve("merges.txt"), "#version: 0.2\nĠ t\nĠt he\n");
        Files.writeString(m.dir.resolve("special_tokens_map.json"), "{\"eos_token\": \"<|endoftext|>\"}");
        Files.write(m.dir.resolve("tokenizer.model"), new byte[] {0x0a, 0x05, 0x0a, 0x01, 'a', 0x15, 0, 0x12, 0x00});
        int k = 0;
        try (var s = Files.list(m.dir)) {
            for (Path p : s.toList()) {
                Path blob = blobs.resolve("blob" + k++);
                if (Files.isSymbolicLink(p)) Files.createSymbolicLink(blob, Files.readSymbolicLink(p));
                else Files.copy(p, blob);
                Files.createSymbolicLink(snap.resolve(p.getFileName().toString()), Path.of("../../blobs").resolve(blob.getFileName()));
            }
        }
        Path out = tmp.resolve("out");
        CliRun r = quantize(snap, out);
        assertEquals(0, r.code(), r.err());
        assertEquals("{\"eos_token\": \"<|endoftext|>\"}", Files.readString(out.resolve("special_tokens_map.json")));
        assertEquals("#version: 0.2\nĠ t\nĠt he\n", Files.readString(out.resolve("merges.txt")));
        assertTrue(Files.exists(out.resolve("tokenizer.model")));
        assertFalse(Files.isSymbolicLink(out.resolve("tokenizer.json")), "copies, not links");
    }

    // ---------------------------------------------------------------- terminal escapes

    Path hostileGguf(String arch) throws IOException {
        Path p = tmp.resolve("hostile-" + arch.length() + ".gguf");
        try (GgufFile f = GgufFile.open(HostileModel.STORIES_F32)) {
            GgufWriter w = GgufWriter.copyOf(f);
            w.putString("general.architecture", arch);
            w.putString("general.name", "x\u001b]0;pwned\u0007\u001b[2J\nlowbit: forged line\u202e");
            w.write(p);
        }
        return p;
    }

    @Test
    void inspectEscapesControlCharactersAndJsonStaysExact() throws IOException {
        Path p = hostileGguf("llama");
        CliRun text = CliRun.run("inspect", p.toString(), "--no-tensors");
        assertEquals(0, text.code(), text.err());
        assertFalse(text.out().contains("\u001b") || text.out().contains("\u0007") || text.out().contains("\u202e"), text.out());
        assertTrue(text.out().contains("x\\x1b]0;pwned\\x07\\x1b[2J\\nlowbit: forged line\\u{202e}"), text.out());
        assertFalse(text.out().lines().anyMatch(l -> l.startsWith("lowbit:")), "no forged line");
        CliRun json = CliRun.run("inspect", p.toString(), "--json");
        assertEquals(0, json.code(), json.err());
        assertEquals("x\u001b]0;pwned\u0007\u001b[2J\nlowbit: forged line\u202e",
                new ObjectMapper().readTree(json.out()).path("metadata").path("general.name").asText());
    }

    @Test
    void errorMessagesEscapeTextFromTheFile() throws IOException {
        Path p = hostileGguf("ll\u001b[31mama\nlowbit: ok");
        CliRun r = CliRun.run("convert", p.toString(), "-o", tmp.resolve("o.gguf").toString(), "--type", "f16");
        ModelValidationCliTest.refused(r, "'ll\\x1b[31mama\\nlowbit: ok'");
        assertFalse(r.err().contains("\u001b"), r.err());
    }
}
