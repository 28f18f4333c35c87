package dev.lowbit.calib.model;

/** The seven Linears of a Llama-family decoder layer, with the input each one reads. */
public enum Linear {
    Q, K, V, O, GATE, UP, DOWN;

    /** Which shared input this Linear reads. */
    public LinearInput input() {
        return switch (this) {
            case Q, K, V -> LinearInput.QKV;
            case O -> LinearInput.O;
            case GATE, UP -> LinearInput.GATE_UP;
            case DOWN -> LinearInput.DOWN;
        };
    }
}
