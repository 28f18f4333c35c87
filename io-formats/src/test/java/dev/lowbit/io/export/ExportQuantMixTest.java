package dev.lowbit.io.export;

import dev.lowbit.io.BadInputException;
import dev.lowbit.io.SharedData;
import dev.lowbit.io.ggml.GgmlType;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

class ExportQuantMixTest {
    static final Path SHARED = SharedData.root();
    static final Path STORIES = SHARED.resolve("data/gguf/stories260K");

    /** tiny-llama-code's GGUF tensors: hidden 512, 6 layers, 8 heads × 64, 4 kv heads, MLP 1536, vocab 8192. */
    static List<TensorSpec> tinyLlamaCode() {
        List<TensorSpec> t = new ArrayList<>();
        t.add(TensorSpec.f32("token_embd.weight", 512, 8192));
        t.add(TensorSpec.f32("output_norm.weight", 512));
        t.add(TensorSpec.f32("output.weight", 512, 8192));
        for (int i = 0; i < 6; i++) {
            String p = "blk." + i + ".";
            t.add(TensorSpec.f32(p + "attn_q.weight", 512, 512));
            t.add(TensorSpec.f32(p + "attn_k.weight", 512, 256));
            t.add(TensorSpec.f32(p + "attn_v.weight", 512, 256));
            t.add(TensorSpec.f32(p + "attn_output.weight", 512, 512));
            t.add(TensorSpec.f32(p + "ffn_gate.weight", 512, 1536));
            t.add(TensorSpec.f32(p + "ffn_up.weight", 512, 1536));
            t.add(TensorSpec.f32(p + "ffn_down.weight", 1536, 512));
            t.add(TensorSpec.f32(p + "attn_norm.weight", 512));
            t.add(TensorSpec.f32(p + "ffn_norm.weight", 512));
        }
        return t;
    }

    static final QuantMix.ModelInfo TINY = new QuantMix.ModelInfo("llama", 6, 8, 4, 0);

    /**
     * The rules written out for 6 layers (n/8 = 0, 7n/8 = 5, n/16 = 0, so use_more_bits(i) holds for i = 2 and 5;
     * gqa = 8/4 = 2 < 4):
     * <pre>
     *            token_embd output attn_q/k ffn_gate/up attn_output attn_v                ffn_down
     *   Q4_K_M   Q4_K       Q6_K   Q4_K     Q4_K        Q4_K        Q6_K at 2,5 else Q4_K Q6_K at 2,5 else Q4_K
     *   Q3_K_M   Q3_K       Q6_K   Q3_K     Q3_K        Q4_K        Q5_K at 0,1 else Q4_K Q4_K
     *   Q2_K     Q2_K       Q6_K   Q2_K     Q2_K        Q3_K        Q3_K                  Q3_K
     * </pre>
     * Norms stay F32 in every mix.
     */
    static Map<String, GgmlType> expectedTiny(LlamaFtype f) {
        Map<String, GgmlType> m = new LinkedHashMap<>();
        GgmlType base = f.defaultType();
        m.put("output.weight", GgmlType.Q6_K);
        m.put("output_norm.weight", GgmlType.F32);
        m.put("token_embd.weight", base);
        for (int i = 0; i < 6; i++) {
            boolean more = i == 2 || i == 5;
            String p = "blk." + i + ".";
            m.put(p + "attn_k.weight", base);
            m.put(p + "attn_norm.weight", GgmlType.F32);
            m.put(p + "attn_output.weight", switch (f) {
                case Q2_K -> GgmlType.Q3_K;
                case Q3_K_M -> GgmlType.Q4_K;
                default -> base;
            });
            m.put(p + "attn_q.weight", base);
            m.put(p + "attn_v.weight", switch (f) {
                case Q4_K_M -> more ? GgmlType.Q6_K : GgmlType.Q4_K;
                case Q3_K_M -> i < 2 ? GgmlType.Q5_K : GgmlType.Q4_K;
                case Q2_K -> GgmlType.Q3_K;
                default -> throw new AssertionError();
            });
            m.put(p + "ffn_down.weight", switch (f) {
                case Q4_K_M -> more ? GgmlType.Q6_K : GgmlType.Q4_K;
                case Q3_K_M -> GgmlType.Q4_K;
                case Q2_K -> GgmlType.Q3_K;
                default -> throw new AssertionError();
            });
            m.put(p + "ffn_gate.weight", base);
            m.put(p + "ffn_norm.weight", GgmlType.F32);
            m.put(p + "ffn_up.weight", base);
        }
        return m;
    }

