package dev.lowbit.ptq.grid;

/**
 * The grid an error-compensating quantizer rounds to: which values a weight may take and how their parameters are
 * found. GPTQ ({@code Gptq.sweep}) asks it two things as it sweeps the columns of one weight matrix:
 * <ul>
 *   <li>{@link #reach}: the sweep is about to quantize the column at sweep position j (physical input column c);
 *       a grid whose group starts here fits that group's parameters now, from the weights as the sweep has
 *       compensated them so far;</li>
 *   <li>{@link #quantize}: round one weight with the fitted parameters, remember its code, and return the value the
 *       packed artifact will decode to (the error GPTQ pushes forward is measured against exactly that value).</li>
 * </ul>
 * A grid object holds the state of one matrix (parameters and codes) and produces that matrix's packed form when the
 * sweep is over; it is used by one thread. Implementations: {@link IntegerGrid} (GPTQ's min/max integer grid, the
 * reference's {@code Quantizer}) and {@link GgmlGrid} (a ggml block type, its own scale search per block).
 */
public interface Grid {

    /** What a grid may read while it fits a group: the sweep's current weights and the (damped) Hessian diagonal. */
    interface Sweep {
        int rows();

        int cols();

        /**
         * The weight matrix in sweep order (rows × cols, row-major) as it stood at the start of the current lazy
         * batch: later batches' updates are in, the current batch's are not. The GPTQ reference fits its groups from
         * this (the {@link IntegerGrid} does too, to stay bit-identical to it).
         */
        float[] batchStart();

        /** The up-to-date, error-compensated weight at row r, physical column c (meaningful for columns not yet quantized). */
        float current(int r, int c);

        /** diag(H) + damping of physical column c: the importance of input channel c. */
        double importance(int c);
    }

    /**
     * Called once before dead columns are zeroed and before any permutation, with the weights as given ({@code w} is
     * the sweep's copy; do not modify it).
     */
    default void beforeSweep(float[] w, int rows, int cols) {}

    /** Called once after dead columns are zeroed, before any permutation (physical column order). */
    default void afterDeadColumns(float[] w, int rows, int cols) {}

    /** The sweep reaches position j, physical column c, before any of its rows is quantized. */
    void reach(int j, int c, Sweep sweep);

    /** Quantizes x, the weight at row r of physical column c (sweep position j); returns its dequantized value. */
    float quantize(int r, int j, int c, float x);
}
