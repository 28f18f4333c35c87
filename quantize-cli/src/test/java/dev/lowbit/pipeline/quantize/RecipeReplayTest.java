package dev.lowbit.pipeline.quantize;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lowbit.cli.Main;
import dev.lowbit.io.SharedData;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Stored version-1 recipes replay to the bytes the version-1 code wrote: the RTN one against SHA-256 sums recorded
 * with that code (RTN is pure Java, so the bytes do not depend on the machine), the GPTQ one (whose Hessians come from
 * PyTorch on this CPU) against the same run given as flags. A version-2 YAML recipe of the RTN run gives the same bytes.
 * One deliberate difference: config.json now lists the Linears the recipe left unquantized (GPTQModel's
 * {@code dynamic} "-:" entries), which version 1 omitted so that loaders looked for packed weights that are not there;
 * without that block it is version 1's file byte for byte.
 */
class RecipeReplayTest {
    static final Path MODEL = SharedData.tinyLlama();

    @TempDir
    Path tmp;

    Path recipe(String resource) throws IOException {
        try (InputStream in = getClass().getResourceAsStream("/recipes/" + resource)) {
            String text = new String(in.readAllBytes(), StandardCharsets.UTF_8).replace("${shared}", SharedData.root().toString());
            Path p = tmp.resolve(resource);
            Files.writeString(p, text);
            return p;
        }
    }

    /** SHA-256 of config.json, the index and the shards. */
    static Map<String, String> sums(Path dir) throws IOException, NoSuchAlgorithmException {
        Map<String, String> out = new LinkedHashMap<>();
        try (Stream<Path> s = Files.list(dir)) {
            for (Path f : s.sorted().toList()) {
                String n = f.getFileName().toString();
                if (!n.startsWith("model") && !n.equals("config.json")) continue;
                out.put(n, sha256(Files.readAllBytes(f)));
            }
        }
        return out;
    }

    static String sha256(byte[] b) throws NoSuchAlgorithmException {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
    }

    /**
     * The sums with config.json's taken without quantization_config.dynamic (written as the pipeline writes it);
     * checks that the dynamic block only lists {@code skipped} modules as left out.
     */
    static Map<String, String> sumsWithoutLeftOut(Path dir, int skipped) throws IOException, NoSuchAlgorithmException {
        Map<String, String> out = sums(dir);
        ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        ObjectNode cfg = (ObjectNode) json.readTree(Files.readString(dir.resolve("config.json")));
        ObjectNode qc = (ObjectNode) cfg.get("quantization_config");
        JsonNode dynamic = qc.remove("dynamic");
        assertEquals(skipped, dynamic.size(), dynamic.toString());
        dynamic.fieldNames().forEachRemaining(k -> assertTrue(k.startsWith("-:^model\\.layers\\."), k));
        dynamic.elements().forEachRemaining(v -> assertEquals(0, v.size(), v.toString()));
        out.put("config.json", sha256((json.writeValueAsString(cfg) + "\n").getBytes(StandardCharsets.UTF_8)));
        return out;
    }

    @Test
    void versionOneRtnReplaysToTheStoredBytes() throws Exception {
        Map<String, String> expected = new LinkedHashMap<>();
        for (String line : Files.readAllLines(recipe("v1-rtn-w3-ignore.sha256"))) {
            if (line.isBlank() || line.startsWith("#")) continue;
            String[] f = line.split(" +");
            expected.put(f[1], f[0]);
        }
        Path out = tmp.resolve("v1");
        assertEquals(0, Main.execute("quantize", MODEL.toString(), "-o", out.toString(), "--recipe",
                recipe("v1-rtn-w3-ignore.json").toString(), "-q"));
        // ignored: all 7 Linears of layer 0 and down_proj of layers 1..5
        assertEquals(expected, sumsWithoutLeftOut(out, 7 + 5));
        assertTrue(Files.readString(out.resolve("recipe.json")).contains("\"version\" : 2"), "written recipes are version 2");

        Path yaml = tmp.resolve("rtn.yaml");
        Files.writeString(yaml, """
                version: 2
                steps:
                  - type: rtn
                    ignore: ['layers\\.0\\.', down_proj]
                    bits: 3
                    mse_clip: true
                output:
                  format: gptq
                """);
        Path out2 = tmp.resolve("v2-yaml");
        assertEquals(0, Main.execute("quantize", MODEL.toString(), "-o", out2.toString(), "--recipe", yaml.toString(), "-q"));
        assertEquals(expected, sumsWithoutLeftOut(out2, 7 + 5));
    }

    @Test
    void versionOneGptqReplaysLikeTheSameFlags() throws Exception {
        Path a = tmp.resolve("recipe"), b = tmp.resolve("flags");
        assertEquals(0, Main.execute("quantize", MODEL.toString(), "-o", a.toString(), "--recipe",
                recipe("v1-gptq-w4-ct.json").toString(), "-q"));
        assertEquals(0, Main.execute("quantize", MODEL.toString(), "-o", b.toString(), "--method", "gptq", "--bits", "4",
                "--group-size", "128", "--sym", "--act-order", "--targets", "self_attn", "--targets", "mlp\\.(gate|up)_proj",
                "--calib", SharedData.data("calib_code.txt").toString(), "--calib-samples", "2", "--calib-seqlen", "64",
                "--calib-random", "--seed", "7", "--format", "compressed-tensors", "-q"));
        Map<String, String> sa = sums(a);
        assertEquals(9, sa.size());
        assertEquals(sa, sums(b));
        assertArrayEquals(Files.readAllBytes(a.resolve("recipe.json")), Files.readAllBytes(b.resolve("recipe.json")),
                "the upgraded recipe is the recipe the flags make");
        List<String> shards = sa.keySet().stream().filter(n -> n.endsWith(".safetensors")).toList();
        assertEquals(7, shards.size());
        // the six down_proj the targets leave out are in compressed-tensors' ignore list, beside lm_head
        JsonNode ignore = new ObjectMapper().readTree(Files.readString(a.resolve("config.json"))).at("/quantization_config/ignore");
        assertEquals(7, ignore.size(), ignore.toString());
        assertEquals("model.layers.5.mlp.down_proj", ignore.get(6).asText());
    }
}
