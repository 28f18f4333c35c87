package dev.lowbit.ptq.search;

import dev.lowbit.io.ggml.BlockCodec;
import dev.lowbit.io.ggml.BlockCodecs;
import dev.lowbit.io.ggml.GgmlBlock;
import dev.lowbit.io.ggml.GgmlType;
import java.lang.foreign.MemorySegment;
import java.util.function.Supplier;

/**
 * The {@link GgmlSearch} of every ggml type lowbit can write:
 * <ul>
 *   <li>Q2_K…Q6_K, IQ4_NL, IQ4_XS, TQ1_0, TQ2_0: llama.cpp's search per block ({@link Q2KSearch}, {@link Q3KSearch},
 *       {@link ScaleMinSearch}, {@link Q6KSearch}, {@link Iq4Search}, {@link TernarySearch}), packed by the codec;</li>
 *   <li>Q4_0, Q4_1, Q5_0, Q5_1: the codec's reference quantizer (what the spec fixes) without weights,
 *       {@link LegacyWeighted}'s search with them;</li>
 *   <li>F32, F16, BF16, Q8_0, MXFP4: the codec's encoding, fixed by the spec; weights do not apply.</li>
 * </ul>
 */
public final class GgmlSearches {
    private GgmlSearches() {}

    /**
     * The search of {@code type}.
     *
     * @throws UnsupportedOperationException naming the type when lowbit cannot write it
     */
    public static GgmlSearch forType(GgmlType type) {
        BlockCodec codec = BlockCodecs.forType(type);
        return switch (type) {
            case Q2_K -> new Blockwise(type, codec, true, Q2KSearch::new);
            case Q3_K -> new Blockwise(type, codec, true, Q3KSearch::new);
            case Q4_K -> new Blockwise(type, codec, true, ScaleMinSearch::q4K);
            case Q5_K -> new Blockwise(type, codec, true, ScaleMinSearch::q5K);
            case Q6_K -> new Blockwise(type, codec, true, Q6KSearch::new);
            case IQ4_NL -> new Blockwise(type, codec, true, Iq4Search::nl);
            case IQ4_XS -> new Blockwise(type, codec, true, Iq4Search::xs);
            case TQ1_0, TQ2_0 -> new Blockwise(type, codec, false, TernarySearch::new);
            case Q4_0, Q4_1, Q5_0, Q5_1 -> new Legacy(type, codec);
            default -> new Fixed(type, codec);
        };
    }

    /** Whether {@link #forType} has a search for {@code type}. */
    public static boolean supports(GgmlType type) {
        return BlockCodecs.supports(type);
    }

    /** A search per block, each block packed by the codec as soon as it is chosen. */
    private record Blockwise(GgmlType type, BlockCodec codec, boolean usesImportance, Supplier<BlockSearch> searches)
            implements GgmlSearch {
        @Override
        public void quantizeRow(float[] x, int off, int n, float[] importance, MemorySegment dst, long dstOff) {
            int bs = type.blockSize();
            RowCheck.check(type.name(), x, off, n, importance, bs);
            float[] w = usesImportance ? importance : null;
            BlockSearch search = searches.get();
            GgmlBlock block = new GgmlBlock(type);
            long typeSize = type.typeSize();
            for (int b = 0; b < n / bs; b++) {
                search.search(x, off + b * bs, w, b * bs, block);
                codec.pack(block, dst, dstOff + b * typeSize);
            }
        }
    }

    /** Q4_0, Q4_1, Q5_0, Q5_1: the codec's reference quantizer, or with weights {@link LegacyWeighted}. */
    private record Legacy(GgmlType type, BlockCodec codec) implements GgmlSearch {
        @Override
        public void quantizeRow(float[] x, int off, int n, float[] importance, MemorySegment dst, long dstOff) {
            if (importance == null) codec.quantizeRow(x, off, n, dst, dstOff);
            else LegacyWeighted.quantizeRow(type, x, off, n, importance, dst, dstOff);
        }

        @Override
        public boolean usesImportance() {
            return true;
        }
    }

    /** Types whose encoding the spec fixes: the codec quantizes, weights do not apply. */
    private record Fixed(GgmlType type, BlockCodec codec) implements GgmlSearch {
        @Override
        public void quantizeRow(float[] x, int off, int n, float[] importance, MemorySegment dst, long dstOff) {
            if (importance != null && importance.length < n) {
                throw new IllegalArgumentException(type + ": importance has " + importance.length + " values for a row of " + n);
            }
            codec.quantizeRow(x, off, n, dst, dstOff);
        }

        @Override
        public boolean usesImportance() {
            return false;
        }
    }
}
