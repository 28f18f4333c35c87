package dev.lowbit.ptq.gptq;

/**
 * The damped Hessian of a Linear's inputs has no Cholesky factor, so GPTQ cannot run on it: too few calibration
 * tokens for the input width, or inputs that are exactly collinear. The caller decides: stop, or fall back to plain
 * rounding for this Linear.
 */
public final class NotPositiveDefiniteException extends IllegalStateException {
    private final String tensor;

    NotPositiveDefiniteException(String tensor, double percDamp, ArithmeticException cause) {
        super("lowbit: GPTQ '" + tensor + "': Hessian is not positive definite after damping " + percDamp
                + "·mean(diag H) (" + cause.getMessage() + "); raise the damping or use more calibration samples", cause);
        this.tensor = tensor;
    }

    /** The weight whose Hessian failed. */
    public String tensor() {
        return tensor;
    }
}
