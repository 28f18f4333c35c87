package dev.lowbit.pipeline.quantize;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lowbit.calib.eval.EvalRequest;
import dev.lowbit.calib.eval.EvalResult;
import dev.lowbit.calib.eval.Evaluator;
import dev.lowbit.calib.eval.Protocol;
import dev.lowbit.cli.Main;
import dev.lowbit.io.SharedData;
import dev.lowbit.io.hf.DequantizingSource;
import dev.lowbit.io.tensor.TensorSource;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The AutoAWQ gemm writer and reader on tiny-llama-code, against the same codes written as GPTQ v1. */
class AwqFormatTest {
    static final Path SHARED = SharedData.root();
    static final Path MODEL = SHARED.resolve("models/tiny-llama-code");

    @TempDir
    Path tmp;

    /**
     * Symmetric RTN w4 g128 stores the same codes, fp16 scales and zero points (8) in both formats (no GPTQ zero floor
     * applies), so the packing is exact iff every Linear reads back bit-identical and the two checkpoints evaluate to
     * exactly the same perplexity (same f32 forward on the same weights: no tolerance).
     */
    @Test
    void awqGemmEvaluatesLikeTheSameCodesAsGptq() throws Exception {
        Path gptq = tmp.resolve("gptq"), awq = tmp.resolve("awq");
        for (String format : new String[] {"gptq", "awq"}) {
            assertEquals(0, Main.execute("quantize", MODEL.toString(), "-o", tmp.resolve(format).toString(), "--method", "rtn",
                    "--bits", "4", "--group-size", "128", "--sym", "--format", format, "-q"));
        }
        JsonNode qc = new ObjectMapper().readTree(Files.readString(awq.resolve("config.json"))).path("quantization_config");
        assertEquals("awq", qc.path("quant_method").asText());
        assertEquals("gemm", qc.path("version").asText());
        assertEquals(4, qc.path("bits").asInt());
        assertEquals(128, qc.path("group_size").asInt());
        assertEquals(true, qc.path("zero_point").asBoolean());
        try (TensorSource a = DequantizingSource.openDirectory(gptq); TensorSource b = DequantizingSource.openDirectory(awq)) {
            assertEquals(DequantizingSource.Format.AWQ, ((DequantizingSource) b).format());
            assertEquals(a.names().stream().sorted().toList(), b.names().stream().sorted().toList());
            assertFalse(((DequantizingSource) b).quantizedModules().isEmpty());
            for (String m : ((DequantizingSource) b).quantizedModules()) {
                assertArrayEquals(a.tensor(m + ".weight").toFloatArray(), b.tensor(m + ".weight").toFloatArray(), 0f, m);
            }
        }
        Path data = SHARED.resolve("data/eval_code.txt");
        EvalResult pg = Evaluator.evaluate(new EvalRequest(gptq, data, 256, 4, Protocol.REFERENCE, null, 2, 4), Evaluator.Progress.NONE);
        EvalResult pa = Evaluator.evaluate(new EvalRequest(awq, data, 256, 4, Protocol.REFERENCE, null, 2, 4), Evaluator.Progress.NONE);
        assertEquals(pg.perplexity(), pa.perplexity(), 0.0);
    }

    /** What gemm cannot hold is exit 2 before anything is written. */
    @Test
    void refusesWhatGemmCannotStore() {
        for (String[] flags : new String[][] {{"--bits", "3"}, {"--group-size", "-1"}}) {
            Path out = tmp.resolve("bad" + flags[1]);
            String[] args = {"quantize", MODEL.toString(), "-o", out.toString(), "--method", "rtn", "--format", "awq", flags[0], flags[1], "-q"};
            assertEquals(2, Main.execute(args));
            assertFalse(Files.exists(out));
        }
    }
}
