package dev.lowbit.io.arch;

import dev.lowbit.io.BadInputException;
import dev.lowbit.io.ggml.BlockCodec;
import dev.lowbit.io.ggml.BlockCodecs;
import dev.lowbit.io.gguf.GgufFile;
import dev.lowbit.io.gguf.GgufTensorInfo;
import dev.lowbit.io.tensor.Tensor;
import dev.lowbit.io.tensor.TensorSource;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Refuses NaN and ±Inf in a checkpoint before anything is computed from it or written: a NaN weight turns into a NaN
 * scale (or a NaN in every activation after it), and a pass-through tensor would carry it into the output.
 *
 * <p>Dense float tensors are checked on their bits (an all-ones exponent field; for E4M3, the S.1111.111 NaN code),
 * without decoding; ggml block types are decoded a row at a time. Integer tensors are skipped.
 */
public final class FiniteScan {
    private static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle LONG_LE = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

    private FiniteScan() {}

    /**
     * Every tensor of {@code tensors}; {@code source} is the file or directory named in the error. Each tensor's mapped
     * pages leave the resident set once scanned: a scan of a 13.5 GB checkpoint holds one tensor's pages at a time.
     */
    public static void require(TensorSource tensors, String source) {
        for (String name : tensors.names()) {
            Tensor t = tensors.tensor(name);
            require(t, source);
            release(t.data());
        }
    }

    /** Drops a scanned slice of a mapped file from the resident set (no-op for memory that is not a mapping). */
    private static void release(MemorySegment s) {
        if (s.isMapped() && s.byteSize() > 0) s.unload();
    }

    /** One dense tensor. */
    public static void require(Tensor t, String source) {
        long at = firstNonFinite(t);
        if (at >= 0) throw nonFinite(source, t.name(), t.shape().dims(), at, t.getFloat(at));
    }

    /** Flat index of the first NaN/Inf element, or −1. */
    public static long firstNonFinite(Tensor t) {
        MemorySegment s = t.data();
        long n = t.elementCount();
        return switch (t.dtype()) {
            case F32 -> firstAllOnes(s, n, 4, 0x7f80_0000L);
            case BF16 -> firstAllOnes(s, n, 2, 0x7f80L);
            case F16 -> firstAllOnes(s, n, 2, 0x7c00L);
            case F64 -> firstAllOnes(s, n, 8, 0x7ff0_0000_0000_0000L);
            case F8_E4M3 -> firstAllOnes(s, n, 1, 0x7fL);
            case F8_E5M2 -> firstAllOnes(s, n, 1, 0x7cL);
            default -> -1;
        };
    }

    /**
     * Index of the first of {@code n} little-endian elements of {@code width} bytes whose bits under {@code field} are
     * all ones (an exponent field: NaN or ±Inf; for E4M3 the S.1111.111 NaN code), or −1. Eight bytes at a time: in
     * each lane t = (x & field) ^ field is zero exactly for such an element, and is otherwise at least field's lowest
     * bit (≥ 2, so below the lane's top bit even after a borrow), which makes {@code (t − ones) & ~t & tops} non-zero
     * iff some lane is zero — no false positives (the scalar check then names the element).
     */
    static long firstAllOnes(MemorySegment s, long n, int width, long field) {
        Lanes m = Lanes.of(width, field);
        long lane = m.lane(), fields = m.fields(), ones = m.ones(), tops = m.tops(); // locals for the hot loop
        long perWord = 8 / width;
        long words = n / perWord;
        for (long w = 0; w < words; w++) {
            long t = (s.get(LONG, 8 * w) & fields) ^ fields;
            if (((t - ones) & ~t & tops) != 0) {
                for (long i = w * perWord; i < (w + 1) * perWord; i++) if (allOnes(s, i, width, field, lane)) return i;
            }
        }
        for (long i = words * perWord; i < n; i++) if (allOnes(s, i, width, field, lane)) return i;
        return -1;
    }

