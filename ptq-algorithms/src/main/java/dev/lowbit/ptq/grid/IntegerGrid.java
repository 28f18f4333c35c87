package dev.lowbit.ptq.grid;

import dev.lowbit.io.quant.QuantScheme;
import dev.lowbit.io.quant.QuantizedTensor;
import dev.lowbit.ptq.scheme.ClipSearch;
import dev.lowbit.ptq.scheme.GroupQuantizer;
import dev.lowbit.ptq.scheme.ZeroFloor;

/**
 * GPTQ's own grid, as the reference's {@code Quantizer}: per row and group of {@code groupSize} columns, min/max
 * (optionally MSE-clipped) scale and zero from {@link GroupQuantizer}, codes 0..2^bits − 1. Where the parameters come
 * from follows the reference step for step:
 * <ul>
 *   <li>per channel: once, from the weights as given (before dead columns are zeroed);</li>
 *   <li>static groups: once per group of physical columns, after dead columns are zeroed, before the sweep;</li>
 *   <li>otherwise: when the sweep reaches a multiple of the group size in sweep order, from the weights as they
 *       stood at the start of the lazy batch ({@link Sweep#batchStart()}); with act-order a group is then a run of
 *       sweep positions and {@code g_idx} records which group each physical column fell into.</li>
 * </ul>
 * The result is a {@link QuantizedTensor} in physical column order.
 */
public final class IntegerGrid implements Grid {
    private final QuantScheme scheme;
    private final ClipSearch clip;
    private final ZeroFloor zeroFloor;
    private final boolean staticGroups;
    private final boolean grouped;
    private final int rows, cols, groupSize, groups, maxq;
    private final byte[] codes;
    private final float[] scales;
    private final int[] zeros;
    private final int[] gIdx;
    private float[] scale, zero;
    private float[][] staticScale, staticZero;
    private float[] rowShrink;

    /**
     * @param clip         the MSE clipping search, or null for plain min/max
     * @param zeroFloor    the smallest zero point the target stores, or null for any
     * @param staticGroups fit every group before the sweep (GPTQ's {@code static_groups})
     */
    public IntegerGrid(QuantScheme scheme, ClipSearch clip, ZeroFloor zeroFloor, boolean staticGroups, int rows, int cols) {
        this.scheme = scheme;
        this.clip = clip;
        this.zeroFloor = zeroFloor;
        this.staticGroups = staticGroups;
        this.grouped = scheme.groupSize() != -1;
        this.rows = rows;
        this.cols = cols;
        this.groupSize = scheme.effectiveGroupSize(cols);
        this.groups = scheme.groupCount(cols);
        this.maxq = scheme.maxq();
        this.codes = new byte[rows * cols];
        this.scales = new float[rows * groups];
        this.zeros = new int[rows * groups];
        this.gIdx = new int[cols];
        this.scale = new float[rows];
        this.zero = new float[rows];
    }

    /**
     * Per channel: fix row r's parameters at the shrink {@code shrink[r]} of its min/max range instead of searching
     * ({@link GroupQuantizer#paramsAtShrink}); the GPTQ-loss clip search sweeps once per candidate this way.
     */
    public IntegerGrid atRowShrink(float[] shrink) {
        if (grouped) throw new IllegalArgumentException("a fixed per-row shrink needs a per-channel scheme, got group size " + groupSize);
        if (clip != null) throw new IllegalArgumentException("a fixed per-row shrink replaces the MSE clip search");
        if (shrink.length != rows) throw new IllegalArgumentException("shrink has " + shrink.length + " entries for " + rows + " rows");
        this.rowShrink = shrink.clone();
        return this;
    }

    @Override
    public void beforeSweep(float[] w, int rows, int cols) {
        if (grouped) return;
        if (rowShrink != null) GroupQuantizer.paramsAtShrink(w, cols, rows, 0, cols, scheme, rowShrink, zeroFloor, scale, zero);
        else GroupQuantizer.findParams(w, cols, rows, 0, cols, scheme, clip, zeroFloor, scale, zero);
        for (int r = 0; r < rows; r++) {
            scales[r] = scale[r];
            zeros[r] = (int) zero[r];
        }
    }

    @Override
    public void afterDeadColumns(float[] w, int rows, int cols) {
        if (!grouped || !staticGroups) return;
        staticScale = new float[groups][rows];
        staticZero = new float[groups][rows];
        for (int g = 0; g < groups; g++) {
            GroupQuantizer.findParams(w, cols, rows, g * groupSize, (g + 1) * groupSize, scheme, clip, zeroFloor, staticScale[g], staticZero[g]);
            for (int r = 0; r < rows; r++) {
                scales[r * groups + g] = staticScale[g][r];
                zeros[r * groups + g] = (int) staticZero[g][r];
            }
        }
    }

    @Override
    public void reach(int j, int c, Sweep sweep) {
        gIdx[c] = staticGroups ? c / groupSize : j / groupSize;
        if (!grouped) return;
        if (staticGroups) {
            scale = staticScale[c / groupSize];
            zero = staticZero[c / groupSize];
        } else if (j % groupSize == 0) {
            GroupQuantizer.findParams(sweep.batchStart(), cols, rows, j, j + groupSize, scheme, clip, zeroFloor, scale, zero);
            int g = j / groupSize;
            for (int r = 0; r < rows; r++) {
                scales[r * groups + g] = scale[r];
                zeros[r * groups + g] = (int) zero[r];
            }
        }
    }

    @Override
    public float quantize(int r, int j, int c, float x) {
        float q = GroupQuantizer.quantize(x, scale[r], zero[r], maxq);
        codes[r * cols + c] = (byte) q;
        return GroupQuantizer.dequantize(q, scale[r], zero[r]);
    }

    /** The codes, scales, zeros and g_idx the sweep chose, in physical column order. */
    public QuantizedTensor result(String name) {
        return new QuantizedTensor(name, rows, cols, scheme, codes, scales, zeros, gIdx);
    }
}
