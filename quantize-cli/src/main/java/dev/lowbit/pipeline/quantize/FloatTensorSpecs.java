package dev.lowbit.pipeline.quantize;

import dev.lowbit.io.ct.CtFloatPacking;
import dev.lowbit.io.safetensors.SafetensorsWriter.TensorData;
import dev.lowbit.io.safetensors.SafetensorsWriter.TensorSpec;
import dev.lowbit.io.tensor.DType;
import dev.lowbit.io.tensor.Shape;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * The safetensors tensors of a compressed-tensors float Linear ({@link CtFloatPacking}): {@code weight_packed} U8,
 * {@code weight_scale} F8_E4M3 / U8 (E8M0) and {@code weight_global_scale} F32 for NVFP4 / MXFP4; {@code weight}
 * F8_E4M3 (or F8_E5M2) and {@code weight_scale} F32 {@code [N, 1]} for FP8 per channel.
 */
public final class FloatTensorSpecs {
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private FloatTensorSpecs() {}

    public static List<TensorSpec> of(String module, CtFloatPacking.Tensors t, boolean e5m2) {
        List<TensorSpec> out = new ArrayList<>(3);
        int n = t.outFeatures(), k = t.inFeatures();
        if (t.format().equals("float-quantized")) {
            out.add(bytes(module + ".weight", e5m2 ? DType.F8_E5M2 : DType.F8_E4M3, new long[] {n, k}, t.weight()));
            out.add(floats(module + ".weight_scale", new long[] {n, 1}, t.scaleF32()));
            return out;
        }
        boolean nv = t.format().equals("nvfp4-pack-quantized");
        out.add(bytes(module + ".weight_packed", DType.U8, new long[] {n, k / 2}, t.weight()));
        out.add(bytes(module + ".weight_scale", nv ? DType.F8_E4M3 : DType.U8, new long[] {n, t.groups()}, t.scaleBytes()));
        if (nv) out.add(floats(module + ".weight_global_scale", new long[] {1}, new float[] {t.globalScale()}));
        return out;
    }

    static TensorSpec bytes(String name, DType dtype, long[] shape, byte[] values) {
        return new TensorSpec(name, dtype, new Shape(shape), TensorData.of(MemorySegment.ofArray(values.clone())));
    }

    static TensorSpec floats(String name, long[] shape, float[] values) {
        MemorySegment seg = MemorySegment.ofArray(new byte[Math.multiplyExact(values.length, 4)]);
        for (int i = 0; i < values.length; i++) seg.setAtIndex(F32, i, values[i]);
        return new TensorSpec(name, DType.F32, new Shape(shape), TensorData.of(seg));
    }
}
