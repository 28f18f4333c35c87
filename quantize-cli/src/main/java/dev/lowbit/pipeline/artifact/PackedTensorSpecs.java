package dev.lowbit.pipeline.artifact;

import dev.lowbit.io.ct.CtTensors;
import dev.lowbit.io.gptq.GptqTensors;
import dev.lowbit.io.safetensors.SafetensorsWriter.TensorData;
import dev.lowbit.io.safetensors.SafetensorsWriter.TensorSpec;
import dev.lowbit.io.tensor.DType;
import dev.lowbit.io.tensor.Shape;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/** Turns packed GPTQ / compressed-tensors arrays into safetensors tensor specs (little-endian heap segments). */
final class PackedTensorSpecs {
    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private PackedTensorSpecs() {}

    /** {@code <module>.qweight}, {@code .qzeros}, {@code .scales}, {@code .g_idx} of a GPTQ v1 Linear. */
    static List<TensorSpec> gptq(String module, GptqTensors t) {
        List<TensorSpec> out = new ArrayList<>(4);
        out.add(ints(module + ".qweight", t.qweightShape(), t.qweight()));
        out.add(ints(module + ".qzeros", t.qzerosShape(), t.qzeros()));
        out.add(shorts(module + ".scales", DType.F16, t.scalesShape(), t.scales()));
        out.add(ints(module + ".g_idx", new long[] {t.inFeatures()}, t.gIdx()));
        return out;
    }

    /** {@code <module>.qweight}, {@code .qzeros}, {@code .scales} of an AutoAWQ gemm Linear. */
    static List<TensorSpec> awq(String module, dev.lowbit.io.awq.AwqTensors t) {
        return List.of(ints(module + ".qweight", t.qweightShape(), t.qweight()),
                ints(module + ".qzeros", t.qzerosShape(), t.qzeros()),
                shorts(module + ".scales", DType.F16, t.scalesShape(), t.scales()));
    }

    /** {@code <module>.weight_packed}, {@code .weight_scale}, {@code .weight_zero_point}, {@code .weight_shape}, {@code .weight_g_idx}. */
    static List<TensorSpec> compressedTensors(String module, CtTensors t) {
        List<TensorSpec> out = new ArrayList<>(5);
        out.add(ints(module + ".weight_packed", t.weightPackedShape(), t.weightPacked()));
        out.add(shorts(module + ".weight_scale", t.scaleDType(), t.weightScaleShape(), t.weightScale()));
        if (t.weightZeroPoint() != null) out.add(ints(module + ".weight_zero_point", t.weightZeroPointShape(), t.weightZeroPoint()));
        MemorySegment shape = MemorySegment.ofArray(new byte[16]);
        shape.setAtIndex(I64, 0, t.weightShape()[0]);
        shape.setAtIndex(I64, 1, t.weightShape()[1]);
        out.add(new TensorSpec(module + ".weight_shape", DType.I64, Shape.of(2), TensorData.of(shape)));
        if (t.weightGIdx() != null) out.add(ints(module + ".weight_g_idx", new long[] {t.inFeatures()}, t.weightGIdx()));
        return out;
    }

    static TensorSpec ints(String name, long[] shape, int[] values) {
        MemorySegment seg = MemorySegment.ofArray(new byte[Math.multiplyExact(values.length, 4)]);
        for (int i = 0; i < values.length; i++) seg.setAtIndex(I32, i, values[i]);
        return new TensorSpec(name, DType.I32, new Shape(shape), TensorData.of(seg));
    }

    static TensorSpec shorts(String name, DType dtype, long[] shape, short[] values) {
        MemorySegment seg = MemorySegment.ofArray(new byte[Math.multiplyExact(values.length, 2)]);
        for (int i = 0; i < values.length; i++) seg.setAtIndex(I16, i, values[i]);
        return new TensorSpec(name, dtype, new Shape(shape), TensorData.of(seg));
    }
}
