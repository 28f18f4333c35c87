package dev.lowbit.io.export;

import dev.lowbit.io.SharedData;
import dev.lowbit.io.gguf.GgufArray;
import dev.lowbit.io.gguf.GgufValue;
import dev.lowbit.io.gguf.GgufValueType;

import dev.lowbit.io.ggml.GgmlType;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class ExportPlannerTest {
    static final Path TINY = SharedData.tinyLlama();

    @Test
    void tinyLlamaCodeEndToEnd() {
        for (LlamaFtype f : List.of(LlamaFtype.Q4_K_M, LlamaFtype.Q3_K_M, LlamaFtype.Q2_K)) {
            GgufExportPlanner.Spec spec = GgufExportPlanner.plan(TINY, QuantMix.Options.of(f));
            assertEquals(3 + 9 * 6, spec.tensors().size());
            TensorNames.Mapping q = spec.tensors().get("blk.0.attn_q.weight");
            assertEquals("model.layers.0.self_attn.q_proj.weight", q.hfName());
            assertArrayEquals(new long[] {512, 512}, q.ggufDims());
            assertEquals(TensorNames.Rows.PERMUTE_Q, q.rows());
            TensorNames.Mapping k = spec.tensors().get("blk.5.attn_k.weight");
            assertArrayEquals(new long[] {512, 256}, k.ggufDims(), "[out 256, in 512] reversed");
            assertEquals(TensorNames.Rows.PERMUTE_K, k.rows());
            assertEquals(TensorNames.Rows.AS_IS, spec.tensors().get("blk.5.attn_v.weight").rows());
            assertEquals("lm_head.weight", spec.tensors().get("output.weight").hfName());
            assertArrayEquals(new long[] {1536, 512}, spec.tensors().get("blk.2.ffn_down.weight").ggufDims());
            assertNull(spec.ropeFreqs());

            // the plan over real shapes equals the plan over the hand-written shapes of ExportQuantMixTest
            ExportPlan hand = QuantMix.plan(ExportQuantMixTest.TINY, f, ExportQuantMixTest.tinyLlamaCode());
            assertEquals(hand, spec.plan());
            spec.plan().requireBlockFit(TINY.toString());
            assertEquals(GgmlType.Q6_K, spec.plan().get("output.weight").type());

            assertEquals(GgufValue.ofUint32(f.id()), spec.metadata().get("general.file_type"));
            assertEquals("general.architecture", spec.metadata().firstEntry().getKey());
            assertTrue(spec.metadata().containsKey("tokenizer.ggml.merges"));
        }
    }

    /**
     * The planner takes its tensor types from the allocation it is given and nothing else: a policy that is not
     * llama.cpp's (every 2-D tensor Q8_0, declared as the Q8_0 mix) comes through unchanged, with the tensor names,
     * shapes and order the planner hands it.
     */
    @Test
    void plansThroughTheGivenAllocation() {
        BitAllocation allQ8 = new BitAllocation() {
            public LlamaFtype ftype() {
                return LlamaFtype.Q8_0;
            }

            public ExportPlan plan(QuantMix.ModelInfo model, List<TensorSpec> tensors) {
                assertEquals(6, model.nLayer());
                return new ExportPlan(ftype(), tensors.stream()
                        .map(t -> new PlannedTensor(t.name(), t.dims(), t.nDims() == 2 ? GgmlType.Q8_0 : t.sourceType(), null))
                        .toList());
            }
        };
        GgufExportPlanner.Spec spec = GgufExportPlanner.plan(TINY, allQ8);
        assertEquals(GgufValue.ofUint32(LlamaFtype.Q8_0.id()), spec.metadata().get("general.file_type"));
        assertEquals(GgmlType.Q8_0, spec.plan().get("blk.3.ffn_down.weight").type(), "Q4_K_M's rules would say Q6_K or Q4_K");
        assertEquals(GgmlType.Q8_0, spec.plan().get("token_embd.weight").type());
        assertEquals(GgmlType.F32, spec.plan().get("blk.0.attn_norm.weight").type());
        // llama.cpp's policy through the same interface is the plan QuantMix makes
        assertEquals(QuantMix.plan(ExportQuantMixTest.TINY, LlamaFtype.Q4_K_M, ExportQuantMixTest.tinyLlamaCode()),
                GgufExportPlanner.plan(TINY, BitAllocation.llamaCpp(QuantMix.Options.of(LlamaFtype.Q4_K_M))).plan());
    }

    @Test
    void qwenNamesAreNotPermuted() {
        TensorNames qwen = TensorNames.forArchitecture("qwen2");
        TensorNames.Mapping m = qwen.map("model.layers.3.self_attn.q_proj.bias", new long[] {896});
        assertEquals("blk.3.attn_q.bias", m.ggufName());
        assertEquals(TensorNames.Rows.AS_IS, m.rows(), "qwen2 uses NEOX rope: halves, like Hugging Face");
        TensorNames.Mapping n = TensorNames.forArchitecture("qwen3").map("model.layers.0.self_attn.k_norm.weight", new long[] {128});
        assertEquals("blk.0.attn_k_norm.weight", n.ggufName());
        TensorNames llama = TensorNames.forArchitecture("llama");
        assertEquals(TensorNames.Rows.PERMUTE_K, llama.map("model.layers.0.self_attn.k_proj.bias", new long[] {256}).rows());
        assertTrue(llama.skipped("model.layers.0.self_attn.rotary_emb.inv_freq"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> llama.mapAll(List.of("model.embed_tokens.weight", "model.vision.proj.weight"), n2 -> new long[] {4, 4}));
        assertTrue(e.getMessage().contains("model.vision.proj.weight"));
        assertThrows(IllegalArgumentException.class, () -> TensorNames.forArchitecture("gpt2"));
    }
}
