package dev.lowbit.io.trit;

import dev.lowbit.io.quant.QuantScheme;
import dev.lowbit.io.quant.QuantizedTensor;
import dev.lowbit.kernels.FloatFormats;
import dev.lowbit.io.safetensors.SafetensorsWriter;
import dev.lowbit.io.tensor.DType;
import dev.lowbit.io.tensor.Shape;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * One Linear in the trit-plane safetensors layout (see {@code docs/FORMATS-trit.md}):
 * <pre>
 *   &lt;module&gt;.trit_planes  U8  [planes, rows, packing.rowBytes(cols)]   codes q = t + 1, packed per row
 *   &lt;module&gt;.trit_scales  F16 [planes, rows, cols / group_size]        α per plane, row and group
 *   &lt;module&gt;.trit_shape   I64 [2]                                     [rows, cols] = [out_features, in_features]
 *   W[r, c] = Σₚ trit_scales[p, r, c / group_size] · (qₚ[r, c] − 1)        (summed in plane order, in f32)
 * </pre>
 * Format version 2 adds column masks (written for binarized tensors, 1-bit packing):
 * <pre>
 *   &lt;module&gt;.trit_columns U8  [planes, ceil(cols / 8)]              bit c mod 8 of byte c / 8: plane p stores column c
 *   &lt;module&gt;.trit_planes  U8  [Σₚ rows · packing.rowBytes(nₚ)]        plane by plane, each row holds only its nₚ stored
 *                                                                 columns (in column order); other columns have t = 0
 * </pre>
 * Format version 3 adds unstructured 8-bit salient weights (PB-LLM) on top of 1-bit planes:
 * <pre>
 *   &lt;module&gt;.trit_salient_mask   U8  [rows, ceil(cols / 8)]   bit c mod 8 of byte c / 8 of row r: W[r, c] is salient
 *   &lt;module&gt;.trit_salient_values I8  [n]                     the n salient codes (−127..127), row by row, in column order
 *   &lt;module&gt;.trit_salient_scales F16 [rows]                  W[r, c] = scale[r] · value for a salient weight
 * </pre>
 * A salient weight's bit in every 1-bit plane is 0 and ignored.
 * Plain data plus the lossless conversion to and from {@link QuantizedTensor}.
 *
 * @param planes the packed codes, {@code planes × rows × rowBytes} (without masks) or plane by plane (with them)
 * @param scales the f16 bits of the scales, {@code planes × rows × groups}
 * @param columns the column masks, {@code planes × ceil(cols / 8)} bytes, or null when every plane stores every column
 * @param salient the 8-bit salient weights (format version 3, 1-bit planes only), or null
 */
