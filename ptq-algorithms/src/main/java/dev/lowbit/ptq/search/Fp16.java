package dev.lowbit.ptq.search;

/** The value an f32 becomes once stored as fp16 (IEEE half, round to nearest even: ggml's {@code GGML_FP32_TO_FP16}). */
final class Fp16 {
    private Fp16() {}

    static float round(float v) {
        return Float.float16ToFloat(Float.floatToFloat16(v));
    }
}
