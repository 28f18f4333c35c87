package dev.lowbit.ptq.search;

import dev.lowbit.io.ggml.BlockCodec;
import dev.lowbit.io.ggml.BlockCodecs;
import dev.lowbit.io.ggml.GgmlType;
import java.lang.foreign.MemorySegment;

/** The {@link GgmlSearch} of every ggml type lowbit can write. */
public final class GgmlSearches {
    private GgmlSearches() {}

    /**
     * The search of {@code type}.
     *
     * @throws UnsupportedOperationException naming the type when lowbit cannot write it
     */
    public static GgmlSearch forType(GgmlType type) {
        BlockCodec codec = BlockCodecs.forType(type);
        if (LegacyWeighted.covers(type)) return new Legacy(type, codec);
        return new Reference(type, codec);
    }

    /** Whether {@link #forType} has a search for {@code type}. */
    public static boolean supports(GgmlType type) {
        return BlockCodecs.supports(type);
    }

    /** Q4_0, Q4_1, Q5_0, Q5_1: the codec's reference quantizer (what the spec fixes) or, with weights, {@link LegacyWeighted}. */
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

    /** Types whose blocks the codec fills itself (floats, Q8_0, MXFP4; the k-quants, IQ4 and TQ until they move here). */
    private record Reference(GgmlType type, BlockCodec codec) implements GgmlSearch {
        @Override
        public void quantizeRow(float[] x, int off, int n, float[] importance, MemorySegment dst, long dstOff) {
            codec.quantizeRow(x, off, n, codec.usesImportance() ? importance : null, dst, dstOff);
        }

        @Override
        public boolean usesImportance() {
            return codec.usesImportance();
        }
    }
}
