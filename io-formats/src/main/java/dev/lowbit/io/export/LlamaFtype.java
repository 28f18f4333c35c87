package dev.lowbit.io.export;

import dev.lowbit.io.ggml.GgmlType;

import java.util.Locale;

/**
 * llama.cpp's {@code llama_ftype}: the "file type" written as {@code general.file_type} (u32) and the name of a
 * quantization mix ({@code Q4_K_M} …). Its ids are a different enum from {@link GgmlType}'s: Q8_0 is ftype 7 but
 * ggml type 8. Each mix has a default tensor type ({@code llama_ftype_get_default_type}); {@link QuantMix} decides
 * where a mix departs from it.
 *
 * <p>Only the mixes lowbit can produce are listed; the IQ1/IQ2/IQ3 mixes (which require an importance matrix and
 * codecs we do not have) and {@code Q2_K_S} are deliberately absent, so their rules are not modelled either.
 */
public enum LlamaFtype {
    ALL_F32(0, GgmlType.F32),
    F16(1, GgmlType.F16),
    Q4_0(2, GgmlType.Q4_0),
    Q4_1(3, GgmlType.Q4_1),
    Q8_0(7, GgmlType.Q8_0),
    Q5_0(8, GgmlType.Q5_0),
    Q5_1(9, GgmlType.Q5_1),
    Q2_K(10, GgmlType.Q2_K),
    Q3_K_S(11, GgmlType.Q3_K),
    Q3_K_M(12, GgmlType.Q3_K),
    Q3_K_L(13, GgmlType.Q3_K),
    Q4_K_S(14, GgmlType.Q4_K),
    Q4_K_M(15, GgmlType.Q4_K),
    Q5_K_S(16, GgmlType.Q5_K),
    Q5_K_M(17, GgmlType.Q5_K),
    Q6_K(18, GgmlType.Q6_K),
    IQ4_NL(25, GgmlType.IQ4_NL),
    BF16(32, GgmlType.BF16),
    TQ1_0(36, GgmlType.TQ1_0),
    TQ2_0(37, GgmlType.TQ2_0),
    /** llama.cpp's {@code MXFP4_MOE}: expert (3-D) tensors MXFP4, every other quantizable tensor Q8_0. */
    MXFP4_MOE(38, GgmlType.MXFP4),
    NVFP4(39, GgmlType.NVFP4),
    Q1_0(40, GgmlType.Q1_0),
    Q2_0(41, GgmlType.Q2_0);

    private final int id;
    private final GgmlType defaultType;

    LlamaFtype(int id, GgmlType defaultType) {
        this.id = id;
        this.defaultType = defaultType;
    }

    /** The value of {@code general.file_type}. */
    public int id() {
        return id;
    }

    /** The tensor type the mix uses wherever its rules say nothing else. */
    public GgmlType defaultType() {
        return defaultType;
    }

    /**
     * Parses a mix name as llama-quantize spells it ({@code Q4_K_M}, {@code q4_k_m}); {@code F32} and {@code MXFP4}
     * are accepted for {@link #ALL_F32} and {@link #MXFP4_MOE}.
     *
     * @throws IllegalArgumentException naming the accepted mixes
     */
    public static LlamaFtype parse(String name) {
        String n = name.strip().toUpperCase(Locale.ROOT);
        switch (n) {
            case "F32" -> { return ALL_F32; }
            case "MXFP4" -> { return MXFP4_MOE; }
            default -> { }
        }
        for (LlamaFtype f : values()) {
            if (f.name().equals(n)) return f;
        }
        throw new IllegalArgumentException("unknown GGUF quantization mix '" + name + "' (expected one of "
                + java.util.Arrays.toString(values()) + ")");
    }

    /** The ftype with this {@code general.file_type} id, or {@code null}. */
    public static LlamaFtype byId(long id) {
        for (LlamaFtype f : values()) {
            if (f.id == id) return f;
        }
        return null;
    }
}
