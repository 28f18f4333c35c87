package dev.lowbit.io.ggml;

import static dev.lowbit.io.ggml.KQuantBits.QK_K;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

/**
 * The integer grid a ggml block carries, seen element by element: once a block's parameters (d, dmin, sub-block
 * scales and mins) are in place, element e decodes as
 *
 * <pre>
 *   ŵ_e = a_e · k_e            (symmetric types: Q8_0 Q4_0 Q5_0 Q3_K Q6_K)
 *   ŵ_e = a_e · k_e + b_e      (types with a min: Q4_1 Q5_1 Q2_K Q4_K Q5_K;  b_e = m or −dmin·m)
 *   k_e ∈ [kMin, kMax]  an integer
 * </pre>
 *
 * with a_e and b_e f32 values computed exactly as the type's dequantizer computes them, so that {@link #value} gives
 * the very float the dequantizer returns for code k. This lets an algorithm choose the codes of a block itself (GPTQ
 * does, column by column) after a search has fixed the parameters: {@link #parameters} reads (a, b) from the block's
 * header bytes, {@link #putCodes} writes the codes into the block's code fields, leaving the header alone.
 *
 * <p>Layout only: which parameters a search picks is not decided here.
 */
public enum BlockGrid {
    Q8_0(GgmlType.Q8_0, -128, 127, false),
    Q4_0(GgmlType.Q4_0, -8, 7, false),
    Q5_0(GgmlType.Q5_0, -16, 15, false),
    Q4_1(GgmlType.Q4_1, 0, 15, true),
    Q5_1(GgmlType.Q5_1, 0, 31, true),
    Q2_K(GgmlType.Q2_K, 0, 3, true),
    Q3_K(GgmlType.Q3_K, -4, 3, false),
    Q4_K(GgmlType.Q4_K, 0, 15, true),
    Q5_K(GgmlType.Q5_K, 0, 31, true),
    Q6_K(GgmlType.Q6_K, -32, 31, false);

    private final GgmlType type;
    private final int kMin, kMax;
    private final boolean hasMin;

    BlockGrid(GgmlType type, int kMin, int kMax, boolean hasMin) {
        this.type = type;
        this.kMin = kMin;
        this.kMax = kMax;
        this.hasMin = hasMin;
    }

    /** The grid of {@code type}, or {@code null} if its values are not an integer grid per element (IQ4, TQ, MXFP4, floats). */
    public static BlockGrid of(GgmlType type) {
        for (BlockGrid g : values()) if (g.type == type) return g;
        return null;
    }

    public GgmlType type() {
        return type;
    }

    public int kMin() {
        return kMin;
    }

    public int kMax() {
        return kMax;
    }

    /** Whether elements carry an offset b (otherwise b is 0 and {@link #value} is a·k). */
    public boolean hasMin() {
        return hasMin;
    }

    /** The dequantized value of code k, in the dequantizer's own f32 arithmetic. */
    public float value(float a, float b, int k) {
        return hasMin ? a * k + b : a * k;
    }

    /**
     * Reads a_e and b_e of the {@link GgmlType#blockSize()} elements of the block at {@code blk} into
     * {@code a[at ..]} and {@code b[at ..]} (b is set to 0 for symmetric types).
     */
    public void parameters(MemorySegment s, long blk, float[] a, float[] b, int at) {
        int n = type.blockSize();
        switch (this) {
            case Q8_0, Q4_0, Q5_0 -> {
                Arrays.fill(a, at, at + n, Blocks.getF16(s, blk));
                Arrays.fill(b, at, at + n, 0f);
            }
            case Q4_1, Q5_1 -> {
                Arrays.fill(a, at, at + n, Blocks.getF16(s, blk));
                Arrays.fill(b, at, at + n, Blocks.getF16(s, blk + 2));
            }
            case Q2_K -> {
                float d = KQuantBits.f16(s, blk + 80), dmin = KQuantBits.f16(s, blk + 82);
                for (int e = 0; e < QK_K; e++) {
                    int sc = KQuantBits.u8(s, blk + e / 16);
                    a[at + e] = d * (sc & 0xF);
                    b[at + e] = -(dmin * (sc >> 4));
                }
            }
            case Q3_K -> {
                float d = KQuantBits.f16(s, blk + 108);
                for (int e = 0; e < QK_K; e++) {
                    a[at + e] = d * KQuantQ3K.scale(s, blk, e / 16);
                    b[at + e] = 0f;
                }
            }
            case Q4_K, Q5_K -> {
                float d = KQuantBits.f16(s, blk), dmin = KQuantBits.f16(s, blk + 2);
                for (int j = 0; j < 8; j++) {
                    float dj = d * KQuantScaleMin.sc(s, blk + 4, j);
                    float mj = dmin * KQuantScaleMin.m(s, blk + 4, j);
                    Arrays.fill(a, at + 32 * j, at + 32 * j + 32, dj);
                    Arrays.fill(b, at + 32 * j, at + 32 * j + 32, -mj);
                }
            }
            case Q6_K -> {
                float d = KQuantBits.f16(s, blk + 208);
                for (int e = 0; e < QK_K; e++) {
                    a[at + e] = d * s.get(ValueLayout.JAVA_BYTE, blk + 192 + e / 16);
                    b[at + e] = 0f;
                }
            }
        }
    }

