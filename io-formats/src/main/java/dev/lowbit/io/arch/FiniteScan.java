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
import java.nio.ByteOrder;
import java.util.Arrays;

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
        switch (t.dtype()) {
            case F32 -> {
                for (long i = 0; i < n; i++) if ((s.getAtIndex(INT, i) & 0x7f80_0000) == 0x7f80_0000) return i;
            }
            case BF16 -> {
                for (long i = 0; i < n; i++) if ((s.getAtIndex(SHORT, i) & 0x7f80) == 0x7f80) return i;
            }
            case F16 -> {
                for (long i = 0; i < n; i++) if ((s.getAtIndex(SHORT, i) & 0x7c00) == 0x7c00) return i;
            }
            case F64 -> {
                for (long i = 0; i < n; i++) if ((s.getAtIndex(LONG, i) & 0x7ff0_0000_0000_0000L) == 0x7ff0_0000_0000_0000L) return i;
            }
            case F8_E4M3 -> {
                for (long i = 0; i < n; i++) if ((s.get(ValueLayout.JAVA_BYTE, i) & 0x7f) == 0x7f) return i;
            }
            case F8_E5M2 -> {
                for (long i = 0; i < n; i++) if ((s.get(ValueLayout.JAVA_BYTE, i) & 0x7c) == 0x7c) return i;
            }
            default -> {
                return -1;
            }
        }
        return -1;
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
                    if (!info.type().isQuantized() || !BlockCodecs.supports(info.type())) continue;
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
