package dev.lowbit.ptq.grid;

import dev.lowbit.io.quant.FloatSchemes;
import dev.lowbit.io.quant.QuantScheme;
import dev.lowbit.io.quant.QuantScheme.ElementType;
import dev.lowbit.io.quant.QuantScheme.ScaleType;
import dev.lowbit.io.quant.QuantizedTensor;
import dev.lowbit.kernels.FloatFormats;
import java.util.List;

/**
 * A floating-point scheme ({@link FloatSchemes}: FP8 per channel, OCP MX, NVFP4) as a grid, for RTN ({@link #rtn}) and
 * GPTQ ({@code Gptq.sweep}).
 *
 * <p>Scales, per scheme (x̂ = g · s · v(q), v the element value, q = RNE-saturating code of x / (g·s)):
 * <ul>
 *   <li>FP8 per channel: s = amax(row) / max(element) in f32 (compressed-tensors FP8_DYNAMIC weights), g = 1, fixed
 *       before the sweep from the weights as given;</li>
 *   <li>MX (E8M0 per 32): s = 2^k, with k by one of the three rules tools use ({@link MxExponent}), fitted when the sweep
 *       first reaches a block, from the block's error-compensated weights; g = 1;</li>
 *   <li>NVFP4: G = 448·6/amax(tensor) from the weights as given, g = 1/G; s = E4M3(amax(block)·G/6) per 16, fitted as
 *       MX blocks are; an all-zero block takes s = 1 (ModelOpt). With {@link FourOverSix} the block also tries
 *       s₄ = E4M3(min(amax(block)·G/4, 448)) (the block maximum on 4 rather than 6: values between 4 and 6 have no grid
 *       point in between) and keeps it iff its error Σ wᵢ(xᵢ − x̂ᵢ)² is strictly lower (mit-han-lab/fouroversix, rule
 *       "mse"; weights wᵢ = 1, or diag(H) of column i for {@link FourOverSix#WEIGHTED}). G stays plain NVFP4's, so
 *       each block's error can only fall against plain NVFP4's; the paper lowers G to 256·6/amax instead so that
 *       every block can reach 4, which on tiny-llama-code cost more than it gained (48 windows of eval_code: plain
 *       17.7626, G on 256 17.8322, G on 448 17.7447). A block near the tensor maximum whose 4-scale would pass 448 tries
 *       448 itself.</li>
 * </ul>
 * A block scale beyond E4M3's 448 is clamped to 448 and counted ({@link #clampedScales()}): with G from the tensor's
 * own amax it cannot happen beyond f32 rounding.
 */
public final class FpGrid implements Grid {

    /** How an MX block's power-of-two scale 2^k is chosen from the block's amax (emax = floor(log2 max element)). */
    public enum MxExponent {
        /** OCP MX v1.0 and ggml's MXFP4: k = floor(log2 amax) − emax; amax on (max, 2^(emax+1)) saturates to max. */
        OCP("ocp"),
        /** compressed-tensors: amax first rounded to a power of two (up when its mantissa is ≥ 1.75), then OCP's rule. */
        COMPRESSED_TENSORS("compressed-tensors"),
        /** ModelOpt: k = ceil(log2(amax / max element)): nothing saturates, the grid is up to 2× coarser. */
        MODELOPT("modelopt");

        private final String wire;

        MxExponent(String wire) {
            this.wire = wire;
        }

        public String wire() {
            return wire;
        }

        public static MxExponent of(String s) {
            for (MxExponent e : values()) if (e.wire.equals(s)) return e;
            return null;
        }

        /** The exponent k for a block of maximum magnitude {@code amax} (finite, ≥ 0), clamped to E8M0's −127..127. */
        public int exponent(float amax, ElementType element) {
            if (amax == 0f) return -127;
            int emax = FloatSchemes.emax(element);
            int k = switch (this) {
                case OCP -> Math.getExponent(amax) - emax;
                case COMPRESSED_TENSORS -> {
                    // add a quarter of the binade in the mantissa, then drop the mantissa: ≥ 1.75·2^e → 2^(e+1)
                    float p2 = Float.intBitsToFloat((Float.floatToRawIntBits(amax) + (1 << 21)) & 0xFF800000);
                    yield Math.getExponent(p2) - emax;
                }
                case MODELOPT -> {
                    double r = amax / (double) FloatSchemes.max(element);
                    int e = Math.getExponent(r);
                    yield Math.scalb(1.0, e) == r ? e : e + 1;
                }
            };
            return Math.max(-127, Math.min(127, k));
        }
    }

