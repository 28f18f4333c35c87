package dev.lowbit.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lowbit.io.SharedData;
import dev.lowbit.pipeline.output.CliRun;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code lowbit convert --format onnx} then {@code lowbit evaluate model.onnx}: ONNX Runtime's perplexity equals ours. */
class OnnxEvaluateCliTest {
    @TempDir
    Path tmp;

    @Test
    void exportedFp32PerplexityEqualsOurRuntimes() throws Exception {
        Path out = tmp.resolve("onnx");
        CliRun c = CliRun.run("convert", SharedData.tinyLlama().toString(), "-o", out.toString(), "--format", "onnx", "--json");
        assertEquals(0, c.code(), c.err());
        assertTrue(Files.exists(out.resolve("model.onnx.data")) && Files.exists(out.resolve("tokenizer.json")));
        String data = SharedData.data("eval_code.txt").toString();
        CliRun ort = CliRun.run("evaluate", out.resolve("model.onnx").toString(), "--data", data, "--max-windows", "2", "--json");
        assertEquals(0, ort.code(), ort.err());
        CliRun djl = CliRun.run("evaluate", SharedData.tinyLlama().toString(), "--data", data, "--max-windows", "2", "--json");
        assertEquals(0, djl.code(), djl.err());
        ObjectMapper json = new ObjectMapper();
        JsonNode a = json.readTree(ort.out()), b = json.readTree(djl.out());
        assertEquals(b.get("scored_tokens").asLong(), a.get("scored_tokens").asLong());
        // the bar: 1e-4 relative (f32 logits from the same weights; measured ~1e-6 on these windows)
        double rel = Math.abs(a.get("perplexity").asDouble() / b.get("perplexity").asDouble() - 1);
        assertTrue(rel <= 1e-4, "ORT " + a.get("perplexity") + " vs DJL " + b.get("perplexity"));
        // against our runtime as the baseline, on the same windows: same perplexity, KL ~ 0, top-1 all agree
        CliRun base = CliRun.run("evaluate", out.resolve("model.onnx").toString(), "--data", data, "--max-windows", "1",
                "--baseline", SharedData.tinyLlama().toString(), "--json");
        assertEquals(0, base.code(), base.err());
        JsonNode k = json.readTree(base.out());
        assertTrue(k.get("kl").asDouble() < 1e-6 && k.get("top1_agreement").asDouble() == 1.0, base.out());
        assertTrue(k.get("max_abs_delta_logit").asDouble() < 2e-3, base.out()); // the golden-logit tolerance
        assertEquals(k.get("baseline_perplexity").asDouble(), k.get("perplexity").asDouble(), 1e-4 * k.get("perplexity").asDouble());
        // refused with one line: --type with --format onnx
        CliRun type = CliRun.run("convert", SharedData.tinyLlama().toString(), "-o", tmp.resolve("x").toString(), "--format", "onnx", "--type", "f16");
        assertEquals(2, type.code(), type.err());
        assertTrue(type.err().contains("--type"), type.err());
    }
}
