package dev.lowbit.io.gptq;

import dev.lowbit.io.quant.QuantScheme;
import dev.lowbit.io.quant.QuantizedTensor;
import dev.lowbit.kernels.FloatFormats;
import dev.lowbit.kernels.IntPacking;

/**
 * Codec between {@link QuantizedTensor} and GPTQ v1 packed tensors ({@link GptqTensors}), bits 2, 3, 4 and 8.
 *
 * <p>Dequantization, identical on both sides: W[n,k] = scales[g_idx[k], n] · (q[k,n] − z[g_idx[k], n]) where z is
 * the true zero point; the file stores z − 1 in {@code qzeros}.
 *
 * <p><b>Zero points and v1.</b> v1 can store true zeros 1..2^b only: a true zero of 0 would be stored as −1, which
 * the reference packer ORs in as all ones, corrupting the neighbouring zeros of the word. The writer refuses such a
 * tensor rather than clamping, because clamping silently changes the dequantized weights; quantizers targeting this
 * format keep z ≥ 1 (check with {@link #requireV1Zeros}). Symmetric schemes (z = 2^(b−1)) are never affected.
 * A v1 file may hold a stored 2^b − 1, which reads back as the true zero 2^b; the reader returns it as such.
 *
 * <p><b>Shapes.</b> {@code qweight} needs K·b divisible by 32 and {@code qzeros} needs N·b divisible by 32 (for
 * 3-bit: K and N multiples of 32); other shapes are refused, as the reference packers cannot express them either.
 * Scales are stored as fp16 (rounded to nearest even); a scale that overflows fp16 is refused.
 */
public final class GptqPacking {
    private GptqPacking() {}

    /** Whether the format has a layout for {@code bits}. */
    public static boolean supportsBits(int bits) {
        return bits == 2 || bits == 3 || bits == 4 || bits == 8;
    }

    /**
     * Checks that every zero point of {@code q} is storable in v1 (1 ≤ z ≤ 2^bits).
     *
     * @throws IllegalArgumentException naming the first offending row and group
     */
    public static void requireV1Zeros(QuantizedTensor q) {
        int groups = q.groups();
        int max = 1 << q.scheme().bits();
        for (int i = 0; i < q.zeros().length; i++) {
            int z = q.zeros()[i];
            if (z < 1 || z > max) {
                throw new IllegalArgumentException(q.name() + ": zero point " + z + " at row " + i / groups + ", group "
                        + i % groups + " cannot be stored in GPTQ v1 qzeros (stores zero-1, needs 1.." + max
                        + "); quantize with zero >= 1 or use symmetric quantization");
            }
        }
    }

    /** Packs {@code q} (rows = out_features N, cols = in_features K) into v1 tensors. */
    public static GptqTensors pack(QuantizedTensor q) {
        int bits = q.scheme().bits();
        int n = q.rows(), k = q.cols(), groups = q.groups();
        checkGeometry(q.name(), bits, k, n);
        requireV1Zeros(q);

        int kWords = k * bits / 32;
        int[] qweight = new int[kWords * n];
        int[] column = new int[k];
        int[] packed = new int[kWords];
        for (int r = 0; r < n; r++) {
            for (int c = 0; c < k; c++) column[c] = q.code(r, c);
            IntPacking.packDense(column, 0, k, bits, packed, 0);
            for (int w = 0; w < kWords; w++) qweight[w * n + r] = packed[w];
        }

        int nWords = n * bits / 32;
        int[] qzeros = new int[groups * nWords];
        short[] scales = new short[groups * n];
        int[] stored = new int[n];
        for (int g = 0; g < groups; g++) {
            for (int r = 0; r < n; r++) {
                stored[r] = q.zeros()[r * groups + g] - 1;
                float s = q.scales()[r * groups + g];
                short h = FloatFormats.f32ToF16(s);
                if (Float.isFinite(s) && !Float.isFinite(FloatFormats.f16ToF32(h)) || Float.isNaN(s)) {
                    throw new IllegalArgumentException(q.name() + ": scale " + s + " at row " + r + ", group " + g
                            + " is not representable in fp16");
                }
                scales[g * n + r] = h;
            }
            IntPacking.packDense(stored, 0, n, bits, qzeros, g * nWords);
        }
        return new GptqTensors(bits, k, n, qweight, qzeros, scales, q.gIdx().clone());
    }

    /**
     * Unpacks v1 tensors. {@code scheme} supplies what the tensors do not say (symmetric, group size from
     * {@code quantization_config}); its bits must match. When {@code t.gIdx()} is null, g_idx is the sequential
     * k / group_size.
     */
    public static QuantizedTensor unpack(String name, GptqTensors t, QuantScheme scheme) {
        int bits = t.bits();
        if (scheme.bits() != bits) throw new IllegalArgumentException(name + ": scheme has " + scheme.bits() + " bits, tensors " + bits);
        int n = t.outFeatures(), k = t.inFeatures(), groups = t.groups();
        checkGeometry(name, bits, k, n);
        int[] gIdx = t.gIdx() != null ? t.gIdx().clone() : QuantizedTensor.sequentialGroups(k, scheme);
        int maxGroup = -1;
        for (int c = 0; c < k; c++) {
            if (gIdx[c] < 0 || gIdx[c] >= groups) {
                throw new IllegalArgumentException(name + ": g_idx[" + c + "] = " + gIdx[c] + " outside 0.." + (groups - 1));
            }
            maxGroup = Math.max(maxGroup, gIdx[c]);
        }
        if (maxGroup + 1 != groups) {
            throw new IllegalArgumentException(name + ": scales has " + groups + " groups but g_idx uses " + (maxGroup + 1));
        }

        int kWords = k * bits / 32;
        byte[] codes = new byte[n * k];
        int[] packed = new int[kWords];
        int[] column = new int[k];
        for (int r = 0; r < n; r++) {
            for (int w = 0; w < kWords; w++) packed[w] = t.qweight()[w * n + r];
            IntPacking.unpackDense(packed, 0, k, bits, column, 0);
            for (int c = 0; c < k; c++) codes[r * k + c] = (byte) column[c];
        }

        int nWords = n * bits / 32;
        float[] scales = new float[n * groups];
        int[] zeros = new int[n * groups];
        int[] stored = new int[n];
        for (int g = 0; g < groups; g++) {
            IntPacking.unpackDense(t.qzeros(), g * nWords, n, bits, stored, 0);
            for (int r = 0; r < n; r++) {
                zeros[r * groups + g] = stored[r] + 1;
                scales[r * groups + g] = FloatFormats.f16ToF32(t.scales()[g * n + r]);
            }
        }
        return new QuantizedTensor(name, n, k, scheme, codes, scales, zeros, gIdx);
    }

    private static void checkGeometry(String name, int bits, int k, int n) {
        if (!supportsBits(bits)) {
            throw new IllegalArgumentException(name + ": GPTQ packs 2, 3, 4 or 8 bits, not " + bits);
        }
        if ((long) k * bits % 32 != 0) {
            throw new IllegalArgumentException(name + ": in_features " + k + " × " + bits
                    + " bits is not a multiple of 32, so qweight [K*bits/32, N] cannot hold it");
        }
        if ((long) n * bits % 32 != 0) {
            throw new IllegalArgumentException(name + ": out_features " + n + " × " + bits
                    + " bits is not a multiple of 32, so qzeros [groups, N*bits/32] cannot hold it");
        }
    }
}
