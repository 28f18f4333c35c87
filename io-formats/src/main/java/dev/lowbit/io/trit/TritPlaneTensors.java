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
 * Plain data plus the lossless conversion to and from {@link QuantizedTensor}.
 *
 * @param planes the packed codes, {@code planes × rows × rowBytes}
 * @param scales the f16 bits of the scales, {@code planes × rows × groups}
 */
public record TritPlaneTensors(int planeCount, int rows, int cols, int groups, TritPacking packing, byte[] planes,
                               short[] scales) {
    public static final String PLANES = ".trit_planes";
    public static final String SCALES = ".trit_scales";
    public static final String SHAPE = ".trit_shape";

    public TritPlaneTensors {
        if (planeCount < 1 || rows < 1 || cols < 1 || groups < 1) {
            throw new IllegalArgumentException("planes, rows, cols, groups must be positive: " + planeCount + ", " + rows + ", " + cols + ", " + groups);
        }
        if (cols % groups != 0) throw new IllegalArgumentException(groups + " groups do not split a row of " + cols);
        if (planes.length != (long) planeCount * rows * packing.rowBytes(cols)) {
            throw new IllegalArgumentException("trit_planes holds " + planes.length + " bytes, expected " + planeCount + " × " + rows + " × " + packing.rowBytes(cols));
        }
        if (scales.length != (long) planeCount * rows * groups) {
            throw new IllegalArgumentException("trit_scales holds " + scales.length + " values, expected " + planeCount + " × " + rows + " × " + groups);
        }
    }

    public int groupSize() {
        return cols / groups;
    }

    public long[] planesShape() {
        return new long[] {planeCount, rows, packing.rowBytes(cols)};
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
        int rb = packing.rowBytes(q.cols());
        int n = q.planes().size();
        byte[] planes = new byte[Math.multiplyExact(n, q.rows() * rb)];
        short[] scales = new short[n * q.rows() * groups];
        for (int p = 0; p < n; p++) {
            QuantizedTensor.Plane pl = q.planes().get(p);
            if (pl.zeros() != null || pl.mins() != null || pl.subBlocks() != null) {
                throw new IllegalArgumentException(q.name() + " plane " + p + ": trit-planes carry scales only");
            }
            byte[] packed = packing.pack(pl.codes(), q.rows(), q.cols());
            System.arraycopy(packed, 0, planes, p * q.rows() * rb, packed.length);
            for (int i = 0; i < pl.scales().length; i++) {
                float s = pl.scales()[i];
                short h = FloatFormats.f32ToF16(s);
                if (Float.floatToIntBits(FloatFormats.f16ToF32(h)) != Float.floatToIntBits(s)) {
                    throw new IllegalArgumentException(q.name() + " plane " + p + ": scale " + s + " is not an f16 value");
                }
                scales[p * q.rows() * groups + i] = h;
            }
        }
        return new TritPlaneTensors(n, q.rows(), q.cols(), groups, packing, planes, scales);
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
        return List.of(
                new SafetensorsWriter.TensorSpec(module + PLANES, DType.U8, new Shape(planesShape()),
                        SafetensorsWriter.TensorData.of(MemorySegment.ofArray(planes.clone()))),
                new SafetensorsWriter.TensorSpec(module + SCALES, DType.F16, new Shape(scalesShape()), SafetensorsWriter.TensorData.of(s)),
                new SafetensorsWriter.TensorSpec(module + SHAPE, DType.I64, Shape.of(2), SafetensorsWriter.TensorData.of(shape)));
    }

    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** The layout-free tensor (lossless inverse of {@link #pack}); invalid bytes or scales throw, naming the module. */
    public QuantizedTensor unpack(String name) {
        int rb = packing.rowBytes(cols);
        List<QuantizedTensor.Plane> list = new ArrayList<>(planeCount);
        for (int p = 0; p < planeCount; p++) {
            byte[] slice = java.util.Arrays.copyOfRange(planes, p * rows * rb, (p + 1) * rows * rb);
            byte[] codes;
            try {
                codes = packing.unpack(slice, rows, cols);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(name + PLANES + " plane " + p + ": " + e.getMessage());
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
        return new QuantizedTensor(name, rows, cols, scheme, list, QuantizedTensor.sequentialGroups(cols, scheme), 1f);
    }
}
