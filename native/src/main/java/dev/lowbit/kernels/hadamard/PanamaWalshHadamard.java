package dev.lowbit.kernels.hadamard;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * Vector API implementation of the butterfly stages.
 *
 * <p>Strides h ≥ L (the lane count) pair whole vectors: {@code (a, b) ← (a + b, a − b)} lane-wise. Strides h < L pair
 * lanes inside one vector: with p = the vector with lane i swapped for lane i ^ h, a lane whose bit h is clear takes
 * {@code v + p} (= x[j] + x[j+h]) and one whose bit is set takes {@code p − v} (= x[j] − x[j+h]). Both are the scalar
 * reference's operations on the same operands, so results are bit-identical. Sizes below L run the reference.
 *
 * <p>Loaded reflectively by {@link HadamardKernels} only when {@code jdk.incubator.vector} is present.
 */
final class PanamaWalshHadamard implements WalshHadamardKernels {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final int L = F.length();
    /** Per in-vector stride h = 2^s (s < log₂L): the lane swap i ↔ i ^ h and the lanes whose bit h is set. */
    private static final VectorShuffle<Float>[] SWAP;
    private static final VectorMask<Float>[] HIGH;

    static {
        int stages = Integer.numberOfTrailingZeros(L);
        @SuppressWarnings("unchecked")
        VectorShuffle<Float>[] swap = new VectorShuffle[stages];
        @SuppressWarnings("unchecked")
        VectorMask<Float>[] high = new VectorMask[stages];
        for (int s = 0; s < stages; s++) {
            int h = 1 << s;
            int[] idx = new int[L];
            boolean[] bits = new boolean[L];
            for (int i = 0; i < L; i++) {
                idx[i] = i ^ h;
                bits[i] = (i & h) != 0;
            }
            swap[s] = VectorShuffle.fromArray(F, idx, 0);
            high[s] = VectorMask.fromArray(F, bits, 0);
        }
        SWAP = swap;
        HIGH = high;
    }

    PanamaWalshHadamard() {}

    /** Bits of the preferred float vector, e.g. 256 on AVX2. */
    static int vectorBitSize() {
        return F.vectorBitSize();
    }

    @Override
    public void fwht(float[] x, int off, int n) {
        WalshHadamardKernels.checkArgs(x, off, n);
        if (n < L) {
            ScalarWalshHadamard.INSTANCE.fwht(x, off, n);
            return;
        }
        int end = off + n;
        // strides inside one vector: all of them on one vector before moving on (same operations, same order per pair)
        for (int i = off; i < end; i += L) {
            FloatVector v = FloatVector.fromArray(F, x, i);
            for (int s = 0; s < SWAP.length; s++) {
                FloatVector p = v.rearrange(SWAP[s]);
                v = v.add(p).blend(p.sub(v), HIGH[s]);
            }
            v.intoArray(x, i);
        }
        // strides across vectors
        for (int h = L; h < n; h <<= 1) {
            for (int i = off; i < end; i += h << 1) {
                for (int j = i; j < i + h; j += L) {
                    FloatVector a = FloatVector.fromArray(F, x, j);
                    FloatVector b = FloatVector.fromArray(F, x, j + h);
                    a.add(b).intoArray(x, j);
                    a.sub(b).intoArray(x, j + h);
                }
            }
        }
    }

    @Override
    public String name() {
        return "panama(" + F.vectorBitSize() + "-bit)";
    }
}