    /** NVFP4 only: the per-block choice between the block maximum on 6 (plain NVFP4) and on 4. */
    public enum FourOverSix { OFF, MSE, WEIGHTED }

    private final QuantScheme scheme;
    private final ElementType element;
    private final MxExponent mx;
    private final FourOverSix fourOverSix;
    private final int rows, cols, block, groups;
    private final byte[] codes;
    private final float[] scales;
    private final boolean[] fitted;
    private float g = 1f, bigG = 1f;
    private int clamped, chose4;

    public FpGrid(QuantScheme scheme, MxExponent mx, FourOverSix fourOverSix, int rows, int cols) {
        if (!FloatSchemes.isFloat(scheme)) throw new IllegalArgumentException(scheme + " is not a floating-point scheme");
        this.scheme = scheme;
        this.element = scheme.element();
        this.mx = mx == null ? MxExponent.OCP : mx;
        this.fourOverSix = fourOverSix == null ? FourOverSix.OFF : fourOverSix;
        if (this.fourOverSix != FourOverSix.OFF && !FloatSchemes.hasGlobalScale(scheme)) {
            throw new IllegalArgumentException("Four Over Six applies to NVFP4 (E4M3 block scales), not " + scheme);
        }
        int b = FloatSchemes.blockSize(scheme);
        if (b == 0) throw new IllegalArgumentException("per-tensor float scales are not supported here; use per channel");
        this.block = b == -1 ? cols : b;
        if (cols % block != 0) throw new IllegalArgumentException(scheme + " needs rows that are a multiple of " + block + " elements, got " + cols);
        this.rows = rows;
        this.cols = cols;
        this.groups = cols / block;
        this.codes = new byte[rows * cols];
        this.scales = new float[rows * groups];
        this.fitted = new boolean[groups];
    }

    /** RTN: every block fitted on the weights as given, each element rounded on its own (no error pushed). */
    public static QuantizedTensor rtn(String name, float[] w, int rows, int cols, QuantScheme scheme, MxExponent mx,
                                      FourOverSix fourOverSix, double[] importance) {
        checkFinite(name, w);
        FpGrid grid = new FpGrid(scheme, mx, fourOverSix, rows, cols);
        grid.beforeSweep(w, rows, cols);
        Sweep view = new Sweep() {
            public int rows() { return rows; }
            public int cols() { return cols; }
            public float[] batchStart() { return w; }
            public float current(int r, int c) { return w[r * cols + c]; }
            public double importance(int c) { return importance == null ? 1 : importance[c]; }
        };
        for (int c = 0; c < cols; c++) {
            grid.reach(c, c, view);
            for (int r = 0; r < rows; r++) grid.quantize(r, c, c, w[r * cols + c]);
        }
        return grid.result(name);
    }

    /** Refuses NaN/Inf weights with the tensor's name and the first bad position. */
    public static void checkFinite(String name, float[] w) {
        for (int i = 0; i < w.length; i++) {
            if (!Float.isFinite(w[i])) throw new IllegalArgumentException("tensor '" + name + "': weight [" + i + "] is " + w[i]);
        }
    }

    @Override
    public void beforeSweep(float[] w, int rows, int cols) {
        if (FloatSchemes.hasGlobalScale(scheme)) {
            float amax = 0f;
            for (float v : w) amax = Math.max(amax, Math.abs(v));
            float g0 = amax == 0f ? 1f : 448f * FloatSchemes.max(element) / amax;
            if (!Float.isFinite(g0)) g0 = Float.MAX_VALUE;
            // g = 1/G must round-trip through the written G: nudge G down an ulp at a time until 1/(1/G) == G
            float gg = g0;
            for (int i = 0; i < 8 && 1f / (1f / gg) != gg; i++) gg = Math.nextDown(gg);
            if (1f / (1f / gg) != gg) throw new IllegalStateException("no round-tripping global scale near " + g0);
            bigG = gg;
            g = 1f / gg;
        }
        if (block == cols && scheme.scaleType() == ScaleType.F32) {
            // FP8 per channel: the row scales are fixed by the weights as given
            float max = FloatSchemes.max(element);
            for (int r = 0; r < rows; r++) {
                float amax = 0f;
                for (int c = 0; c < cols; c++) amax = Math.max(amax, Math.abs(w[r * cols + c]));
                scales[r] = amax == 0f ? 1f : amax / max;
            }
            fitted[0] = true;
        }
    }

