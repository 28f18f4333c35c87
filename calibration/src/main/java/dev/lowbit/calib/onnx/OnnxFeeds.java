package dev.lowbit.calib.onnx;

import dev.lowbit.io.BadInputException;
import dev.lowbit.io.onnx.OnnxDataType;
import dev.lowbit.io.onnx.OnnxTensor;
import dev.lowbit.io.onnx.OnnxTestData;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Test data as a model's feeds: each tensor is checked against the input ORT declares and conformed where that is
 * exact — the same element count in another shape is reshaped (the model zoo's MNIST samples are 1×784 for a
 * 1×1×28×28 input), and integers are converted to a FLOAT input when every value is exactly representable (|v| ≤ 2^24:
 * the zoo's pixels are int32 0–255). Anything else is refused with one line.
 */
public final class OnnxFeeds {
    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private OnnxFeeds() {
    }

    /** The sample's inputs conformed to {@code runner}'s declared inputs. */
    public static Map<String, OnnxTensor> of(OrtRunner runner, OnnxTestData.Sample sample) {
        Map<String, OnnxTensor> feeds = new LinkedHashMap<>();
        for (String name : runner.inputNames()) {
            OnnxTensor t = sample.inputs().get(name);
            if (t == null) throw new BadInputException(sample.label(), "no data for the model's input '" + name + "'");
            feeds.put(name, conform(t, runner.inputType(name), runner.inputShape(name), sample.label()));
        }
        for (String name : sample.inputs().keySet()) {
            if (!feeds.containsKey(name)) throw new BadInputException(sample.label(), "'" + name + "' is not an input of the model " + runner.inputNames());
        }
        return feeds;
    }

    static OnnxTensor conform(OnnxTensor t, OnnxDataType type, long[] shape, String source) {
        long[] dims = t.dims();
        if (!matches(dims, shape)) {
            boolean free = Arrays.stream(shape).anyMatch(d -> d < 0);
            long n = 1;
            for (long d : shape) n *= d;
            if (free || n != t.elementCount()) {
                throw new BadInputException(source, "'" + t.name() + "' has shape " + Arrays.toString(dims) + ", the model expects " + Arrays.toString(shape));
            }
            dims = shape;
        }
        if (t.dataType() == type) return t.with(t.name(), dims);
        if (type != OnnxDataType.FLOAT || (t.dataType() != OnnxDataType.INT32 && t.dataType() != OnnxDataType.INT64)) {
            throw new BadInputException(source, "'" + t.name() + "' is " + t.dataType() + ", the model expects " + type);
        }
        int n = Math.toIntExact(t.elementCount());
        float[] v = new float[n];
        MemorySegment d = t.data();
        for (int i = 0; i < n; i++) {
            long x = t.dataType() == OnnxDataType.INT32 ? d.getAtIndex(I32, i) : d.getAtIndex(I64, i);
            if (Math.abs(x) > (1 << 24)) throw new BadInputException(source, "'" + t.name() + "' value " + x + " is not exact as FLOAT");
            v[i] = x;
        }
        return OnnxTensor.ofFloats(t.name(), dims, v);
    }

    private static boolean matches(long[] dims, long[] shape) {
        if (dims.length != shape.length) return false;
        for (int i = 0; i < dims.length; i++) if (shape[i] >= 0 && shape[i] != dims[i]) return false;
        return true;
    }

    /** Index of the largest value of a float tensor's last axis, per row. */
    public static int[] argmax(OnnxTensor t) {
        float[] v = t.floats();
        long[] d = t.dims();
        int cols = d.length == 0 ? 1 : (int) d[d.length - 1];
        int[] out = new int[v.length / Math.max(1, cols)];
        for (int r = 0; r < out.length; r++) {
            int best = 0;
            for (int c = 1; c < cols; c++) if (v[r * cols + c] > v[r * cols + best]) best = c;
            out[r] = best;
        }
        return out;
    }

    static float get(MemorySegment s, long i) {
        return s.getAtIndex(F32, i);
    }
}
