package dev.lowbit.ptq.scheme;

import java.util.concurrent.atomic.LongAdder;

/**
 * A lower bound on asymmetric zero points, for targets that cannot store smaller ones: GPTQ v1 writes {@code z − 1}
 * into unsigned {@code qzeros}, so it needs z ≥ 1. Min/max gives z = rint(−lo/scale) = 0 whenever a group's minimum
 * is small next to its range (one outlier 8.0 over a minimum of −0.08). For such a group the grid is widened instead:
 * with z = {@code min}, the codes 0..maxq cover [−min·s, (maxq − min)·s], so the smallest scale that still covers the
 * group's [lo, hi] is s = max(−lo / min, hi / (maxq − min)). The group loses a little resolution (s grows by at most
 * maxq/(maxq − 1)), nothing is clipped, and every other group is untouched. {@link #widened()} counts the groups
 * (rows × groups) adjusted, for the report.
 *
 * @param min the smallest storable zero point (1 for GPTQ v1)
 */
public record ZeroFloor(int min, LongAdder widened) {
    public ZeroFloor {
        if (min < 1) throw new IllegalArgumentException("zero floor must be ≥ 1, got " + min);
    }

    /** GPTQ v1's floor, with a fresh counter. */
    public static ZeroFloor gptqV1() {
        return new ZeroFloor(1, new LongAdder());
    }

    /** How many groups were widened so far. */
    public long count() {
        return widened.sum();
    }
}
