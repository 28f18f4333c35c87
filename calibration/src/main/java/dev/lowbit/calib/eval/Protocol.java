package dev.lowbit.calib.eval;

/**
 * Which positions of a window of {@code ctx} tokens are scored. Logit row {@code j} predicts token {@code j+1}.
 */
public enum Protocol {
    /** lowbit's reference protocol: predict positions 1..ctx−1 from the prefix inside the window. */
    REFERENCE,
    /**
     * llama.cpp's {@code perplexity} tool: only the second half, logits {@code first = ctx/2 .. ctx−2} predicting
     * tokens {@code ctx/2+1 .. ctx−1}; BOS replaces the window's first token when the tokenizer adds one.
     */
    LLAMACPP;

    /** First logit row scored. */
    public int firstScored(int ctx) {
        return this == REFERENCE ? 0 : ctx / 2;
    }
}
