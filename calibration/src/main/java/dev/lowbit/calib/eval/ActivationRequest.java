package dev.lowbit.calib.eval;

import dev.lowbit.calib.model.LinearInput;
import dev.lowbit.io.quant.ActivationScheme;
import java.nio.file.Path;
import java.util.Set;

/**
 * Activation quantization to apply while evaluating (an experiment on top of whatever the checkpoint's weights are):
 * the scheme, which Linear inputs it applies to, and for a static scheme the calibration text whose first
 * {@code calibWindows} windows of {@code calibSeqlen} tokens give each input's max |x| (scale = max / qmax).
 */
public record ActivationRequest(ActivationScheme scheme, Set<LinearInput> inputs, Path calib, int calibWindows, int calibSeqlen,
                                float clip, Set<Integer> layers) {
    /** No clipping (clip ratio 1), every decoder layer. */
    public ActivationRequest(ActivationScheme scheme, Set<LinearInput> inputs, Path calib, int calibWindows, int calibSeqlen) {
        this(scheme, inputs, calib, calibWindows, calibSeqlen, 1f, null);
    }

    /** Every decoder layer. */
    public ActivationRequest(ActivationScheme scheme, Set<LinearInput> inputs, Path calib, int calibWindows, int calibSeqlen, float clip) {
        this(scheme, inputs, calib, calibWindows, calibSeqlen, clip, null);
    }

    /**
     * @param clip   every scale times this ratio in (0, 1] ({@code ScaledActivations#withClip})
     * @param layers the decoder layers whose inputs are quantized, or null for all of them
     */
    public ActivationRequest {
        if (!(clip > 0 && clip <= 1)) throw new IllegalArgumentException("clip ratio must be in (0, 1], got " + clip);
        layers = layers == null ? null : Set.copyOf(layers);
        if (layers != null && layers.isEmpty()) throw new IllegalArgumentException("no layers selected");
        inputs = Set.copyOf(inputs);
        if (inputs.isEmpty()) throw new IllegalArgumentException("no Linear inputs selected");
        if (!scheme.dynamic() && calib == null) throw new IllegalArgumentException("static activation scales need calibration data");
    }
}
