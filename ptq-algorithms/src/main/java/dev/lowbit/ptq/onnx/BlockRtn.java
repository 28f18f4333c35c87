package dev.lowbit.ptq.onnx;

import dev.lowbit.io.quant.QuantScheme;
import dev.lowbit.io.quant.QuantizedTensor;

/**
 * Round-to-nearest in blocks along K, as ORT's MatMulNBits quantizer (MLAS {@code q4common.h}) does it, for a weight
 * given as rows = N output columns × cols = K:
 * <ul>
 *   <li>asymmetric: range widened to contain 0, scale = (max − min)/(2^bits − 1), zp = round(−min/scale) clamped to
 *       [0, 2^bits − 1];</li>
 *   <li>symmetric: scale = (the value of largest magnitude, with its sign) / −2^(bits−1), zp = 2^(bits−1);</li>
 *   <li>q = clamp(round(w/scale + zp), 0, 2^bits − 1), C {@code roundf}: half away from zero; a block of zeros gets
 *       scale 0 (ŵ = 0), as MLAS stores it.</li>
 * </ul>
 * Scales are f32 (ORT's MatMulNBits takes them in A's type).
 */
public final class BlockRtn {
    private BlockRtn() {
    }

    public static QuantizedTensor quantize(String name, float[] w, int rows, int cols, int bits, int block, boolean symmetric) {
        int blocks = Math.ceilDiv(cols, block);
        int maxq = (1 << bits) - 1;
        byte[] codes = new byte[rows * cols];
        float[] scales = new float[rows * blocks];
        int[] zeros = new int[rows * blocks];
        for (int r = 0; r < rows; r++) {
            for (int g = 0; g < blocks; g++) {
                int c0 = g * block, c1 = Math.min(cols, c0 + block);
                float scale;
                int zp;
                if (symmetric) {
                    float big = 0;
                    for (int c = c0; c < c1; c++) if (Math.abs(w[r * cols + c]) > Math.abs(big)) big = w[r * cols + c];
                    scale = big / -(1 << (bits - 1));
                    zp = 1 << (bits - 1);
                } else {
                    float min = 0, max = 0;
                    for (int c = c0; c < c1; c++) {
                        min = Math.min(min, w[r * cols + c]);
                        max = Math.max(max, w[r * cols + c]);
                    }
                    scale = (max - min) / maxq;
                    zp = scale == 0 ? 0 : (int) Math.max(0, Math.min(maxq, roundf(-min / scale)));
                }
                float reciprocal = scale == 0 ? 0 : 1f / scale;
                for (int c = c0; c < c1; c++) {
                    float q = roundf(w[r * cols + c] * reciprocal + zp);
                    codes[r * cols + c] = (byte) Math.max(0, Math.min(maxq, (int) q));
                }
                scales[r * blocks + g] = scale;
                zeros[r * blocks + g] = zp;
            }
        }
        int[] gIdx = new int[cols];
        for (int c = 0; c < cols; c++) gIdx[c] = c / block;
        return new QuantizedTensor(name, rows, cols, new QuantScheme(bits, block, symmetric), codes, scales, zeros, gIdx);
    }

    /** C roundf: half away from zero. */
    static float roundf(float x) {
        return (float) Math.copySign(Math.floor(Math.abs((double) x) + 0.5), x);
    }
}
