package dev.lowbit.pipeline.quantize;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
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
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A recipe's per-module overrides: the modules they match are quantized on their own grid, the checkpoint's
 * quantization_config says so (GPTQModel's {@code dynamic}, compressed-tensors config groups by module name), and
 * reading it back gives, module by module, exactly RTN on the expected grid (called here directly).
 */
class SchemeOverridesTest {
    static final Path MODEL = SharedData.tinyLlama();

    @TempDir
    Path tmp;

    @ParameterizedTest
    @ValueSource(strings = {"gptq", "compressed-tensors"})
    void overriddenModulesHaveTheirOwnGrid(String format) throws IOException {
        Path recipe = tmp.resolve("mixed.yaml");
        Files.writeString(recipe, """
                version: 2
                steps:
                  - type: rtn
                    bits: 4
                    group_size: 128
                overrides:
                  - {pattern: 'mlp\\.down_proj', bits: 8}
                  - {pattern: 'layers\\.0\\.self_attn', group_size: 64, symmetric: true}
                output: {format: %s}
                """.formatted(format));
        Path out = tmp.resolve(format);
        assertEquals(0, Main.execute("quantize", MODEL.toString(), "-o", out.toString(), "--recipe", recipe.toString(), "-q"));

        JsonNode qc = new ObjectMapper().readTree(Files.readString(out.resolve("config.json"))).get("quantization_config");
        if (format.equals("gptq")) {
            assertEquals(4, qc.get("bits").asInt());
            assertEquals(6 + 4, qc.get("dynamic").size(), qc.toString());
            assertEquals(8, qc.get("dynamic").get("+:^model\\.layers\\.5\\.mlp\\.down_proj$").get("bits").asInt(), qc.toString());
        } else {
            assertEquals(3, qc.get("config_groups").size(), qc.toString());
        }

        QuantScheme base = new QuantScheme(4, 128, false), down = new QuantScheme(8, 128, false), attn0 = new QuantScheme(4, 64, true);
        try (TensorSource original = ShardedSafetensors.open(MODEL);
             TensorSource written = DequantizingSource.openDirectory(out)) {
            int checked = 0;
            for (String name : original.names()) {
                if (!name.contains(".mlp.") && !name.contains(".self_attn.") || !name.endsWith("_proj.weight")) continue;
                QuantScheme s = name.contains("mlp.down_proj") ? down : name.contains("layers.0.self_attn") ? attn0 : base;
                assertEquals(s, ((DequantizingSource) written).schemeOf(name.substring(0, name.length() - ".weight".length())), name);
                var t = original.tensor(name);
                int rows = (int) t.shape().dim(0), cols = (int) t.shape().dim(1);
                QuantizedTensor q = Rtn.rtn(name, t.toFloatArray(), rows, cols, s);
                float[] scales = q.scales().clone();
                for (int i = 0; i < scales.length; i++) {
                    scales[i] = format.equals("gptq") ? FloatFormats.f16ToF32(FloatFormats.f32ToF16(scales[i]))
                            : FloatFormats.bf16ToF32(FloatFormats.f32ToBf16(scales[i]));
                }
                float[] expected = new QuantizedTensor(name, rows, cols, s, q.codes(), scales, q.zeros(), q.gIdx()).dequantize();
                assertArrayEquals(expected, written.tensor(name).toFloatArray(), 0f, name);
                checked++;
            }
            assertEquals(42, checked);
        }
        assertTrue(Files.readString(out.resolve("recipe.json")).contains("\"pattern\" : \"mlp\\\\.down_proj\""),
                Files.readString(out.resolve("recipe.json")));
    }
}
