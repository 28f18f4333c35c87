package dev.lowbit.io.arch;

import dev.lowbit.io.BadInputException;
import dev.lowbit.io.hf.HfConfig;

/**
 * The dimensions that fix every tensor shape of a Llama-family decoder, from {@code config.json} or from GGUF
 * hyperparameters. All counts are positive, query heads are a multiple of key/value heads, and head_dim is even
 * (rotary embeddings pair elements); the constructor refuses anything else, naming {@code source}.
 *
 * @param tied the output projection is the embedding table ({@code tie_word_embeddings}); no {@code lm_head} tensor
 */
public record ModelDims(int hidden, int intermediate, int layers, int heads, int kvHeads, int headDim, int vocab,
                        boolean tied, String source) {
    public ModelDims {
        positive(source, "hidden_size", hidden);
        positive(source, "intermediate_size", intermediate);
        positive(source, "num_hidden_layers", layers);
        positive(source, "num_attention_heads", heads);
        positive(source, "num_key_value_heads", kvHeads);
        positive(source, "head_dim", headDim);
        positive(source, "vocab_size", vocab);
        if (heads % kvHeads != 0) {
            throw new BadInputException(source, "num_attention_heads " + heads + " is not a multiple of num_key_value_heads " + kvHeads);
        }
        if (headDim % 2 != 0) throw new BadInputException(source, "head_dim " + headDim + " is odd (rotary embeddings pair elements)");
    }

    /** The dimensions a parsed {@code config.json} states; {@code intermediate_size} is required here. */
    public static ModelDims of(HfConfig c, String source) {
        if (c.intermediateSize() == 0 && !c.raw().has("intermediate_size")) {
            throw new BadInputException(source, "missing intermediate_size");
        }
        return new ModelDims(c.hiddenSize(), c.intermediateSize(), c.numHiddenLayers(), c.numAttentionHeads(),
                c.numKeyValueHeads(), c.headDim(), c.vocabSize(), c.tieWordEmbeddings(), source);
    }

    private static void positive(String source, String key, int v) {
        if (v <= 0) throw new BadInputException(source, key + " must be positive, got " + v);
    }
}
