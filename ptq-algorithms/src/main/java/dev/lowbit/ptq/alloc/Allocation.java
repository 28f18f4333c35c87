package dev.lowbit.ptq.alloc;

/**
 * One allocation: the option index each item takes, the total bytes (fixed bytes included) and the total cost.
 */
public record Allocation(int[] choice, long bytes, double cost) {
    public Allocation {
        choice = choice.clone();
    }

    @Override
    public int[] choice() {
        return choice.clone();
    }

    /** Option index of item i. */
    public int choiceOf(int i) {
        return choice[i];
    }
}
