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
 */
public record GptqConfig(QuantScheme scheme, double percDamp, int blockSize, boolean actOrder, boolean staticGroups,
                         ClipSearch clip, ZeroFloor zeroFloor) {
    public GptqConfig {
        if (scheme == null) throw new IllegalArgumentException("GPTQ needs a quant scheme");
        if (!(percDamp >= 0) || Double.isInfinite(percDamp)) throw new IllegalArgumentException("GPTQ damping must be ≥ 0, got " + percDamp);
        if (blockSize < 1) throw new IllegalArgumentException("GPTQ block size must be ≥ 1, got " + blockSize);
    }

    /** The reference's defaults: 1% damping, block 128, no act-order, no static groups, no clipping search. */
    public static GptqConfig of(QuantScheme scheme) {
        return new GptqConfig(scheme, 0.01, 128, false, false, null, null);
    }

    public GptqConfig withActOrder(boolean actOrder, boolean staticGroups) {
        return new GptqConfig(scheme, percDamp, blockSize, actOrder, staticGroups, clip, zeroFloor);
    }

    public GptqConfig withPercDamp(double percDamp) {
        return new GptqConfig(scheme, percDamp, blockSize, actOrder, staticGroups, clip, zeroFloor);
    }

    public GptqConfig withZeroFloor(ZeroFloor zeroFloor) {
        return new GptqConfig(scheme, percDamp, blockSize, actOrder, staticGroups, clip, zeroFloor);
    }

    public GptqConfig withBlockSize(int blockSize) {
        return new GptqConfig(scheme, percDamp, blockSize, actOrder, staticGroups, clip, zeroFloor);
    }
}
