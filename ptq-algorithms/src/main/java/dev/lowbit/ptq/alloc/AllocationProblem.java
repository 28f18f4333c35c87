package dev.lowbit.ptq.alloc;

import java.util.List;

/**
 * A bit-allocation problem as a multiple-choice knapsack: every item (a tensor, or a group of tensors that must take
 * the same scheme, summed) takes exactly one of its options; the options' bytes plus {@code fixedBytes} (what is not
 * being allocated: norms, pinned tensors) must not exceed {@code budget}; the total predicted cost (sensitivity) is to
 * be minimal.
 *
 * <pre>
 *   minimise   Σ_i Σ_c cost[i][c] · x[i][c]
 *   subject to Σ_c x[i][c] = 1                                  for every item i
 *              fixedBytes + Σ_i Σ_c bytes[i][c] · x[i][c] ≤ budget
 *              x[i][c] ∈ {0, 1}
 * </pre>
 *
 * @param items      the items, each with at least one option
 * @param fixedBytes bytes counted in the budget that no choice changes
 * @param budget     total bytes allowed
 */
public record AllocationProblem(List<Item> items, long fixedBytes, long budget) {
    public AllocationProblem {
        items = List.copyOf(items);
        if (fixedBytes < 0) throw new IllegalArgumentException("fixedBytes < 0");
        for (Item it : items) if (it.options().isEmpty()) throw new IllegalArgumentException("item " + it.name() + " has no option");
    }

    /** One item and its options. */
    public record Item(String name, List<Option> options) {
        public Item {
            options = List.copyOf(options);
        }

        long minBytes() {
            return options.stream().mapToLong(Option::bytes).min().orElseThrow();
        }

        long maxBytes() {
            return options.stream().mapToLong(Option::bytes).max().orElseThrow();
        }
    }

    /**
     * One choice: a label (e.g. a ggml type or {@code w4g128}), its exact size in bytes and its predicted cost.
     * Costs must be finite and non-negative.
     */
    public record Option(String label, long bytes, double cost) {
        public Option {
            if (bytes < 0) throw new IllegalArgumentException(label + ": bytes < 0");
            if (!(cost >= 0) || Double.isInfinite(cost)) throw new IllegalArgumentException(label + ": cost " + cost + " is not finite and ≥ 0");
        }
    }

    /** The smallest total size any allocation reaches (every item at its smallest option). */
    public long minBytes() {
        long s = fixedBytes;
        for (Item it : items) s += it.minBytes();
        return s;
    }

    /** The largest total size (every item at its largest option). */
    public long maxBytes() {
        long s = fixedBytes;
        for (Item it : items) s += it.maxBytes();
        return s;
    }

    /** The same items and fixed bytes under another budget. */
    public AllocationProblem withBudget(long b) {
        return new AllocationProblem(items, fixedBytes, b);
    }

    /** Bytes and cost of a choice vector ({@code choice[i]} = option index of item i). */
    public Allocation evaluate(int[] choice) {
        if (choice.length != items.size()) throw new IllegalArgumentException("choice has " + choice.length + " entries for " + items.size() + " items");
        long bytes = fixedBytes;
        double cost = 0;
        for (int i = 0; i < choice.length; i++) {
            Option o = items.get(i).options().get(choice[i]);
            bytes += o.bytes();
            cost += o.cost();
        }
        return new Allocation(choice.clone(), bytes, cost);
    }
}
