package dev.lowbit.pipeline.steps;

import dev.lowbit.io.quant.QuantScheme;
import dev.lowbit.io.quant.QuantizedTensor;
import dev.lowbit.ptq.observe.PackedSymmetric;
import dev.lowbit.ptq.scheme.ZeroFloor;

/**
 * A configured quantizer step as the pipeline runs it: one Linear's weight (and, for calibrated methods, the Hessian
 * Σxxᵀ of its inputs) in, a {@link QuantizedTensor} out. The pipeline asks {@link #needsCalibration()} instead of
 * comparing method names.
 */
public interface QuantizerStep extends StepType.Configured {
    /** The step type's name, for reports and the manifest. */
    String name();

    /**
     * The step's integer grid (a recipe's overrides may give some modules another); {@code null} when the output
     * target fixes the grid (GGUF).
     */
    QuantScheme scheme();

    /** Whether {@link #quantize} needs a Hessian, i.e. calibration data run through the model. */
    boolean needsCalibration();

    /** Whether layers are quantized stage by stage ({q,k,v} → {o} → {gate,up} → {down}) with quantized inputs. */
    default boolean trueSequential() {
        return false;
    }

    /** GPTQ's {@code desc_act}: columns in order of decreasing diag(H) (packers record a {@code g_idx}). */
    default boolean actOrder() {
        return false;
    }

    /** GPTQ's {@code static_groups}. */
    default boolean staticGroups() {
        return false;
    }

    /** GPTQ's {@code damp_percent}, recorded in a GPTQ checkpoint's quantization_config (0.01 for data-free steps). */
    default double dampPercent() {
        return 0.01;
    }

    /**
     * Quantizes one Linear.
     *
     * @param module  module name, for messages
     * @param scheme  the module's grid: {@link #scheme()} or a recipe override's
     * @param weight  row-major {@code rows × cols} f32
     * @param hessian {@code cols × cols} Σxxᵀ for calibrated steps (may be modified), {@code null} otherwise
     */
    QuantizedTensor quantize(String module, QuantScheme scheme, float[] weight, int rows, int cols, double[] hessian);

    /**
     * {@link #quantize} with asymmetric zero points kept at or above {@code floor.min()} by widening a group's grid
     * ({@link ZeroFloor}: GPTQ v1 cannot store z = 0); {@code floor} null is plain {@link #quantize}. A step that
     * cannot honour a floor refuses it rather than produce codes the target cannot store.
     */
    default QuantizedTensor quantize(String module, QuantScheme scheme, float[] weight, int rows, int cols, double[] hessian,
                                     ZeroFloor floor) {
        if (floor == null) return quantize(module, scheme, weight, rows, cols, hessian);
        throw new UnsupportedOperationException("step '" + name() + "' cannot keep zero points at or above " + floor.min());
    }

    /**
     * {@link #quantize(String, QuantScheme, float[], int, int, double[], ZeroFloor)} with the Hessian as its upper
     * triangle (half the memory of the whole matrix; the step may overwrite it), {@code null} for data-free steps. A
     * step that reads only that triangle (GPTQ) takes it as it is; the others get the whole matrix.
     */
    default QuantizedTensor quantizePacked(String module, QuantScheme scheme, float[] weight, int rows, int cols, PackedSymmetric hessian,
                                           ZeroFloor floor) {
        return quantize(module, scheme, weight, rows, cols, hessian == null ? null : hessian.toFull(), floor);
    }
}
