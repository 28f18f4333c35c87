package dev.lowbit.ptq.search;

import static dev.lowbit.ptq.search.KQuantSearch.nearestInt;

import dev.lowbit.io.ggml.GgmlBlock;
import dev.lowbit.io.ggml.Iq4Nl;

/**
 * The searches of IQ4_NL (a 32-block under fp16 d) and IQ4_XS (a 256-super-block of eight 32-blocks with 6-bit scales,
 * bias 32, under fp16 d), both 4-bit indices into the non-linear table {@link Iq4Nl#kvalues()}: ggml's
 * {@code quantize_iq4_nl} / {@code quantize_iq4_xs} ({@code quantize_row_iq4_nl_impl}, ntry 7). Element weights are
 * imp·√(σ² + x²) with σ² = 2·Σx²/(super-block size) when importance is given, otherwise x². The stored d is the f32
 * d rounded to fp16; codes are chosen with the f32 d, as ggml does.
 */
final class Iq4Search implements BlockSearch {
    /** Search half-width of the IQ4 scale search ({@code ntry} in ggml). */
    private static final int NTRY = 7;

    private final boolean xs;
    private final int[] values = Iq4Nl.kvalues();
    private final float[] weight = new float[32];
    private final float[] scales = new float[8];

    private Iq4Search(boolean xs) {
        this.xs = xs;
    }

    static Iq4Search nl() {
        return new Iq4Search(false);
    }

    static Iq4Search xs() {
        return new Iq4Search(true);
    }

    /** σ² = 2·Σx²/superBlockSize over {@code x[xo..xo+superBlockSize)}, summed in order in f32. */
    private static float sigma2(float[] x, int xo, int superBlockSize) {
        float s = 0;
        for (int j = 0; j < superBlockSize; j++) s += x[xo + j] * x[xo + j];
        return s * (2.f / superBlockSize);
    }

    /** The element weights of one 32-block: imp·√(σ² + x²), or x². */
    private void weights(float[] x, int xo, float[] importance, int io, float sigma2) {
        for (int j = 0; j < 32; j++) {
            float xv = x[xo + j];
            weight[j] = importance != null ? importance[io + j] * (float) Math.sqrt(sigma2 + xv * xv) : xv * xv;
        }
    }

    @Override
    public void search(float[] x, int xo, float[] importance, int io, GgmlBlock out) {
        int[] L = out.codes;
        if (!xs) {
            weights(x, xo, importance, io, sigma2(x, xo, 32));
            float d = KQuantSearch.iq4BlockScale(x, xo, 32, weight, values, NTRY, L, 0);
            out.d = d;
            float id = d != 0 ? 1 / d : 0;
            for (int j = 0; j < 32; j++) L[j] = KQuantSearch.bestIndexInt8(16, values, id * x[xo + j]);
            return;
        }
        float sigma2 = sigma2(x, xo, 256);
        float maxScale = 0, amaxScale = 0;
        for (int ib = 0; ib < 8; ib++) {
            weights(x, xo + 32 * ib, importance, io + 32 * ib, sigma2);
            scales[ib] = KQuantSearch.iq4BlockScale(x, xo + 32 * ib, 32, weight, values, NTRY, L, 32 * ib);
            float absD = Math.abs(scales[ib]);
            if (absD > amaxScale) {
                amaxScale = absD;
                maxScale = scales[ib];
            }
        }
        float d = -maxScale / 32;
        out.d = d;
        float id = d != 0 ? 1 / d : 0.f;
        for (int ib = 0; ib < 8; ib++) {
            int l = nearestInt(id * scales[ib]);
            l = Math.max(-32, Math.min(31, l));
            float dl = d * l;
            float idl = dl != 0 ? 1 / dl : 0.f;
            for (int j = 0; j < 32; j++) L[32 * ib + j] = KQuantSearch.bestIndexInt8(16, values, idl * x[xo + 32 * ib + j]);
            out.scales[ib] = l + 32;
        }
    }
}