    @Test
    void tinyLlamaCodeMixesFollowTheWrittenRules() {
        for (LlamaFtype f : List.of(LlamaFtype.Q4_K_M, LlamaFtype.Q3_K_M, LlamaFtype.Q2_K)) {
            ExportPlan plan = QuantMix.plan(TINY, f, tinyLlamaCode());
            Map<String, GgmlType> expected = expectedTiny(f);
            Map<String, GgmlType> actual = new LinkedHashMap<>();
            for (PlannedTensor t : plan.tensors()) actual.put(t.name(), t.type());
            // same map in the same order: llama.cpp writes non-layer tensors first, then by layer, by name within
            assertEquals(List.copyOf(expected.entrySet()), List.copyOf(actual.entrySet()), f.name());
            assertTrue(plan.misfits().isEmpty());
            assertTrue(plan.fallbacks().isEmpty(), "every dim of tiny-llama-code is a multiple of 256");
            plan.requireBlockFit("tiny-llama-code");
        }
    }

    @Test
    void tinyLlamaCodeLegacyAndFloatMixes() {
        ExportPlan q8 = QuantMix.plan(TINY, LlamaFtype.Q8_0, tinyLlamaCode());
        assertEquals(GgmlType.Q8_0, q8.get("output.weight").type(), "output stays Q8_0 when the mix type is Q8_0");
        assertEquals(GgmlType.Q8_0, q8.get("blk.3.ffn_down.weight").type());
        ExportPlan q4 = QuantMix.plan(TINY, LlamaFtype.Q4_0, tinyLlamaCode());
        assertEquals(GgmlType.Q6_K, q4.get("output.weight").type(), "Q4_0 files carry a Q6_K output");
        assertEquals(GgmlType.Q4_0, q4.get("token_embd.weight").type());
        assertEquals(GgmlType.Q4_0, q4.get("blk.0.ffn_down.weight").type());
        ExportPlan q4i = QuantMix.plan(TINY, QuantMix.Options.of(LlamaFtype.Q4_0).withImatrix(true), tinyLlamaCode());
        assertEquals(GgmlType.Q4_0, q4i.get("blk.0.ffn_down.weight").type(), "n/8 = 0 layers for 6 layers");
        ExportPlan f16 = QuantMix.plan(TINY, LlamaFtype.F16, tinyLlamaCode());
        assertEquals(GgmlType.F16, f16.get("output.weight").type());
        assertEquals(GgmlType.F16, f16.get("token_embd.weight").type());
        assertEquals(GgmlType.F32, f16.get("blk.0.attn_norm.weight").type());
        ExportPlan f32 = QuantMix.plan(TINY, LlamaFtype.ALL_F32, tinyLlamaCode());
        assertTrue(f32.tensors().stream().allMatch(t -> t.type() == GgmlType.F32));
        ExportPlan tq2 = QuantMix.plan(TINY, LlamaFtype.TQ2_0, tinyLlamaCode());
        assertEquals(GgmlType.Q4_K, tq2.get("token_embd.weight").type());
        assertEquals(GgmlType.Q6_K, tq2.get("output.weight").type());
        assertEquals(GgmlType.TQ2_0, tq2.get("blk.0.attn_q.weight").type());
        ExportPlan iq4 = QuantMix.plan(TINY, LlamaFtype.IQ4_NL, tinyLlamaCode());
        assertEquals(GgmlType.IQ4_NL, iq4.get("blk.0.attn_v.weight").type(), "gqa 2 < 4");
        assertEquals(GgmlType.IQ4_NL, iq4.get("blk.0.ffn_down.weight").type(), "n/8 = 0 layers");
        ExportPlan mx = QuantMix.plan(TINY, LlamaFtype.MXFP4_MOE, tinyLlamaCode());
        assertEquals(GgmlType.Q8_0, mx.get("blk.0.attn_q.weight").type(), "dense tensors are Q8_0 in MXFP4_MOE");
        assertEquals(GgmlType.Q8_0, mx.get("output.weight").type());
    }

