package dev.lowbit.ptq.search;

import static dev.lowbit.ptq.search.KQuantSearch.nearestInt;

import dev.lowbit.io.ggml.GgmlBlock;
import dev.lowbit.kernels.kquant.KQuantKernels;
import dev.lowbit.kernels.kquant.QxQuants;
import java.util.Arrays;

/**
 * The search of Q6_K super-blocks (sixteen sub-blocks of 16 with int8 scales under fp16 d; x = d·sc·(q − 32)):
 * {@code quantize_row_q6_K_ref} / {@code _impl}. Per sub-block {@code make_qx_quants}(16, 32, rmse_type 1, weights =
 * the importance if given), then the scales relative to the one of largest magnitude (iscale = −128/max), and the
 * codes recomputed from the stored d·sc. A block whose scales are all below {@code GROUP_MAX_EPS} is all zero.
 */
final class Q6KSearch implements BlockSearch {
    private final float[] scales = new float[16];
    private final QxQuants qx = KQuantKernels.newChosenQx();

    @Override
    public void search(float[] x, int xo, float[] importance, int io, GgmlBlock out) {
        int[] L = out.codes;
        float maxScale = 0, maxAbsScale = 0;
        qx.quantize(16, 16, 32, x, xo, L, 0, scales, 0, 1, importance, io);
        for (int ib = 0; ib < 16; ib++) {
            float scale = scales[ib];
            float absScale = Math.abs(scale);
            if (absScale > maxAbsScale) {
                maxAbsScale = absScale;
                maxScale = scale;
            }
        }
        if (maxAbsScale < KQuantSearch.GROUP_MAX_EPS) {
            out.d = 0f;
            Arrays.fill(out.scales, 0);
            Arrays.fill(L, 0);
            return;
        }
        float iscale = -128f / maxScale;
        out.d = Fp16.round(1 / iscale);
        for (int ib = 0; ib < 16; ib++) out.scales[ib] = (byte) Math.min(127, nearestInt(iscale * scales[ib]));
        for (int j = 0; j < 16; j++) {
            float dl = out.d * out.scales[j];
            if (dl == 0) continue;
            for (int ii = 0; ii < 16; ii++) {
                int l = nearestInt(x[xo + 16 * j + ii] / dl);
                L[16 * j + ii] = Math.max(-32, Math.min(31, l)) + 32;
            }
        }
    }
}
