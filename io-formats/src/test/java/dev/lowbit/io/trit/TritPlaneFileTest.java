package dev.lowbit.io.trit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lowbit.io.BadInputException;
import dev.lowbit.io.hf.DequantizingSource;
import dev.lowbit.io.quant.QuantizedTensor;
import dev.lowbit.io.safetensors.SafetensorsFile;
import dev.lowbit.io.safetensors.SafetensorsWriter;
import dev.lowbit.io.tensor.TensorSource;
import dev.lowbit.kernels.FloatFormats;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A trit-plane tensor written as safetensors and read back through DequantizingSource (what evaluate does). */
class TritPlaneFileTest {
    @TempDir
    Path tmp;

    private static QuantizedTensor tensor(int rows, int cols, int group) {
        Random rnd = new Random(5);
        List<QuantizedTensor.Plane> planes = new ArrayList<>();
        for (int p = 0; p < 2; p++) {
            byte[] codes = new byte[rows * cols];
            for (int i = 0; i < codes.length; i++) codes[i] = (byte) rnd.nextInt(3);
            float[] s = new float[rows * cols / group];
            for (int i = 0; i < s.length; i++) s[i] = FloatFormats.f16ToF32(FloatFormats.f32ToF16((float) rnd.nextGaussian() * 0.03f));
            planes.add(new QuantizedTensor.Plane(codes, s, null, null, null));
        }
        var scheme = TritPlaneTensors.scheme(2, group, TritPacking.BASE3);
        return new QuantizedTensor("m", rows, cols, scheme, planes, QuantizedTensor.sequentialGroups(cols, scheme), 1f);
    }

    private TensorSource write(QuantizedTensor q, ObjectNode qc) throws Exception {
        Path file = tmp.resolve("model.safetensors");
        Files.deleteIfExists(file);
        SafetensorsWriter.write(file, TritPlaneTensors.pack(q, TritPacking.BASE3).specs("model.layers.0.mlp.up_proj"),
                SafetensorsWriter.Options.defaults());
        ObjectNode config = JsonNodeFactory.instance.objectNode();
        config.set("quantization_config", qc);
        return DequantizingSource.wrap(SafetensorsFile.open(file), config, "config.json");
    }

    @Test
    void writtenFileDequantizesToTheInMemoryTensor() throws Exception {
        QuantizedTensor q = tensor(48, 384, 128);
        ObjectNode qc = TritPlaneConfig.quantizationConfig(new TritPlaneConfig.Fields(2, 128, TritPacking.BASE3), "ptqtp", List.of("lm_head"));
        try (TensorSource src = write(q, qc)) {
            assertEquals(List.of("model.layers.0.mlp.up_proj.weight"), src.names());
            float[] back = src.tensor("model.layers.0.mlp.up_proj.weight").toFloatArray();
            assertArrayEquals(q.dequantize(), back, 0f);
            // 2 planes × 1.6 bits + 2 × 16 / 128: the config states what the file costs
            assertEquals(3.45, qc.get("bits_per_weight").doubleValue(), 1e-12);
        }
    }

    @Test
    void aConfigThatDisagreesWithTheTensorsIsBadInputNamingTheModule() throws Exception {
        QuantizedTensor q = tensor(16, 256, 128);
        ObjectNode wrongGroup = TritPlaneConfig.quantizationConfig(new TritPlaneConfig.Fields(2, 64, TritPacking.BASE3), "ptqtp", List.of());
        try (TensorSource src = write(q, wrongGroup)) {
            BadInputException e = assertThrows(BadInputException.class, () -> src.tensor("model.layers.0.mlp.up_proj.weight"));
            assertTrue(e.getMessage().contains("model.layers.0.mlp.up_proj"), e.getMessage());
        }
        ObjectNode badVersion = TritPlaneConfig.quantizationConfig(new TritPlaneConfig.Fields(2, 128, TritPacking.BASE3), "ptqtp", List.of());
        badVersion.put("format_version", 7);
        assertThrows(BadInputException.class, () -> write(q, badVersion).close());
    }
}