public record TritPlaneTensors(int planeCount, int rows, int cols, int groups, TritPacking packing, byte[] planes,
                               short[] scales, byte[] columns, Salient salient) {
    public static final String PLANES = ".trit_planes";
    public static final String SCALES = ".trit_scales";
    public static final String SHAPE = ".trit_shape";
    public static final String COLUMNS = ".trit_columns";
    public static final String SALIENT_MASK = ".trit_salient_mask";
    public static final String SALIENT_VALUES = ".trit_salient_values";
    public static final String SALIENT_SCALES = ".trit_salient_scales";

    /**
     * Salient weights as stored: {@code mask} rows × ceil(cols / 8) bytes (bit c mod 8 of byte c / 8), {@code values}
     * one signed code per set bit (row by row, column order), {@code scales} the f16 bits of one scale per row.
     */
    public record Salient(byte[] mask, byte[] values, short[] scales) {
        public Salient {
            java.util.Objects.requireNonNull(mask, "mask");
            java.util.Objects.requireNonNull(values, "values");
            java.util.Objects.requireNonNull(scales, "scales");
        }
    }

    public TritPlaneTensors(int planeCount, int rows, int cols, int groups, TritPacking packing, byte[] planes, short[] scales) {
        this(planeCount, rows, cols, groups, packing, planes, scales, null, null);
    }

    public TritPlaneTensors(int planeCount, int rows, int cols, int groups, TritPacking packing, byte[] planes, short[] scales, byte[] columns) {
        this(planeCount, rows, cols, groups, packing, planes, scales, columns, null);
    }

    public TritPlaneTensors {
        if (planeCount < 1 || rows < 1 || cols < 1 || groups < 1) {
            throw new IllegalArgumentException("planes, rows, cols, groups must be positive: " + planeCount + ", " + rows + ", " + cols + ", " + groups);
        }
        if (cols % groups != 0) throw new IllegalArgumentException(groups + " groups do not split a row of " + cols);
        if (columns != null) {
            if (columns.length != (long) planeCount * maskBytes(cols)) {
                throw new IllegalArgumentException("trit_columns holds " + columns.length + " bytes, expected " + planeCount + " × " + maskBytes(cols));
            }
            for (int p = 0; p < planeCount; p++) {
                int last = columns[p * maskBytes(cols) + maskBytes(cols) - 1] & 0xFF;
                if (cols % 8 != 0 && last >>> (cols % 8) != 0) {
                    throw new IllegalArgumentException("trit_columns plane " + p + " marks columns past " + cols);
                }
            }
        }
        long expected = 0;
        for (int p = 0; p < planeCount; p++) expected += (long) rows * packing.rowBytes(stored(columns, cols, p));
        if (planes.length != expected) {
            throw new IllegalArgumentException("trit_planes holds " + planes.length + " bytes, expected " + expected);
        }
        if (scales.length != (long) planeCount * rows * groups) {
            throw new IllegalArgumentException("trit_scales holds " + scales.length + " values, expected " + planeCount + " × " + rows + " × " + groups);
        }
        if (salient != null) checkSalient(salient, rows, cols, packing);
    }

    private static void checkSalient(Salient s, int rows, int cols, TritPacking packing) {
        if (packing != TritPacking.BITS1) throw new IllegalArgumentException("salient weights sit on 1bit planes only, not " + packing.wireName());
        int mb = maskBytes(cols);
        if (s.mask().length != (long) rows * mb) {
            throw new IllegalArgumentException("trit_salient_mask holds " + s.mask().length + " bytes, expected " + rows + " × " + mb);
        }
        long n = 0;
        for (int r = 0; r < rows; r++) {
            int last = s.mask()[r * mb + mb - 1] & 0xFF;
            if (cols % 8 != 0 && last >>> (cols % 8) != 0) throw new IllegalArgumentException("trit_salient_mask row " + r + " marks columns past " + cols);
            for (int i = 0; i < mb; i++) n += Integer.bitCount(s.mask()[r * mb + i] & 0xFF);
        }
        if (s.values().length != n) {
            throw new IllegalArgumentException("trit_salient_values holds " + s.values().length + " codes for " + n + " mask bits");
        }
        for (int i = 0; i < s.values().length; i++) {
            if (s.values()[i] == -128) throw new IllegalArgumentException("trit_salient_values [" + i + "] is −128 (codes are −127..127)");
        }
        if (s.scales().length != rows) throw new IllegalArgumentException("trit_salient_scales holds " + s.scales().length + " values, expected " + rows);
    }

    public int groupSize() {
        return cols / groups;
    }

    public long[] planesShape() {
        return columns == null ? new long[] {planeCount, rows, packing.rowBytes(cols)} : new long[] {planes.length};
    }

    /** Bytes of one plane's column mask. */
    public static int maskBytes(int cols) {
        return Math.ceilDiv(cols, 8);
    }

    /** How many columns plane p stores. */
    private static int stored(byte[] columns, int cols, int p) {
        if (columns == null) return cols;
        int n = 0;
        for (int i = 0; i < maskBytes(cols); i++) n += Integer.bitCount(columns[p * maskBytes(cols) + i] & 0xFF);
        return n;
    }

    private static boolean has(byte[] columns, int cols, int p, int c) {
        return (columns[p * maskBytes(cols) + c / 8] >> (c % 8) & 1) != 0;
    }

    public long[] scalesShape() {
        return new long[] {planeCount, rows, groups};
    }

    /** The scheme these tensors carry: {@code planeCount} TERNARY planes, f16 scales per group, the packing's code bits. */
    public QuantScheme scheme() {
        return scheme(planeCount, groupSize(), packing);
    }

    public static QuantScheme scheme(int planes, int groupSize, TritPacking packing) {
        return new QuantScheme(QuantScheme.ElementType.TERNARY, 2, packing.bitsPerTrit(), QuantScheme.ScaleType.F16,
                QuantScheme.Granularity.group(groupSize), QuantScheme.ZeroPoint.NONE, planes, List.of());
    }

    /**
     * Packs a ternary tensor: every plane TERNARY with f16-exact scales, no zeros/mins/sub-blocks, groups of equal size
     * in column order, global scale 1. Anything else is an {@link IllegalArgumentException} saying why.
     */
    public static TritPlaneTensors pack(QuantizedTensor q, TritPacking packing) {
        return pack(q, packing, false);
    }

    /**
     * As {@link #pack(QuantizedTensor, TritPacking)}; with {@code masked}, each plane stores only the columns where some
     * row has t ≠ 0 (format version 2, {@code trit_columns}): the residual plane of a binarized tensor.
     */
    public static TritPlaneTensors pack(QuantizedTensor q, TritPacking packing, boolean masked) {
        if (q.scheme().element() != QuantScheme.ElementType.TERNARY) {
            throw new IllegalArgumentException(q.name() + ": " + q.scheme() + " is not ternary");
        }
        if (q.globalScale() != 1f) throw new IllegalArgumentException(q.name() + ": a trit-plane tensor has no global scale");
        int groups = q.groups();
        if (q.cols() % groups != 0) throw new IllegalArgumentException(q.name() + ": " + groups + " groups do not split a row of " + q.cols());
        int g = q.cols() / groups;
        int[] gIdx = q.gIdx();
        for (int c = 0; c < q.cols(); c++) {
            if (gIdx[c] != c / g) throw new IllegalArgumentException(q.name() + ": trit-plane groups are contiguous runs of " + g + " columns");
        }
        int n = q.planes().size(), rows = q.rows(), cols = q.cols();
        byte[] columns = masked ? new byte[n * maskBytes(cols)] : null;
        java.io.ByteArrayOutputStream planes = new java.io.ByteArrayOutputStream();
        short[] scales = new short[n * q.rows() * groups];
        for (int p = 0; p < n; p++) {
            QuantizedTensor.Plane pl = q.planes().get(p);
            if (pl.zeros() != null || pl.mins() != null || pl.subBlocks() != null) {
                throw new IllegalArgumentException(q.name() + " plane " + p + ": trit-planes carry scales only");
            }
            byte[] codes = pl.codes();
            int kept = cols;
            if (masked) {
                for (int c = 0; c < cols; c++) {
                    for (int r = 0; r < rows; r++) {
                        if (codes[r * cols + c] != 1) {
                            columns[p * maskBytes(cols) + c / 8] |= (byte) (1 << (c % 8));
                            break;
                        }
                    }
                }
                kept = stored(columns, cols, p);
                byte[] sub = new byte[Math.multiplyExact(rows, kept)];
                int at = 0;
                for (int r = 0; r < rows; r++) {
                    for (int c = 0; c < cols; c++) if (has(columns, cols, p, c)) sub[at++] = codes[r * cols + c];
                }
                codes = sub;
            }
            try {
                planes.writeBytes(packing.pack(codes, rows, kept));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(q.name() + " plane " + p + ": " + e.getMessage());
            }
            for (int i = 0; i < pl.scales().length; i++) {
                float s = pl.scales()[i];
                short h = FloatFormats.f32ToF16(s);
                if (Float.floatToIntBits(FloatFormats.f16ToF32(h)) != Float.floatToIntBits(s)) {
                    throw new IllegalArgumentException(q.name() + " plane " + p + ": scale " + s + " is not an f16 value");
                }
                scales[p * q.rows() * groups + i] = h;
            }
        }
        return new TritPlaneTensors(n, q.rows(), q.cols(), groups, packing, planes.toByteArray(), scales, columns, packSalient(q, packing));
    }

    /** The stored form of {@code q.salient()} (null without); the planes must hold code 0 under every salient weight. */
    private static Salient packSalient(QuantizedTensor q, TritPacking packing) {
        QuantizedTensor.Salient s = q.salient();
        if (s == null) return null;
        if (packing != TritPacking.BITS1) throw new IllegalArgumentException(q.name() + ": salient weights sit on 1bit planes only");
        int rows = q.rows(), cols = q.cols(), mb = maskBytes(cols);
        byte[] mask = new byte[rows * mb];
        java.io.ByteArrayOutputStream values = new java.io.ByteArrayOutputStream();
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                if (s.mask()[r * cols + c] == 0) continue;
                for (int p = 0; p < q.planes().size(); p++) {
                    if (q.planes().get(p).codes()[r * cols + c] != 0) {
                        throw new IllegalArgumentException(q.name() + " plane " + p + ": code under the salient weight [" + r + ", " + c + "] must be 0");
                    }
                }
                mask[r * mb + c / 8] |= (byte) (1 << (c % 8));
                values.write(s.codes()[r * cols + c]);
            }
        }
        short[] scales = new short[rows];
        for (int r = 0; r < rows; r++) {
            short h = FloatFormats.f32ToF16(s.scales()[r]);
            if (Float.floatToIntBits(FloatFormats.f16ToF32(h)) != Float.floatToIntBits(s.scales()[r])) {
                throw new IllegalArgumentException(q.name() + ": salient scale " + s.scales()[r] + " of row " + r + " is not an f16 value");
            }
            scales[r] = h;
        }
        return new Salient(mask, values.toByteArray(), scales);
    }

    /**
     * The three safetensors tensors of {@code module}: {@code .trit_planes} (U8), {@code .trit_scales} (F16, little-endian),
     * {@code .trit_shape} (I64).
     */
    public List<SafetensorsWriter.TensorSpec> specs(String module) {
        MemorySegment s = MemorySegment.ofArray(new byte[scales.length * 2]);
        for (int i = 0; i < scales.length; i++) s.setAtIndex(I16, i, scales[i]);
        MemorySegment shape = MemorySegment.ofArray(new byte[16]);
        shape.setAtIndex(I64, 0, rows);
        shape.setAtIndex(I64, 1, cols);
        List<SafetensorsWriter.TensorSpec> specs = new ArrayList<>(List.of(
                new SafetensorsWriter.TensorSpec(module + PLANES, DType.U8, new Shape(planesShape()),
                        SafetensorsWriter.TensorData.of(MemorySegment.ofArray(planes.clone()))),
                new SafetensorsWriter.TensorSpec(module + SCALES, DType.F16, new Shape(scalesShape()), SafetensorsWriter.TensorData.of(s)),
                new SafetensorsWriter.TensorSpec(module + SHAPE, DType.I64, Shape.of(2), SafetensorsWriter.TensorData.of(shape))));
        if (columns != null) {
            specs.add(new SafetensorsWriter.TensorSpec(module + COLUMNS, DType.U8, Shape.of(planeCount, maskBytes(cols)),
                    SafetensorsWriter.TensorData.of(MemorySegment.ofArray(columns.clone()))));
        }
        if (salient != null) {
            MemorySegment ss = MemorySegment.ofArray(new byte[rows * 2]);
            for (int i = 0; i < rows; i++) ss.setAtIndex(I16, i, salient.scales()[i]);
            specs.add(new SafetensorsWriter.TensorSpec(module + SALIENT_MASK, DType.U8, Shape.of(rows, maskBytes(cols)),
                    SafetensorsWriter.TensorData.of(MemorySegment.ofArray(salient.mask().clone()))));
            specs.add(new SafetensorsWriter.TensorSpec(module + SALIENT_VALUES, DType.I8, Shape.of(salient.values().length),
                    SafetensorsWriter.TensorData.of(MemorySegment.ofArray(salient.values().clone()))));
            specs.add(new SafetensorsWriter.TensorSpec(module + SALIENT_SCALES, DType.F16, Shape.of(rows), SafetensorsWriter.TensorData.of(ss)));
        }
        return specs;
    }

    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** The layout-free tensor (lossless inverse of {@link #pack}); invalid bytes or scales throw, naming the module. */
    public QuantizedTensor unpack(String name) {
        List<QuantizedTensor.Plane> list = new ArrayList<>(planeCount);
        int from = 0;
        for (int p = 0; p < planeCount; p++) {
            int kept = stored(columns, cols, p), len = rows * packing.rowBytes(kept);
            byte[] slice = java.util.Arrays.copyOfRange(planes, from, from + len);
            from += len;
            byte[] codes;
            try {
                codes = packing.unpack(slice, rows, kept);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(name + PLANES + " plane " + p + ": " + e.getMessage());
            }
            if (columns != null) {
                byte[] dense = new byte[rows * cols];
                java.util.Arrays.fill(dense, (byte) 1);
                int at = 0;
                for (int r = 0; r < rows; r++) {
                    for (int c = 0; c < cols; c++) if (has(columns, cols, p, c)) dense[r * cols + c] = codes[at++];
                }
                codes = dense;
            }
            float[] s = new float[rows * groups];
            for (int i = 0; i < s.length; i++) {
                s[i] = FloatFormats.f16ToF32(scales[p * rows * groups + i]);
                if (!Float.isFinite(s[i])) {
                    throw new IllegalArgumentException(name + SCALES + " [" + p + ", " + i / groups + ", " + i % groups + "] is " + s[i]);
                }
            }
            list.add(new QuantizedTensor.Plane(codes, s, null, null, null));
        }
        QuantScheme scheme = scheme();
        return new QuantizedTensor(name, rows, cols, scheme, list, QuantizedTensor.sequentialGroups(cols, scheme), 1f, unpackSalient(name, list));
    }

    /** The layout-free salient weights; a plane bit under a salient weight, or a non-finite scale, throws. */
    private QuantizedTensor.Salient unpackSalient(String name, List<QuantizedTensor.Plane> list) {
        if (salient == null) return null;
        int mb = maskBytes(cols);
        byte[] mask = new byte[rows * cols], codes = new byte[rows * cols];
        int at = 0;
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                if ((salient.mask()[r * mb + c / 8] >> (c % 8) & 1) == 0) continue;
                for (int p = 0; p < list.size(); p++) {
                    if (list.get(p).codes()[r * cols + c] != 0) {
                        throw new IllegalArgumentException(name + PLANES + " plane " + p + ": bit under the salient weight [" + r + ", " + c + "] is set");
                    }
                }
                mask[r * cols + c] = 1;
                codes[r * cols + c] = salient.values()[at++];
            }
        }
        float[] s = new float[rows];
        for (int r = 0; r < rows; r++) {
            s[r] = FloatFormats.f16ToF32(salient.scales()[r]);
            if (!Float.isFinite(s[r])) throw new IllegalArgumentException(name + SALIENT_SCALES + " [" + r + "] is " + s[r]);
        }
        return new QuantizedTensor.Salient(mask, codes, s);
    }
}
