package dev.lowbit.io.hf;

/**
 * Rotary-embedding frequency scaling from {@code config.json}: {@code rope_scaling} (transformers 4) or
 * {@code rope_parameters} (transformers 5). Fields that the rope type does not use, or that the file leaves out, are
 * {@code NaN} (doubles) or 0 ({@code originalMaxPositionEmbeddings}).
 *
 * <ul>
 *   <li>{@code default}: no scaling.</li>
 *   <li>{@code linear}: positions divided by {@code factor}.</li>
 *   <li>{@code llama3}: wavelengths above {@code original_max_position_embeddings / low_freq_factor} divided by
 *       {@code factor}, those below {@code original_max_position_embeddings / high_freq_factor} kept, smooth in between.</li>
 * </ul>
 * Other types ({@code yarn}, {@code dynamic}, {@code longrope} …) are kept by name; read their extra fields from
 * {@link HfConfig#raw()}.
 *
 * @param ropeType the {@code rope_type} (or legacy {@code type}) string, {@code "default"} when absent
 */
public record RopeScaling(String ropeType, double factor, double lowFreqFactor, double highFreqFactor,
                          int originalMaxPositionEmbeddings) {
    public static final RopeScaling NONE = new RopeScaling("default", Double.NaN, Double.NaN, Double.NaN, 0);

    public boolean isDefault() {
        return ropeType.equals("default");
    }
}
