package dev.lowbit.kernels.legacy;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * {@link LegacyQuants} a block at a time: a block of 32 is four vectors of 8 floats (256 bits). Every lane performs the
 * reference's float operations (one product, then one sum; IEEE division for d and 1/d), so the bytes are the
 * reference's:
 * <ul>
 *   <li>roundf(p) = sign(p)·(t + [|p| − t ≥ ½]) with t = trunc|p|: |p| − t is exact for |p| < 2²³ (here |p| ≤ 127·(1 + 2⁻²³)),
 *       so the comparison decides the half-way cases exactly as floor(|p| + ½) in double does; NaN gives 0 like
 *       {@code (byte) NaN};</li>
 *   <li>Q4_0's signed maximum: per lane the running maximum of |x| advances only on a strict {@code <} (so NaN never
 *       enters it, as in the reference), the block's maximum is the largest lane; its first element in index order
 *       supplies the sign — the element the reference's strict-{@code <} scan keeps.</li>
 * </ul>
 * Loaded reflectively by {@link LegacyKernels} only when {@code jdk.incubator.vector} is present.
 */
final class PanamaLegacyQuants implements LegacyQuants {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_256;
    private static final VectorSpecies<Byte> B = ByteVector.SPECIES_64;
    private static final VectorSpecies<Integer> I = IntVector.SPECIES_256;
    private static final int L = F.length();
    private static final ValueLayout.OfShort F16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    PanamaLegacyQuants() {
        if (L != 8) throw new UnsupportedOperationException("the legacy block kernels need 8-lane float vectors");
    }

    @Override
    public void quantizeQ8_0(float[] x, int xo, int n, MemorySegment dst, long off) {
        int nb = LegacyQuants.blocks(n);
        // Every vector stays in this method: a vector passed to a call that C2 does not inline is boxed on the heap,
        // which costs more than the arithmetic (seen as a 3× slower Q8_0 in a real run than in a microbenchmark).
        for (int i = 0; i < nb; i++) {
            int base = xo + i * QK;
            long at = off + (long) Q8_0_BYTES * i;
            FloatVector v0 = FloatVector.fromArray(F, x, base), v1 = FloatVector.fromArray(F, x, base + L),
                    v2 = FloatVector.fromArray(F, x, base + 2 * L), v3 = FloatVector.fromArray(F, x, base + 3 * L);
            float amax = v0.abs().max(v1.abs()).max(v2.abs().max(v3.abs())).reduceLanes(VectorOperators.MAX);
            float d = amax / 127;
            float id = d != 0f ? 1.0f / d : 0f;
            dst.set(F16, at, Float.floatToFloat16(d));
            for (int k = 0; k < 4; k++) {
                FloatVector p = (k == 0 ? v0 : k == 1 ? v1 : k == 2 ? v2 : v3).mul(id);
                FloatVector a = p.abs();
                IntVector t = (IntVector) a.convert(VectorOperators.F2I, 0);
                FloatVector frac = a.sub((FloatVector) t.convert(VectorOperators.I2F, 0));
                t = t.add(1, frac.compare(VectorOperators.GE, 0.5f).cast(I));
                t = t.lanewise(VectorOperators.NEG, p.compare(VectorOperators.LT, 0f).cast(I));
                ((ByteVector) t.convertShape(VectorOperators.I2B, B, 0)).intoMemorySegment(dst, at + 2 + k * L, ByteOrder.LITTLE_ENDIAN);
            }
        }
    }

    @Override
    public void quantizeQ4_0(float[] x, int xo, int n, MemorySegment dst, long off) {
        int nb = LegacyQuants.blocks(n);
        FloatVector zero = FloatVector.zero(F);
        for (int i = 0; i < nb; i++) {
            int base = xo + i * QK;
            long at = off + (long) Q4_0_BYTES * i;
            FloatVector v0 = FloatVector.fromArray(F, x, base), v1 = FloatVector.fromArray(F, x, base + L),
                    v2 = FloatVector.fromArray(F, x, base + 2 * L), v3 = FloatVector.fromArray(F, x, base + 3 * L);
            FloatVector a0 = v0.abs(), a1 = v1.abs(), a2 = v2.abs(), a3 = v3.abs();
            FloatVector m = zero.blend(a0, zero.compare(VectorOperators.LT, a0));
            m = m.blend(a1, m.compare(VectorOperators.LT, a1));
            m = m.blend(a2, m.compare(VectorOperators.LT, a2));
            m = m.blend(a3, m.compare(VectorOperators.LT, a3));
            float amax = m.reduceLanes(VectorOperators.MAX);
            float max = 0f;
            if (amax > 0f) {
                // the first element in index order whose magnitude is amax (one exists: amax is a lane of theirs)
                long eq = a0.compare(VectorOperators.EQ, amax).toLong() | a1.compare(VectorOperators.EQ, amax).toLong() << L
                        | a2.compare(VectorOperators.EQ, amax).toLong() << 2 * L | a3.compare(VectorOperators.EQ, amax).toLong() << 3 * L;
                max = x[base + Long.numberOfTrailingZeros(eq)];
            }
            float d = max / -8;
            float id = d != 0f ? 1.0f / d : 0f;
            dst.set(F16, at, Float.floatToFloat16(d));
            IntVector q0 = ((IntVector) v0.mul(id).add(8.5f).convert(VectorOperators.F2I, 0)).min(15);
            IntVector q1 = ((IntVector) v1.mul(id).add(8.5f).convert(VectorOperators.F2I, 0)).min(15);
            IntVector q2 = ((IntVector) v2.mul(id).add(8.5f).convert(VectorOperators.F2I, 0)).min(15);
            IntVector q3 = ((IntVector) v3.mul(id).add(8.5f).convert(VectorOperators.F2I, 0)).min(15);
            // byte j = element j | element j+16 << 4: lanes of vectors 0, 1 (elements 0..15) with those of 2, 3 (16..31)
            ((ByteVector) q0.or(q2.lanewise(VectorOperators.LSHL, 4)).convertShape(VectorOperators.I2B, B, 0))
                    .intoMemorySegment(dst, at + 2, ByteOrder.LITTLE_ENDIAN);
            ((ByteVector) q1.or(q3.lanewise(VectorOperators.LSHL, 4)).convertShape(VectorOperators.I2B, B, 0))
                    .intoMemorySegment(dst, at + 2 + L, ByteOrder.LITTLE_ENDIAN);
        }
    }
}
