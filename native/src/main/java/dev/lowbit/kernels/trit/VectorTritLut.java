package dev.lowbit.kernels.trit;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * {@link TritLut} on the Vector API: a row block of 16 rows is one 512-bit vector; the 16 codes of a byte column load as
 * 16 bytes, widen to int lanes, and their low and high nibbles select lanes of the two pairs' 16-float tables
 * ({@code rearrange} by the nibbles as a shuffle: one permute instruction on AVX-512; {@code selectFrom} is not
 * intrinsified on JDK 25 and runs 700× slower). Same summation order as the scalar kernel.
 */
final class VectorTritLut implements TritLut {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_512;
    private static final VectorSpecies<Integer> I = IntVector.SPECIES_512;
    private static final VectorSpecies<Byte> B8 = ByteVector.SPECIES_128;

    /** Lanes (nibble q₀ | q₁ << 2) where the table holds +a, −a, +b, −b; a lane with a 3 in either half stays 0. */
    private static final VectorMask<Float> A_POS = nibbleMask(0, 2), A_NEG = nibbleMask(0, 0),
            B_POS = nibbleMask(1, 2), B_NEG = nibbleMask(1, 0);

    private static VectorMask<Float> nibbleMask(int half, int q) {
        boolean[] m = new boolean[16];
        for (int n = 0; n < 16; n++) {
            int q0 = n & 3, q1 = n >> 2;
            m[n] = q0 != 3 && q1 != 3 && (half == 0 ? q0 : q1) == q;
        }
        return VectorMask.fromArray(F, m, 0);
    }

    /**
     * {@link TritLut#buildTables}, one 16-lane vector per column pair and stored as raw float bits (what the lane
     * permutation reads): (q₀ − 1)·a + (q₁ − 1)·b by blends of ±a, ±b and one addition, the same values, bit for bit,
     * as the scalar tables (each entry is one rounding of the same two exact terms; zero lanes are +0 in both).
     */
    static int[] tables(float[] x, int xOff, int cols) {
        int pairs = Math.ceilDiv(cols, 4) * 2;
        int[] bits = new int[pairs * 16];
        FloatVector zero = FloatVector.zero(F);
        for (int k = 0; k < pairs; k++) {
            int c = 2 * k;
            FloatVector a = FloatVector.broadcast(F, c < cols ? x[xOff + c] : 0f);
            FloatVector b = FloatVector.broadcast(F, c + 1 < cols ? x[xOff + c + 1] : 0f);
            FloatVector va = zero.blend(a, A_POS).blend(a.neg(), A_NEG);
            FloatVector vb = zero.blend(b, B_POS).blend(b.neg(), B_NEG);
            va.add(vb).reinterpretAsInts().intoArray(bits, k * 16);
        }
        return bits;
    }

    @Override
    public String name() {
        return "vector";
    }

    @Override
    public void gemv(TritMatrix w, float[] x, int xOff, float[] y, int yOff) {
        int[] lutBits = tables(x, xOff, w.cols);
        final int B = TritMatrix.BLOCK;
        float[] tail = new float[B];
        for (int rb = 0; rb < w.rowBlocks; rb++) {
            FloatVector out = FloatVector.zero(F);
            for (int p = 0; p < w.planes; p++) {
                int cbase = (p * w.rowBlocks + rb) * w.byteCols * B;
                int abase = (p * w.rowBlocks + rb) * w.groups * B;
                for (int g = 0; g < w.groups; g++) {
                    FloatVector acc = FloatVector.zero(F);
                    int m0 = g * w.groupBytes, m1 = Math.min(w.byteCols, m0 + w.groupBytes);
                    for (int m = m0; m < m1; m++) {
                        IntVector b = (IntVector) ByteVector.fromArray(B8, w.codes, cbase + m * B).convertShape(VectorOperators.B2I, I, 0);
                        IntVector lo = b.and(15);
                        IntVector hi = b.lanewise(VectorOperators.ASHR, 4).and(15);
                        IntVector tlo = IntVector.fromArray(I, lutBits, m * 32);
                        IntVector thi = IntVector.fromArray(I, lutBits, m * 32 + 16);
                        acc = acc.add(tlo.rearrange(lo.toShuffle()).reinterpretAsFloats());
                        acc = acc.add(thi.rearrange(hi.toShuffle()).reinterpretAsFloats());
                    }
                    out = FloatVector.fromArray(F, w.alpha, abase + g * B).fma(acc, out);
                }
            }
            int n = Math.min(B, w.rows - rb * B);
            if (n == B) {
                out.intoArray(y, yOff + rb * B);
            } else {
                out.intoArray(tail, 0);
                System.arraycopy(tail, 0, y, yOff + rb * B, n);
            }
        }
    }
}
