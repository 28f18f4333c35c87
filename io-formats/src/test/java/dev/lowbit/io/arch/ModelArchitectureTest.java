package dev.lowbit.io.arch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lowbit.io.BadInputException;
import dev.lowbit.io.SharedData;
import dev.lowbit.io.export.TensorNames;
import dev.lowbit.io.hf.HfConfig;
import dev.lowbit.io.safetensors.ShardedSafetensors;
import dev.lowbit.io.tensor.TensorSource;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The architecture table against a real checkpoint and against itself (HF ↔ GGUF names are inverse). */
class ModelArchitectureTest {
    static final ModelDims TINY = new ModelDims(512, 1536, 6, 8, 4, 64, 8192, false, "test");

    @Test
    void expectsExactlyTheTensorsOfTinyLlamaWithTheirShapes() {
        HfConfig c = HfConfig.read(SharedData.tinyLlama().resolve("config.json"));
        ModelArchitecture a = ModelArchitecture.forHfClass(c.architectures().getFirst(), "config.json");
        ModelDims d = ModelDims.of(c, "config.json");
        assertEquals(TINY, new ModelDims(d.hidden(), d.intermediate(), d.layers(), d.heads(), d.kvHeads(), d.headDim(),
                d.vocab(), d.tied(), "test"));
        List<ModelCheck.TensorFacts> facts = new ArrayList<>();
        Set<String> required = new HashSet<>();
        for (ModelArchitecture.Expected e : a.expected(d)) if (e.required()) required.add(e.slot().hfName());
        try (TensorSource s = ShardedSafetensors.open(SharedData.tinyLlama())) {
            for (String n : s.names()) {
                var t = s.tensor(n);
                facts.add(new ModelCheck.TensorFacts(n, t.shape().dims(), t.dtype().wireName(), t.dtype().isFloatingPoint()));
                assertTrue(required.remove(n), "expected: " + n);
            }
        }
        assertEquals(Set.of(), required, "every required tensor is in the checkpoint");
        ModelCheck.require(a, d, facts, ModelCheck.Naming.HUGGING_FACE, "tiny", "config.json");
    }

    @Test
    void huggingFaceAndGgufNamesAreInverseForEveryFamilyAndRole() {
        for (ModelArchitecture a : ModelArchitecture.ALL) {
            TensorNames names = TensorNames.forArchitecture(a.ggufName());
            for (ModelArchitecture.Expected e : a.expected(TINY)) {
                ModelArchitecture.Slot s = e.slot();
                assertEquals(s, a.parseHf(s.hfName()).orElseThrow(), s.hfName());
                assertEquals(s, a.parseGguf(s.ggufName()).orElseThrow(), s.ggufName());
                TensorNames.Mapping m = names.map(s.hfName(), e.shape());
                assertEquals(s.ggufName(), m.ggufName());
                assertEquals(s.hfName(), names.hfName(m.ggufName()));
                boolean permuted = a.permutesQk() && (s.role() == TensorRole.Q || s.role() == TensorRole.K);
                assertEquals(permuted, m.rows() != TensorNames.Rows.AS_IS, s.hfName());
            }
        }
    }

    @Test
    void balanceMappingsAreThoseOfAPreNormBlock() {
        ModelArchitecture llama = ModelArchitecture.forGguf("llama", "t");
        assertEquals(List.of(TensorRole.Q, TensorRole.K, TensorRole.V), llama.balances().get(0).to());
        assertEquals(TensorRole.INPUT_NORM, llama.balances().get(0).from());
        assertEquals(List.of(TensorRole.O), llama.balances().get(1).to());
        assertEquals(List.of(TensorRole.GATE, TensorRole.UP), llama.balances().get(2).to());
        assertEquals(List.of(TensorRole.DOWN), llama.balances().get(3).to());
        assertFalse(llama.roles().contains(TensorRole.Q_NORM));
        assertTrue(ModelArchitecture.forGguf("qwen3", "t").roles().contains(TensorRole.Q_NORM));
        assertEquals(List.of(TensorRole.Q, TensorRole.K, TensorRole.V, TensorRole.O, TensorRole.GATE, TensorRole.UP,
                TensorRole.DOWN), llama.linears());
    }

    @Test
    void shapesFollowTheDimensions() {
        assertArrayEquals(new long[] {512, 512}, TensorRole.Q.weightShape(TINY));
        assertArrayEquals(new long[] {256, 512}, TensorRole.K.weightShape(TINY));
        assertArrayEquals(new long[] {512, 512}, TensorRole.O.weightShape(TINY));
        assertArrayEquals(new long[] {512, 1536}, TensorRole.DOWN.weightShape(TINY));
        assertArrayEquals(new long[] {64}, TensorRole.K_NORM.weightShape(TINY));
        assertThrows(BadInputException.class, () -> new ModelDims(512, 1536, 6, 8, 3, 64, 8192, false, "c"));
        assertThrows(BadInputException.class, () -> new ModelDims(512, 1536, 6, 0, 4, 64, 8192, false, "c"));
        assertThrows(BadInputException.class, () -> new ModelDims(512, 1536, 6, 8, 4, 63, 8192, false, "c"));
    }
}
