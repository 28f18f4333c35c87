package dev.lowbit.kernels.trit;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
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

    @Override
    public String name() {
        return "vector";
    }

    @Override
    public void gemv(TritMatrix w, float[] x, int xOff, float[] y, int yOff) {
        float[] lut = new float[TritLut.tableLength(w.cols)];
        TritLut.buildTables(x, xOff, w.cols, lut);
        int[] lutBits = new int[lut.length];
        for (int i = 0; i < lut.length; i++) lutBits[i] = Float.floatToRawIntBits(lut[i]);
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
