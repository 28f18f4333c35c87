package dev.lowbit.calib.onnx;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import dev.lowbit.io.BadInputException;
import dev.lowbit.io.onnx.OnnxDataType;
import dev.lowbit.io.onnx.OnnxModel;
import dev.lowbit.io.onnx.OnnxTensor;
import dev.lowbit.io.onnx.OnnxWriter;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One ONNX Runtime session (in-process, CPU), fed and read as lowbit {@link OnnxTensor}s. A model given in memory is
 * serialized by {@link OnnxWriter} and handed to ORT as bytes, so what ORT runs is exactly what lowbit would write.
 */
public final class OrtRunner implements AutoCloseable {
    private final OrtEnvironment env = OrtEnvironment.getEnvironment();
    private final OrtSession session;
    private final String source;

    private OrtRunner(OrtSession session, String source) {
        this.session = session;
        this.source = source;
    }

    /** A session over {@code model} as lowbit writes it (inline data). */
    public static OrtRunner of(OnnxModel model, String source, int threads) {
        return open(source, threads, (env, opts) -> env.createSession(OnnxWriter.toBytes(model), opts));
    }

    /** A session over a model file (its external data is read by ORT from beside it). */
    public static OrtRunner of(Path file, int threads) {
        return open(file.toString(), threads, (env, opts) -> env.createSession(file.toString(), opts));
    }

    private interface Opener {
        OrtSession open(OrtEnvironment env, OrtSession.SessionOptions opts) throws OrtException;
    }

    private static OrtRunner open(String source, int threads, Opener opener) {
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        try (OrtSession.SessionOptions opts = new OrtSession.SessionOptions()) {
            opts.setIntraOpNumThreads(Math.max(1, threads));
            opts.setInterOpNumThreads(1);
            opts.setSessionLogLevel(ai.onnxruntime.OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR); // warnings are not the user's business
            return new OrtRunner(opener.open(env, opts), source);
        } catch (OrtException e) {
            throw new BadInputException(source, "ONNX Runtime refuses the model: " + oneLine(e.getMessage()));
        }
    }

    /** The names of the inputs ORT expects, in order. */
    public List<String> inputNames() {
        return new ArrayList<>(session.getInputNames());
    }

    public List<String> outputNames() {
        return new ArrayList<>(session.getOutputNames());
    }

    /** The declared shape of input {@code name} (-1 for a free dimension) and its ORT element type. */
    public long[] inputShape(String name) {
        try {
            NodeInfo info = session.getInputInfo().get(name);
            return ((TensorInfo) info.getInfo()).getShape();
        } catch (OrtException | ClassCastException e) {
            throw new BadInputException(source, "input '" + name + "': " + oneLine(e.getMessage()));
        }
    }

    public OnnxDataType inputType(String name) {
        try {
            return fromOrt(((TensorInfo) session.getInputInfo().get(name).getInfo()).type);
        } catch (OrtException e) {
            throw new BadInputException(source, "input '" + name + "': " + oneLine(e.getMessage()));
        }
    }

    /** Runs the model on {@code feeds} (by input name) and returns the requested outputs (all when empty). */
    public Map<String, OnnxTensor> run(Map<String, OnnxTensor> feeds, List<String> outputs) {
        Map<String, ai.onnxruntime.OnnxTensor> in = new LinkedHashMap<>();
        try {
            for (Map.Entry<String, OnnxTensor> e : feeds.entrySet()) in.put(e.getKey(), toOrt(e.getValue()));
            List<String> want = outputs.isEmpty() ? outputNames() : outputs;
            try (OrtSession.Result r = session.run(in, new java.util.LinkedHashSet<>(want))) {
                Map<String, OnnxTensor> out = new LinkedHashMap<>();
                for (String name : want) {
                    OnnxValue v = r.get(name).orElseThrow();
                    out.put(name, fromOrt(name, (ai.onnxruntime.OnnxTensor) v));
                }
                return out;
            }
        } catch (OrtException e) {
            throw new BadInputException(source, "ONNX Runtime: " + oneLine(e.getMessage()));
        } finally {
            for (ai.onnxruntime.OnnxTensor t : in.values()) t.close();
        }
    }

    private ai.onnxruntime.OnnxTensor toOrt(OnnxTensor t) throws OrtException {
        ByteBuffer b = ByteBuffer.allocateDirect(Math.toIntExact(t.data().byteSize())).order(ByteOrder.nativeOrder());
        MemorySegment.ofBuffer(b).copyFrom(t.data());
        return ai.onnxruntime.OnnxTensor.createTensor(env, b, t.dims(), toOrt(t.dataType()));
    }

    private static OnnxTensor fromOrt(String name, ai.onnxruntime.OnnxTensor t) {
        TensorInfo info = t.getInfo();
        OnnxDataType type = fromOrt(info.type);
        ByteBuffer b = t.getByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
        byte[] bytes = new byte[b.remaining()];
        b.get(bytes);
        return OnnxTensor.ofBytes(name, type, info.getShape(), bytes);
    }

    private static OnnxJavaType toOrt(OnnxDataType t) {
        return switch (t) {
            case FLOAT -> OnnxJavaType.FLOAT;
            case DOUBLE -> OnnxJavaType.DOUBLE;
            case INT8 -> OnnxJavaType.INT8;
            case UINT8 -> OnnxJavaType.UINT8;
            case INT16 -> OnnxJavaType.INT16;
            case INT32 -> OnnxJavaType.INT32;
            case INT64 -> OnnxJavaType.INT64;
            case BOOL -> OnnxJavaType.BOOL;
            case FLOAT16 -> OnnxJavaType.FLOAT16;
            case BFLOAT16 -> OnnxJavaType.BFLOAT16;
            default -> throw new BadInputException("", "tensor type " + t + " cannot be fed to ONNX Runtime from Java");
        };
    }

    private static OnnxDataType fromOrt(OnnxJavaType t) {
        return switch (t) {
            case FLOAT -> OnnxDataType.FLOAT;
            case DOUBLE -> OnnxDataType.DOUBLE;
            case INT8 -> OnnxDataType.INT8;
            case UINT8 -> OnnxDataType.UINT8;
            case INT16 -> OnnxDataType.INT16;
            case INT32 -> OnnxDataType.INT32;
            case INT64 -> OnnxDataType.INT64;
            case BOOL -> OnnxDataType.BOOL;
            case FLOAT16 -> OnnxDataType.FLOAT16;
            case BFLOAT16 -> OnnxDataType.BFLOAT16;
            default -> throw new IllegalStateException("ONNX Runtime output type " + t + " is not supported");
        };
    }

    static String oneLine(String s) {
        if (s == null) return "(no message)";
        String line = s.replace('\n', ' ').replace('\r', ' ').strip();
        return line.length() > 400 ? line.substring(0, 400) + "…" : line;
    }

    @Override
    public void close() {
        try {
            session.close();
        } catch (OrtException e) {
            throw new IllegalStateException(e);
        }
    }
}
