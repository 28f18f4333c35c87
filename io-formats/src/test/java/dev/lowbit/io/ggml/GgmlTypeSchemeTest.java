package dev.lowbit.io.ggml;

import static org.junit.jupiter.api.Assertions.*;

import dev.lowbit.io.quant.QuantScheme;
import dev.lowbit.io.quant.QuantScheme.ElementType;
import dev.lowbit.io.quant.QuantScheme.Granularity;
import dev.lowbit.io.quant.QuantScheme.ScaleType;
import dev.lowbit.io.quant.QuantScheme.ZeroPoint;
import dev.lowbit.io.quant.QuantizedTensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.EnumSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * Every ggml type states the scheme it carries, and the scheme agrees with the spec's block geometry: bits per weight
 * computed from the scheme alone equal typeSize·8 / blockSize (FORMATS.md's table); and a real Q4_0 and Q4_K block
 * written by the codec, unpacked into a {@link QuantizedTensor} of that scheme, dequantizes to the codec's values bit
 * for bit (k-quant super-blocks are plain data).
 */
class GgmlTypeSchemeTest {
    /** Types without a per-element scheme, each for the reason given in {@link GgmlType#scheme()}. */
    static final Set<GgmlType> NONE = EnumSet.of(GgmlType.F32, GgmlType.F16, GgmlType.BF16, GgmlType.F64, GgmlType.I8,
            GgmlType.I16, GgmlType.I32, GgmlType.I64, GgmlType.Q8_1, GgmlType.Q8_K, GgmlType.IQ1_S, GgmlType.IQ1_M,
            GgmlType.IQ2_XXS, GgmlType.IQ2_XS, GgmlType.IQ2_S, GgmlType.IQ3_XXS, GgmlType.IQ3_S);

    @Test
    void bitsPerWeightFromTheSchemeEqualTheSpecsBlockSize() {
        for (GgmlType t : GgmlType.values()) {
            if (NONE.contains(t)) {
                assertTrue(t.scheme().isEmpty(), t + " states no scheme");
                continue;
            }
            QuantScheme s = t.scheme().orElseThrow(() -> new AssertionError(t + " states no scheme"));
            // exact: every term is a ratio of small integers with power-of-two denominators
            assertEquals(t.typeSize() * 8.0 / t.blockSize(), s.bitsPerWeight(), 0.0, t + " " + s);
            int unit = switch (s.granularity()) {
                case Granularity.Group g -> g.size();
                case Granularity.SuperBlock b -> b.size();
                default -> throw new AssertionError(t + ": a block type has groups or super-blocks");
            };
            assertEquals(0, t.blockSize() % unit, t + ": a block holds whole groups");
        }
    }

    @Test
    void theSchemesSayWhatTheSpecSays() {
        assertEquals(new QuantScheme(ElementType.INT, 4, 4, ScaleType.F16, Granularity.group(32), ZeroPoint.NONE, 1, List.of()),
                GgmlType.Q4_0.scheme().orElseThrow());
        assertEquals(ZeroPoint.MIN, GgmlType.Q4_1.scheme().orElseThrow().zeroPoint());
        QuantScheme q4k = GgmlType.Q4_K.scheme().orElseThrow();
        assertEquals(Granularity.superBlock(256, 32, 6), q4k.granularity());
        assertEquals(8, ((Granularity.SuperBlock) q4k.granularity()).subBlocks());
        assertEquals(ZeroPoint.MIN, q4k.zeroPoint());
        assertEquals(ScaleType.F16, q4k.scaleType());
        assertEquals(Granularity.superBlock(256, 16, 8), GgmlType.Q6_K.scheme().orElseThrow().granularity());
        assertTrue(GgmlType.Q6_K.scheme().orElseThrow().symmetric());
        QuantScheme mx = GgmlType.MXFP4.scheme().orElseThrow();
        assertEquals(ElementType.E2M1, mx.element());
        assertEquals(ScaleType.E8M0, mx.scaleType());
        assertEquals(32, mx.groupSize());
        QuantScheme nl = GgmlType.IQ4_NL.scheme().orElseThrow();
        assertTrue(nl.nonUniform());
        for (int q = 0; q < 16; q++) assertEquals(Iq4Nl.KVALUES[q], nl.levels().get(q), 0f);
        assertEquals(ElementType.TERNARY, GgmlType.TQ1_0.scheme().orElseThrow().element());
        assertEquals(ElementType.TERNARY, GgmlType.TQ2_0.scheme().orElseThrow().element());
        assertEquals("INT4 sb256/32×6b F16 min", q4k.toString());
    }

    @Test
    void aQ4_0BlockIsPlainDataOfItsScheme() {
        int n = 64;
        float[] x = randomRow(n, 1);
        try (Arena arena = Arena.ofConfined()) {
            BlockCodec codec = BlockCodecs.forType(GgmlType.Q4_0);
            MemorySegment blocks = arena.allocate(codec.rowBytes(n));
            codec.quantizeRow(x, 0, n, blocks, 0);
            float[] want = new float[n];
            codec.dequantizeRow(blocks, 0, want, 0, n);
            // unpack by the spec: fp16 d; qs[16], element j in the low nibble of qs[j], j + 16 in the high one
            QuantScheme s = GgmlType.Q4_0.scheme().orElseThrow();
            byte[] codes = new byte[n];
            float[] scales = new float[n / 32];
            int[] zeros = new int[n / 32];
            for (int b = 0; b < n / 32; b++) {
                scales[b] = Blocks.getF16(blocks, 18L * b);
                zeros[b] = 8;
                for (int j = 0; j < 16; j++) {
                    int q = blocks.get(java.lang.foreign.ValueLayout.JAVA_BYTE, 18L * b + 2 + j) & 0xFF;
                    codes[32 * b + j] = (byte) (q & 0xF);
                    codes[32 * b + j + 16] = (byte) (q >> 4);
                }
            }
            QuantizedTensor t = new QuantizedTensor("q4_0", 1, n, s, codes, scales, zeros, QuantizedTensor.sequentialGroups(n, s));
            assertArrayEquals(want, t.dequantize(), 0f);
        }
    }

    @Test
    void aQ4_KSuperBlockIsPlainDataOfItsScheme() throws java.io.IOException {
        int n = 512;
        try (Arena arena = Arena.ofConfined()) {
            BlockCodec codec = BlockCodecs.forType(GgmlType.Q4_K);
            // two super-blocks ggml's own quantizer made (ggml-ref): the scheme must describe ggml's bytes
            byte[] ggml = java.nio.file.Files.readAllBytes(dev.lowbit.io.SharedData.resolve("data/ggml-ref/m.q4_K.q"));
            MemorySegment blocks = arena.allocate(codec.rowBytes(n));
            blocks.copyFrom(MemorySegment.ofArray(java.util.Arrays.copyOf(ggml, (int) codec.rowBytes(n))));
            float[] want = new float[n];
            codec.dequantizeRow(blocks, 0, want, 0, n);
            // unpack by the spec: d, dmin per super-block; 6-bit (sc, m) per 32; qs[32c + l] = elements 64c + l | 64c + 32 + l
            QuantScheme s = GgmlType.Q4_K.scheme().orElseThrow();
            int supers = n / 256;
            byte[] codes = new byte[n];
            float[] d = new float[supers], dmin = new float[supers];
            int[] sc = new int[n / 32], m = new int[n / 32];
            for (int b = 0; b < supers; b++) {
                long blk = 144L * b;
                d[b] = KQuantBits.f16(blocks, blk);
                dmin[b] = KQuantBits.f16(blocks, blk + 2);
                for (int j = 0; j < 8; j++) {
                    sc[8 * b + j] = KQuantScaleMin.sc(blocks, blk + 4, j);
                    m[8 * b + j] = KQuantScaleMin.m(blocks, blk + 4, j);
                }
                for (int c = 0; c < 4; c++) {
                    for (int l = 0; l < 32; l++) {
                        int q = KQuantBits.u8(blocks, blk + 16 + 32 * c + l);
                        codes[256 * b + 64 * c + l] = (byte) (q & 0xF);
                        codes[256 * b + 64 * c + 32 + l] = (byte) (q >> 4);
                    }
                }
            }
            int[] gIdx = new int[n];
            for (int c = 0; c < n; c++) gIdx[c] = c / 256;
            QuantizedTensor t = new QuantizedTensor("q4_k", 1, n, s,
                    List.of(new QuantizedTensor.Plane(codes, d, null, dmin, new QuantizedTensor.SubBlocks(32, sc, m))), gIdx, 1f);
            assertArrayEquals(want, t.dequantize(), 0f);
            for (int c = 0; c < n; c += 37) assertEquals(want[c], t.dequantize(0, c), 0f);
        }
    }

    private static float[] randomRow(int n, long seed) {
        Random r = new Random(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) r.nextGaussian() * 0.02f;
        return x;
    }
}