    @Test
    void moreLayersSpreadTheExtraBits() {
        // 32 layers: n/8 = 4, 7n/8 = 28; more(i) for i < 4, i >= 28, and (i-4) % 3 == 2 → 6, 9, …, 27
        List<TensorSpec> t = new ArrayList<>();
        t.add(TensorSpec.f32("token_embd.weight", 4096, 32000));
        for (int i = 0; i < 32; i++) {
            t.add(TensorSpec.f32("blk." + i + ".attn_v.weight", 4096, 1024));
            t.add(TensorSpec.f32("blk." + i + ".ffn_down.weight", 14336, 4096));
        }
        ExportPlan p = QuantMix.plan(new QuantMix.ModelInfo("llama", 32, 32, 8, 0), LlamaFtype.Q4_K_M, t);
        for (int i = 0; i < 32; i++) {
            boolean more = i < 4 || i >= 28 || (i - 4) % 3 == 2;
            GgmlType want = more ? GgmlType.Q6_K : GgmlType.Q4_K;
            assertEquals(want, p.get("blk." + i + ".attn_v.weight").type(), "attn_v " + i);
            assertEquals(want, p.get("blk." + i + ".ffn_down.weight").type(), "ffn_down " + i);
        }
        // tied embeddings (no output.weight): token_embd takes the output rule
        assertEquals(GgmlType.Q6_K, p.get("token_embd.weight").type());
        // blk.10 sorts after blk.9 (numeric layer order, not string order)
        List<String> names = p.tensors().stream().map(PlannedTensor::name).toList();
        assertTrue(names.indexOf("blk.9.attn_v.weight") < names.indexOf("blk.10.attn_v.weight"));
        // Q2_K with gqa 4 gives attn_v Q4_K; Q3_K_M's ffn_down gets Q5_K for i < n/16 = 2
        ExportPlan q2 = QuantMix.plan(new QuantMix.ModelInfo("llama", 32, 32, 8, 0), LlamaFtype.Q2_K, t);
        assertEquals(GgmlType.Q4_K, q2.get("blk.7.attn_v.weight").type());
        ExportPlan q3 = QuantMix.plan(new QuantMix.ModelInfo("llama", 32, 32, 8, 0), LlamaFtype.Q3_K_M, t);
        assertEquals(GgmlType.Q5_K, q3.get("blk.1.ffn_down.weight").type());
        assertEquals(GgmlType.Q4_K, q3.get("blk.2.ffn_down.weight").type());
    }

    @Test
    void overridesPureAndOutputOptions() {
        List<QuantMix.TypeOverride> ov = List.of(QuantMix.TypeOverride.parse("attn_v=q8_0"),
                QuantMix.TypeOverride.parse("blk\\.[0-2]\\.ffn_down=Q5_K"));
        ExportPlan p = QuantMix.plan(TINY, QuantMix.Options.of(LlamaFtype.Q4_K_M).withOverrides(ov), tinyLlamaCode());
        for (int i = 0; i < 6; i++) assertEquals(GgmlType.Q8_0, p.get("blk." + i + ".attn_v.weight").type());
        assertEquals(GgmlType.Q5_K, p.get("blk.2.ffn_down.weight").type());
        // overridden tensors do not advance llama.cpp's ffn_down counter: blk.3 is counted as index 0, so more(0) is
        // false and blk.5 is index 2 → Q6_K
        assertEquals(GgmlType.Q4_K, p.get("blk.3.ffn_down.weight").type());
        assertEquals(GgmlType.Q6_K, p.get("blk.5.ffn_down.weight").type());
        assertEquals(GgmlType.F32, p.get("blk.0.ffn_norm.weight").type(), "1-D tensors are never quantized");

        ExportPlan pure = QuantMix.plan(TINY, QuantMix.Options.of(LlamaFtype.Q4_K_M).withPure(true), tinyLlamaCode());
        for (PlannedTensor t : pure.tensors()) {
            assertEquals(t.dims().length == 1 ? GgmlType.F32 : GgmlType.Q4_K, t.type(), t.name());
        }
        ExportPlan leave = QuantMix.plan(TINY, QuantMix.Options.of(LlamaFtype.Q4_K_M).withQuantizeOutput(false)
                .withTokenEmbeddingType(GgmlType.Q8_0), tinyLlamaCode());
        assertEquals(GgmlType.F32, leave.get("output.weight").type());
        assertEquals(GgmlType.Q8_0, leave.get("token_embd.weight").type());
        ExportPlan out = QuantMix.plan(TINY, QuantMix.Options.of(LlamaFtype.Q2_K).withOutputType(GgmlType.Q8_0), tinyLlamaCode());
        assertEquals(GgmlType.Q8_0, out.get("output.weight").type());
        assertThrows(IllegalArgumentException.class, () -> QuantMix.TypeOverride.parse("attn_v=Q9_9"));
        assertThrows(IllegalArgumentException.class, () -> QuantMix.TypeOverride.parse("attn_v"));
    }

