package dev.lowbit.ptq.gptq;

import dev.lowbit.io.quant.QuantScheme;
import dev.lowbit.ptq.scheme.ClipSearch;
import dev.lowbit.ptq.scheme.ZeroFloor;

/**
 * GPTQ settings, named after the reference's {@code fasterquant} arguments.
 *
 * @param scheme       bits, group size, symmetry
 * @param percDamp     damping λ = percDamp · mean(diag H) added to diag H (reference: 0.01)
 * @param blockSize    lazy-batch block width B (reference: 128)
 * @param actOrder     {@code desc_act}: quantize columns in order of decreasing diag(H)
 * @param staticGroups group parameters computed once from the (dead-column-zeroed) original weights, by original
 *                     column order, before the sweep; otherwise found on the fly at each group's first column
 * @param clip         the MSE clipping search for group parameters, or null (the reference uses none for weights)
 * @param zeroFloor    the smallest zero point the target stores ({@link ZeroFloor}), or null for any
 * @param lossClip     per-row range shrink chosen by the sweep's own loss ({@link LossClip}), or null; per channel
 *                     only, and not together with {@code clip}
 */
public record GptqConfig(QuantScheme scheme, double percDamp, int blockSize, boolean actOrder, boolean staticGroups,
                         ClipSearch clip, ZeroFloor zeroFloor, LossClip lossClip) {
    public GptqConfig {
        if (scheme == null) throw new IllegalArgumentException("GPTQ needs a quant scheme");
        if (!(percDamp >= 0) || Double.isInfinite(percDamp)) throw new IllegalArgumentException("GPTQ damping must be ≥ 0, got " + percDamp);
        if (blockSize < 1) throw new IllegalArgumentException("GPTQ block size must be ≥ 1, got " + blockSize);
        if (lossClip != null && scheme.groupSize() != -1) {
            throw new IllegalArgumentException("the GPTQ-loss clip search is per channel only (group size -1), got group size " + scheme.groupSize());
        }
        if (lossClip != null && clip != null) throw new IllegalArgumentException("choose one clip search: the MSE one or the GPTQ-loss one");
    }

    /** Without the GPTQ-loss clip search. */
    public GptqConfig(QuantScheme scheme, double percDamp, int blockSize, boolean actOrder, boolean staticGroups,
                      ClipSearch clip, ZeroFloor zeroFloor) {
        this(scheme, percDamp, blockSize, actOrder, staticGroups, clip, zeroFloor, null);
    }

    /** The reference's defaults: 1% damping, block 128, no act-order, no static groups, no clipping search. */
    public static GptqConfig of(QuantScheme scheme) {
        return new GptqConfig(scheme, 0.01, 128, false, false, null, null, null);
    }

    public GptqConfig withActOrder(boolean actOrder, boolean staticGroups) {
        return new GptqConfig(scheme, percDamp, blockSize, actOrder, staticGroups, clip, zeroFloor, lossClip);
    }

    public GptqConfig withPercDamp(double percDamp) {
        return new GptqConfig(scheme, percDamp, blockSize, actOrder, staticGroups, clip, zeroFloor, lossClip);
    }

    public GptqConfig withZeroFloor(ZeroFloor zeroFloor) {
        return new GptqConfig(scheme, percDamp, blockSize, actOrder, staticGroups, clip, zeroFloor, lossClip);
    }

    public GptqConfig withBlockSize(int blockSize) {
        return new GptqConfig(scheme, percDamp, blockSize, actOrder, staticGroups, clip, zeroFloor, lossClip);
    }

    public GptqConfig withLossClip(LossClip lossClip) {
        return new GptqConfig(scheme, percDamp, blockSize, actOrder, staticGroups, clip, zeroFloor, lossClip);
    }

    /** The sweep settings alone, for {@code Gptq.sweep} onto a grid other than the scheme's integer grid. */
    public Options options() {
        return new Options(percDamp, blockSize, actOrder);
    }

    /**
     * What the sweep itself needs, whatever the grid.
     *
     * @param percDamp  damping λ = percDamp · mean(diag H)
     * @param blockSize lazy-batch width
     * @param actOrder  sweep columns in order of decreasing diag(H)
     */
    public record Options(double percDamp, int blockSize, boolean actOrder) {
        public Options {
            if (!(percDamp >= 0)) throw new IllegalArgumentException("GPTQ damping must be ≥ 0, got " + percDamp);
            if (blockSize < 1) throw new IllegalArgumentException("GPTQ block size must be ≥ 1, got " + blockSize);
        }
    }
}