    @Override
    public void reach(int j, int c, Sweep sweep) {
        int gi = c / block;
        if (fitted[gi]) return;
        fitted[gi] = true;
        int c0 = gi * block;
        float[] x = new float[block];
        double[] imp = new double[block];
        for (int i = 0; i < block; i++) imp[i] = fourOverSix == FourOverSix.WEIGHTED ? sweep.importance(c0 + i) : 1;
        for (int r = 0; r < rows; r++) {
            float amax = 0f;
            for (int i = 0; i < block; i++) {
                x[i] = sweep.current(r, c0 + i);
                amax = Math.max(amax, Math.abs(x[i]));
            }
            scales[r * groups + gi] = fitScale(x, imp, amax);
        }
    }

    private float fitScale(float[] x, double[] imp, float amax) {
        if (scheme.scaleType() == ScaleType.E8M0) {
            return FloatFormats.e8m0ToF32(FloatFormats.e8m0OfExponent(mx.exponent(amax, element)));
        }
        // NVFP4: E4M3 block scales under the global G
        if (amax == 0f) return 1f;
        float s6 = e4m3(amax * bigG / 6f);
        if (fourOverSix == FourOverSix.OFF) return s6;
        float s4 = e4m3(Math.min(amax * bigG / 4f, 448f)); // a candidate: capped, not an overflow
        if (blockError(x, imp, s4) < blockError(x, imp, s6)) {
            chose4++;
            return s4;
        }
        return s6;
    }

    /** E4M3 of a positive scale: nearest even, clamped (and counted) at 448, and never 0 for a non-zero block. */
    private float e4m3(float v) {
        if (v > 448f) clamped++;
        float s = FloatFormats.e4m3ToF32(FloatFormats.f32ToE4m3(Math.min(v, 448f)));
        return s == 0f ? 0x1p-9f : s;
    }

    private double blockError(float[] x, double[] imp, float s) {
        double err = 0;
        for (int i = 0; i < x.length; i++) {
            double d = x[i] - value(s, code(x[i], s));
            err += imp[i] * d * d;
        }
        return err;
    }

    private int code(float x, float s) {
        return FloatSchemes.encode(element, x / (g * s));
    }

    /** x̂ exactly as {@link QuantizedTensor#dequantize()} computes it: g · (s · v), g = 1 left out. */
    private float value(float s, int q) {
        float v = s * FloatSchemes.decode(element, q);
        return g == 1f ? v : g * v;
    }

    @Override
    public float quantize(int r, int j, int c, float x) {
        float s = scales[r * groups + c / block];
        int q = code(x, s);
        codes[r * cols + c] = (byte) q;
        return value(s, q);
    }

    /** Block scales clamped at E4M3's 448. */
    public int clampedScales() {
        return clamped;
    }

    /** NVFP4 blocks for which Four Over Six kept the scale that puts the block maximum on 4. */
    public int blocksOnFour() {
        return chose4;
    }

    /** The codes and scales the grid chose, sequential groups, global scale 1/G (NVFP4) or 1. */
    public QuantizedTensor result(String name) {
        for (int gi = 0; gi < groups; gi++) {
            if (!fitted[gi]) throw new IllegalStateException("block column " + gi + " was never reached");
        }
        int[] gIdx = new int[cols];
        for (int c = 0; c < cols; c++) gIdx[c] = c / block;
        return new QuantizedTensor(name, rows, cols, scheme, List.of(new QuantizedTensor.Plane(codes, scales, null, null, null)), gIdx, g);
    }
}