    /**
     * The masks of {@link #firstAllOnes}: one element's bits ({@code lane}), and per 8-byte word {@code field} in every
     * lane, each lane's lowest bit ({@code ones}) and its top bit ({@code tops}).
     */
    private record Lanes(long lane, long fields, long ones, long tops) {
        static Lanes of(int width, long field) {
            int bits = 8 * width;
            long fields = 0, ones = 0, tops = 0;
            for (int k = 0; k < 64; k += bits) {
                fields |= field << k;
                ones |= 1L << k;
                tops |= 1L << (k + bits - 1);
            }
            return new Lanes(bits == 64 ? -1L : (1L << bits) - 1, fields, ones, tops);
        }
    }

    /** {@link #firstAllOnes(MemorySegment, long, int, long)} over the elements that begin at {@code a[off]}. */
    static long firstAllOnes(byte[] a, int off, long n, int width, long field) {
        Lanes m = Lanes.of(width, field);
        long lane = m.lane(), fields = m.fields(), ones = m.ones(), tops = m.tops(); // locals for the hot loop
        int perWord = 8 / width;
        int words = Math.toIntExact(n / perWord);
        for (int w = 0; w < words; w++) {
            long t = ((long) LONG_LE.get(a, off + 8 * w) & fields) ^ fields;
            if (((t - ones) & ~t & tops) != 0) {
                for (long i = (long) w * perWord; i < (long) (w + 1) * perWord; i++) if (allOnes(a, off, i, width, field, lane)) return i;
            }
        }
        for (long i = (long) words * perWord; i < n; i++) if (allOnes(a, off, i, width, field, lane)) return i;
        return -1;
    }

    private static boolean allOnes(byte[] a, int off, long i, int width, long field, long lane) {
        int at = Math.toIntExact(off + i * width);
        long v = 0;
        for (int b = width - 1; b >= 0; b--) v = v << 8 | (a[at + b] & 0xff);  // little-endian
        return (v & lane & field) == field;
    }

    private static boolean allOnes(MemorySegment s, long i, int width, long field, long lane) {
        long v = switch (width) {
            case 1 -> s.get(ValueLayout.JAVA_BYTE, i);
            case 2 -> s.getAtIndex(SHORT, i);
            case 4 -> s.getAtIndex(INT, i);
            default -> s.getAtIndex(LONG, i);
        };
        return (v & lane & field) == field;
    }

    /** Every tensor of a GGUF file: float types on their bits, block types decoded row by row. */
    public static void require(GgufFile file) {
        for (GgufTensorInfo info : file.tensorInfos()) {
            switch (info.type()) {
                case F32, F16, BF16, F64 -> {
                    Tensor t = file.tensor(info.name());
                    require(t, file.path().toString());
                    release(t.data());
                }
                default -> {
                    if (info.type().isQuantized() && BlockCodecs.supports(info.type())) requireBlocks(file, info);
                }
            }
        }
    }

    /** One ggml block-typed tensor, decoded a row at a time; its pages leave the resident set after. */
    private static void requireBlocks(GgufFile file, GgufTensorInfo info) {
        BlockCodec c = BlockCodecs.forType(info.type());
        int row = Math.toIntExact(info.dims()[0]);
        long rows = info.elementCount() / row;
        long rowBytes = c.rowBytes(row);
        MemorySegment data = file.data(info);
        float[] x = new float[row];
        for (long r = 0; r < rows; r++) {
            c.dequantizeRow(data, r * rowBytes, x, 0, row);
            for (int j = 0; j < row; j++) {
                if (!Float.isFinite(x[j])) {
                    throw nonFinite(file.path().toString(), info.name(), info.torchShape(), r * row + j, x[j]);
                }
            }
        }
        release(data);
    }

    /**
     * The same check as {@link #require(GgufFile)}, fed the file's bytes in order by a thread that reads them anyway
     * (the manifest's SHA-256 of the model): one pass over a multi-gigabyte input instead of two. {@link #check} takes
     * each range of the file as it is read; {@link #finish} checks the ggml block-typed tensors, which decode a row at a
     * time. Dense float tensors are checked on the bytes handed in, so the file need not be mapped by the caller.
     */
    public static Stream stream(GgufFile file) {
        return new Stream(file);
    }

