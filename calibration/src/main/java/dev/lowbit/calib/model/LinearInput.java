package dev.lowbit.calib.model;

import java.util.List;

/**
 * The four distinct Linear inputs of a decoder layer, in execution order:
 * {q,k,v} read the normed residual, {o} the attention output, {gate,up} the normed residual after attention,
 * {down} {@code silu(gate)·up}. Observers key statistics on these (one Hessian serves q, k and v).
 */
public enum LinearInput {
    QKV(List.of(Linear.Q, Linear.K, Linear.V)),
    O(List.of(Linear.O)),
    GATE_UP(List.of(Linear.GATE, Linear.UP)),
    DOWN(List.of(Linear.DOWN));

    private final List<Linear> readers;

    LinearInput(List<Linear> readers) {
        this.readers = readers;
    }

    /** The Linears that read this input. */
    public List<Linear> readers() {
        return readers;
    }
}