    /**
     * Writes the codes {@code k[at ..]} (each in [kMin, kMax]) of one block into the code fields of the block at
     * {@code blk}; header bytes (d, dmin, scales) are left as they are.
     */
    public void putCodes(MemorySegment s, long blk, int[] k, int at) {
        switch (this) {
            case Q8_0 -> {
                for (int e = 0; e < 32; e++) s.set(ValueLayout.JAVA_BYTE, blk + 2 + e, (byte) k[at + e]);
            }
            case Q4_0, Q4_1 -> {
                long qs = blk + (this == Q4_0 ? 2 : 4);
                for (int j = 0; j < 16; j++) {
                    int lo = k[at + j] - kMin, hi = k[at + 16 + j] - kMin;
                    KQuantBits.putU8(s, qs + j, lo | (hi << 4));
                }
            }
            case Q5_0, Q5_1 -> {
                long qh = blk + (this == Q5_0 ? 2 : 4), qs = qh + 4;
                int bits = 0;
                for (int j = 0; j < 16; j++) {
                    int lo = k[at + j] - kMin, hi = k[at + 16 + j] - kMin;
                    KQuantBits.putU8(s, qs + j, (lo & 0xF) | ((hi & 0xF) << 4));
                    bits |= ((lo >> 4) & 1) << j;
                    bits |= ((hi >> 4) & 1) << (j + 16);
                }
                s.set(Blocks.INT_LE, qh, bits);
            }
            case Q2_K -> {
                for (int h = 0; h < 2; h++) {
                    for (int l = 0; l < 32; l++) {
                        int e = at + 128 * h + l;
                        int q = k[e] | (k[e + 32] << 2) | (k[e + 64] << 4) | (k[e + 96] << 6);
                        KQuantBits.putU8(s, blk + 16 + 32 * h + l, q);
                    }
                }
            }
            case Q3_K -> {
                int[] hmask = new int[32];
                for (int e = 0; e < QK_K; e++) {
                    if (k[at + e] + 4 > 3) hmask[e % 32] |= 1 << (e / 32);
                }
                for (int i = 0; i < 32; i++) KQuantBits.putU8(s, blk + i, hmask[i]);
                for (int h = 0; h < 2; h++) {
                    for (int l = 0; l < 32; l++) {
                        int e = at + 128 * h + l;
                        int q = ((k[e] + 4) & 3) | (((k[e + 32] + 4) & 3) << 2) | (((k[e + 64] + 4) & 3) << 4)
                                | (((k[e + 96] + 4) & 3) << 6);
                        KQuantBits.putU8(s, blk + 32 + 32 * h + l, q);
                    }
                }
            }
            case Q4_K -> {
                for (int c = 0; c < 4; c++) {
                    for (int l = 0; l < 32; l++) {
                        KQuantBits.putU8(s, blk + 16 + 32 * c + l, k[at + 64 * c + l] | (k[at + 64 * c + 32 + l] << 4));
                    }
                }
            }
            case Q5_K -> {
                int[] qh = new int[32];
                for (int c = 0; c < 4; c++) {
                    for (int l = 0; l < 32; l++) {
                        int q1 = k[at + 64 * c + l], q2 = k[at + 64 * c + 32 + l];
                        KQuantBits.putU8(s, blk + 48 + 32 * c + l, (q1 & 0xF) | ((q2 & 0xF) << 4));
                        qh[l] |= ((q1 >> 4) & 1) << (2 * c);
                        qh[l] |= ((q2 >> 4) & 1) << (2 * c + 1);
                    }
                }
                for (int l = 0; l < 32; l++) KQuantBits.putU8(s, blk + 16 + l, qh[l]);
            }
            case Q6_K -> {
                for (int h = 0; h < 2; h++) {
                    for (int l = 0; l < 32; l++) {
                        int e = at + 128 * h + l;
                        int q1 = k[e] + 32, q2 = k[e + 32] + 32, q3 = k[e + 64] + 32, q4 = k[e + 96] + 32;
                        KQuantBits.putU8(s, blk + 64 * h + l, (q1 & 0xF) | ((q3 & 0xF) << 4));
                        KQuantBits.putU8(s, blk + 64 * h + l + 32, (q2 & 0xF) | ((q4 & 0xF) << 4));
                        KQuantBits.putU8(s, blk + 128 + 32 * h + l,
                                (q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6));
                    }
                }
            }
        }
    }
}