    /**
     * A {@link #stream} over one GGUF file: not thread-safe, one reader feeds it in file order. It runs the word-at-a-time
     * loop, not a Vector API kernel: in a one-shot run the vector loop spends its first second and a half interpreted,
     * waiting for C2, which cost more CPU than it later saved on a 3.4 GB model (measured, dc0a707).
     */
    public static final class Stream {
        private record Dense(GgufTensorInfo info, long start, long end, int width, long field) {}

        private final GgufFile file;
        private final List<Dense> dense = new ArrayList<>();
        private int next;

        private Stream(GgufFile file) {
            this.file = file;
            for (GgufTensorInfo t : file.tensorInfos()) {
                int width;
                long field;
                switch (t.type()) {
                    case F32 -> { width = 4; field = 0x7f80_0000L; }
                    case F16 -> { width = 2; field = 0x7c00L; }
                    case BF16 -> { width = 2; field = 0x7f80L; }
                    case F64 -> { width = 8; field = 0x7ff0_0000_0000_0000L; }
                    default -> { continue; }
                }
                long start = file.dataStart() + t.offset();
                dense.add(new Dense(t, start, start + t.byteSize(), width, field));
            }
            dense.sort(java.util.Comparator.comparingLong(Dense::start));
        }

        /**
         * Checks every element of a dense float tensor that begins in the file range {@code [from, to)}; {@code bytes}
         * holds the file's bytes from offset {@code base} on, at least up to {@code to} plus the rest of an element
         * that begins before {@code to}. Ranges come in increasing order.
         */
        public void check(MemorySegment bytes, long base, long from, long to) {
            while (next < dense.size() && dense.get(next).end() <= from) next++;
            for (int i = next; i < dense.size(); i++) {
                Dense d = dense.get(i);
                if (d.start() >= to) break;
                long first = Math.ceilDiv(Math.max(from, d.start()) - d.start(), d.width());
                long last = Math.min(Math.ceilDiv(to - d.start(), d.width()), (d.end() - d.start()) / d.width());
                if (last <= first) continue;
                long off = d.start() + first * d.width() - base;
                // a heap buffer (the digest's) goes through a loop of its own over the array: the segment loop also
                // reads mapped files, and C2 compiled it for both kinds of segment — a call per word, not a load (in
                // some 7B-shape GGUF runs 0.8 s of CPU instead of 0.15 s; perf, queue job gguf9-prof2)
                long at = bytes.heapBase().orElse(null) instanceof byte[] a
                        ? firstAllOnes(a, Math.toIntExact(bytes.address() + off), last - first, d.width(), d.field())
                        : firstAllOnes(bytes.asSlice(off, (last - first) * d.width()), last - first, d.width(), d.field());
                if (at >= 0) {
                    Tensor t = file.tensor(d.info().name());
                    throw nonFinite(file.path().toString(), t.name(), t.shape().dims(), first + at, t.getFloat(first + at));
                }
            }
        }

        /** The block-typed tensors (decoded row by row, from the file's own mapping); call after the last range. */
        public void finish() {
            for (GgufTensorInfo info : file.tensorInfos()) {
                if (info.type().isQuantized() && BlockCodecs.supports(info.type())) requireBlocks(file, info);
            }
        }
    }

    /** Values computed from input data (an importance matrix, a Hessian): named like a tensor. */
    public static BadInputException nonFinite(String source, String name, long[] shape, long flatIndex, float value) {
        return new BadInputException(source, "tensor '" + name + "' holds " + value + " at " + index(shape, flatIndex)
                + " (NaN and infinite values cannot be quantized or passed through)");
    }

    private static String index(long[] shape, long flat) {
        long[] idx = new long[shape.length];
        for (int d = shape.length - 1; d >= 0; d--) {
            long dim = Math.max(1, shape[d]);
            idx[d] = flat % dim;
            flat /= dim;
        }
        return Arrays.toString(idx);
    }
}
