package dev.lowbit.io.onnx;

import dev.lowbit.io.quant.QuantizedTensor;

/**
 * The layout of ORT's {@code com.microsoft.MatMulNBits} inputs for an integer {@link QuantizedTensor} (rows = N output
 * columns, cols = K, groups of {@code block} along K, sequential g_idx, one plane, integer zero points):
 * <ul>
 *   <li>B: u8 {@code [N, ceil(K/block), block·bits/8]}, per output column, element 0 of a byte in the low nibble
 *       (bits 4) or one per byte (bits 8); a partial last block is zero-padded;</li>
 *   <li>scales: f32 {@code [N, blocks]};</li>
 *   <li>zero_points: u8 {@code [N, ceil(blocks·bits/8)]}, consecutive blocks LSB-first, each row padded to a byte.</li>
 * </ul>
 * ŵ[k, n] = scale[n, k / block] · (q − zero_point).
 */
public record MatMulNBitsPacking(byte[] b, float[] scales, byte[] zeroPoints, long[] bDims, long[] scaleDims, long[] zeroDims) {
    public static MatMulNBitsPacking pack(QuantizedTensor q, int bits, int block) {
        if (bits != 4 && bits != 8) throw new IllegalArgumentException("MatMulNBits: bits must be 4 or 8 here, got " + bits);
        if (block < 16 || Integer.bitCount(block) != 1) throw new IllegalArgumentException("MatMulNBits: block must be a power of 2 ≥ 16, got " + block);
        if (q.planes().size() != 1 || q.zeros() == null) throw new IllegalArgumentException("MatMulNBits needs one integer plane with zero points");
        int n = q.rows(), k = q.cols();
        int blocks = Math.ceilDiv(k, block);
        int blockBytes = block * bits / 8;
        for (int c = 0; c < k; c++) {
            if (q.gIdx()[c] != c / block) throw new IllegalArgumentException("MatMulNBits needs sequential groups of " + block + " (no act-order g_idx)");
        }
        byte[] b = new byte[Math.multiplyExact(Math.multiplyExact(n, blocks), blockBytes)];
        byte[] codes = q.codes();
        for (int r = 0; r < n; r++) {
            for (int c = 0; c < k; c++) {
                int code = codes[r * k + c] & 0xff;
                if (code >= (1 << bits)) throw new IllegalArgumentException("code " + code + " does not fit " + bits + " bits");
                int blk = c / block, j = c % block;
                int base = (r * blocks + blk) * blockBytes;
                if (bits == 8) b[base + j] = (byte) code;
                else b[base + j / 2] |= (byte) (j % 2 == 0 ? code : code << 4);
            }
        }
        float[] scales = new float[n * blocks];
        int[] zeros = q.zeros();
        int zeroRow = Math.ceilDiv(blocks * bits, 8);
        byte[] zp = new byte[n * zeroRow];
        for (int r = 0; r < n; r++) {
            for (int g = 0; g < blocks; g++) {
                scales[r * blocks + g] = q.scales()[r * blocks + g];
                int z = zeros[r * blocks + g];
                if (z < 0 || z >= (1 << bits)) throw new IllegalArgumentException("zero point " + z + " does not fit " + bits + " bits");
                if (bits == 8) zp[r * zeroRow + g] = (byte) z;
                else zp[r * zeroRow + g / 2] |= (byte) (g % 2 == 0 ? z : z << 4);
            }
        }
        return new MatMulNBitsPacking(b, scales, zp, new long[]{n, blocks, blockBytes}, new long[]{n, blocks}, new long[]{n, zeroRow});
    }
}
