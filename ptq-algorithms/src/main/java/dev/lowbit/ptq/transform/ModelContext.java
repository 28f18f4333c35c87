package dev.lowbit.ptq.transform;

import dev.lowbit.io.arch.ModelArchitecture;

/** The whole model as a {@link WeightTransform} sees it before the first layer. */
public interface ModelContext {
    ModelArchitecture architecture();

    /** Decoder layers. */
    int layers();

    /** Hidden size D. */
    int hidden();

    /** Whether {@code lm_head} is the embedding ({@code tie_word_embeddings}); then {@link #globals()} has no lm_head. */
    boolean tied();

    /**
     * The global tensors as f32: {@code model.embed_tokens.weight}, {@code model.norm.weight} and, unless tied,
     * {@code lm_head.weight}. Editing them here is seen by every later layer (the embedding feeds layer 0). A transform
     * that must give a tied model its own head {@link TensorSet#put}s {@code lm_head.weight}; the pipeline then writes
     * it and records {@code tie_word_embeddings: false}.
     */
    TensorSet globals();

    /** The recipe's seed, for transforms that draw random numbers (a randomised Hadamard). */
    long seed();
}