    @Test
    void rowLengthFallbacksAndTheBlockCheck() {
        // 172-wide rows (stories260K's ffn_down) fit no block; 64-wide rows fit 32-blocks but not 256-blocks
        List<TensorSpec> t = List.of(TensorSpec.f32("blk.0.ffn_down.weight", 172, 64),
                TensorSpec.f32("blk.0.ffn_up.weight", 64, 172), TensorSpec.f32("blk.0.attn_v.weight", 64, 32));
        QuantMix.ModelInfo m = new QuantMix.ModelInfo("llama", 1, 8, 4, 0);
        ExportPlan q2 = QuantMix.plan(m, LlamaFtype.Q2_K, t);
        assertEquals(GgmlType.F16, q2.get("blk.0.ffn_down.weight").type());
        assertEquals(GgmlType.Q3_K, q2.get("blk.0.ffn_down.weight").fallbackFrom());
        assertEquals(GgmlType.Q4_0, q2.get("blk.0.ffn_up.weight").type(), "current llama.cpp: Q2_K → Q4_0");
        assertEquals(GgmlType.Q4_0, q2.get("blk.0.attn_v.weight").type());
        assertTrue(q2.misfits().isEmpty());

        // Q8_0 has no fallback: llama.cpp aborts, we report every misfit by name before writing
        ExportPlan q8 = QuantMix.plan(m, LlamaFtype.Q8_0, t);
        assertEquals(List.of("blk.0.ffn_down.weight"), q8.misfits().stream().map(PlannedTensor::name).toList());
        BadInputException e = assertThrows(BadInputException.class, () -> q8.requireBlockFit("model"));
        assertTrue(e.getMessage().contains("'blk.0.ffn_down.weight' row 172 vs Q8_0 block 32"), e.getMessage());

        // fallback off: the mix's own choice is kept and every misfit is reported
        ExportPlan strict = QuantMix.plan(m, QuantMix.Options.of(LlamaFtype.Q4_K_M).withFallback(false), t);
        assertEquals(List.of("blk.0.attn_v.weight", "blk.0.ffn_down.weight", "blk.0.ffn_up.weight"),
                strict.misfits().stream().map(PlannedTensor::name).toList());
    }

    @Test
    void reproducesLlamaCppsOwnStories260KFiles() throws Exception {
        ExportGgufHeader f32 = ExportGgufHeader.read(STORIES.resolve("stories260K-f32.gguf"));
        List<TensorSpec> specs = new ArrayList<>();
        for (ExportGgufHeader.Info i : f32.tensors) specs.add(new TensorSpec(i.name(), i.dims(), GgmlType.byId(i.type())));
        long layers = (Long) f32.kvs.get("llama.block_count").value();
        long heads = (Long) f32.kvs.get("llama.attention.head_count").value();
        long kvHeads = (Long) f32.kvs.get("llama.attention.head_count_kv").value();
        QuantMix.ModelInfo m = new QuantMix.ModelInfo("llama", (int) layers, (int) heads, (int) kvHeads, 0);
        for (LlamaFtype f : List.of(LlamaFtype.Q4_K_M, LlamaFtype.Q4_0, LlamaFtype.Q8_0)) {
            ExportGgufHeader ref = ExportGgufHeader.read(STORIES.resolve("stories260K-" + f.name() + ".gguf"));
            // Q4_K_M falls back Q4_K → Q5_0 → F16 on its own for the 172-wide ffn_down rows. Q4_0 and Q8_0 have no
            // fallback: llama-quantize aborts ("Unsupported tensor size encountered", checked with llama.cpp c392e50 of
            // 2025-02-20), so those two fixtures were made with --tensor-type ffn_down=f16; we plan them the same way.
            QuantMix.Options o = QuantMix.Options.of(f);
            if (f != LlamaFtype.Q4_K_M) {
                assertEquals(5, QuantMix.plan(m, o, specs).misfits().size(), "without the override every ffn_down misfits");
                o = o.withOverrides(List.of(QuantMix.TypeOverride.parse("ffn_down=F16")));
            }
            ExportPlan plan = QuantMix.plan(m, o, specs);
            assertTrue(plan.misfits().isEmpty());
            List<String> want = ref.tensors.stream().map(i -> i.name() + " " + GgmlType.byId(i.type())).toList();
            List<String> got = plan.tensors().stream().map(t -> t.name() + " " + t.type()).toList();
            assertEquals(want, got, f + ": same types in the same order as llama-quantize");
            assertEquals((long) f.id(), ref.kvs.get("general.file_type").value());
        }
    }

    @Test
    void ftypeIdsAndNames() {
        assertEquals(15, LlamaFtype.parse("q4_k_m").id());
        assertEquals(7, LlamaFtype.Q8_0.id());
        assertEquals(GgmlType.Q8_0, LlamaFtype.Q8_0.defaultType());
        assertEquals(LlamaFtype.ALL_F32, LlamaFtype.parse("F32"));
        assertEquals(LlamaFtype.MXFP4_MOE, LlamaFtype.parse("MXFP4"));
        assertEquals(32, LlamaFtype.parse("BF16").id());
        assertEquals(LlamaFtype.Q3_K_L, LlamaFtype.byId(13));
        assertThrows(IllegalArgumentException.class, () -> LlamaFtype.parse("Q7_K"));
    }
}
