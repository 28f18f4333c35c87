package dev.lowbit.calib.model;

import dev.lowbit.io.BadInputException;
import java.util.List;

/**
 * How rotary inverse frequencies are derived from {@code rope_theta}, as in Hugging Face's {@code ROPE_INIT_FUNCTIONS}.
 *
 * <p>Default: {@code inv_freq[i] = θ^(−2i/d)}, i = 0..d/2−1 (d = head_dim).
 * <br>{@code linear}: {@code inv_freq[i] / factor} (positions interpolated).
 * <br>{@code llama3}: with {@code λ_i = 2π / inv_freq[i]}, {@code L = original_max_position_embeddings},
 * {@code λ_lo = L / low_freq_factor}, {@code λ_hi = L / high_freq_factor}: frequencies with {@code λ_i > λ_lo} are
 * divided by {@code factor}, those with {@code λ_i < λ_hi} kept, and in between blended with
 * {@code s = (L/λ_i − low_freq_factor)/(high_freq_factor − low_freq_factor)}: {@code (1−s)·f/factor + s·f}.
 */
public record RopeScaling(String type, double factor, double lowFreqFactor, double highFreqFactor,
                          int originalMaxPositionEmbeddings) {
    public static final List<String> SUPPORTED = List.of("default", "linear", "llama3");

    public static final RopeScaling NONE = new RopeScaling("default", 1, 1, 4, 8192);

    public RopeScaling {
        if (!SUPPORTED.contains(type)) {
            throw new BadInputException("config.json", "rope scaling '" + type + "' is not supported (supported: "
                    + String.join(", ", SUPPORTED) + ")");
        }
    }

    /** Inverse frequencies in f32, the way transformers computes them ({@code 1/θ^(2i/d)} rounded to f32). */
    public float[] inverseFrequencies(double theta, int headDim) {
        float[] inv = new float[headDim / 2];
        for (int i = 0; i < inv.length; i++) {
            float exponent = (float) (2 * i) / headDim;
            float f = (float) (1.0 / (float) Math.pow(theta, exponent));
            inv[i] = switch (type) {
                case "linear" -> (float) (f / factor);
                case "llama3" -> llama3(f);
                default -> f;
            };
        }
        return inv;
    }

    private float llama3(float f) {
        double wavelen = 2 * Math.PI / f;
        double lowWavelen = originalMaxPositionEmbeddings / lowFreqFactor;
        double highWavelen = originalMaxPositionEmbeddings / highFreqFactor;
        if (wavelen > lowWavelen) return (float) (f / factor);
        if (wavelen < highWavelen) return f;
        double s = (originalMaxPositionEmbeddings / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
        return (float) ((1 - s) * f / factor + s * f);
    }
}
