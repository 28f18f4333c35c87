package dev.lowbit.pipeline.inspect;

import dev.lowbit.io.gguf.GgufArray;
import dev.lowbit.io.gguf.GgufFile;
import dev.lowbit.io.gguf.GgufTensorInfo;
import dev.lowbit.io.gguf.GgufValue;
import dev.lowbit.io.gguf.GgufValueType;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * GGUF side of {@link ModelInspector}: {@code general.architecture}, the architecture's hyperparameter keys
 * ({@code <arch>.*}), one row per tensor (ggml type, PyTorch-order shape, bytes) and every metadata value, arrays of
 * more than {@value #SHOWN_ELEMENTS} elements summarised by element type and length. The header's version, the
 * alignment in effect and the offset of the tensor data are container facts, reported apart from the metadata.
 */
final class GgufInspector {
    static final int SHOWN_ELEMENTS = 16;

    private GgufInspector() {}

    static InspectReport inspect(Path path) {
        try (GgufFile f = GgufFile.open(path)) {
            GgufValue archValue = f.get("general.architecture");
            String arch = archValue != null && archValue.type() == GgufValueType.STRING ? archValue.asString() : null;
            Map<String, Object> hyper = new LinkedHashMap<>();
            Map<String, Object> metadata = new LinkedHashMap<>();
            for (Map.Entry<String, GgufValue> e : f.kv().entrySet()) {
                Object shown = show(e.getValue());
                metadata.put(e.getKey(), shown);
                if (arch != null && e.getKey().startsWith(arch + ".")) hyper.put(e.getKey().substring(arch.length() + 1), shown);
            }
            List<InspectReport.TensorRow> rows = new ArrayList<>();
            for (GgufTensorInfo t : f.tensorInfos()) {
                rows.add(new InspectReport.TensorRow(t.name(), t.type().name(), t.torchShape(), t.elementCount(), t.byteSize()));
            }
            Map<String, Object> container = new LinkedHashMap<>();
            container.put("version", f.version());
            container.put("alignment", f.alignment());
            container.put("tensor_data_offset", f.dataStart());
            return InspectReport.of(path.toString(), "gguf", arch, hyper, rows, metadata, container);
        }
    }

    /** A value as plain Java data for text and JSON output; long arrays become a summary. */
    static Object show(GgufValue v) {
        return switch (v.type()) {
            case ARRAY -> {
                GgufArray a = v.asArray();
                if (a.size() > SHOWN_ELEMENTS) {
                    Map<String, Object> summary = new LinkedHashMap<>();
                    summary.put("type", "array");
                    summary.put("element_type", a.elementType().name().toLowerCase(java.util.Locale.ROOT));
                    summary.put("length", a.size());
                    yield summary;
                }
                List<Object> items = new ArrayList<>(a.size());
                for (int i = 0; i < a.size(); i++) items.add(show(a.get(i)));
                yield items;
            }
            case STRING -> v.asString();
            case BOOL -> v.asBool();
            case FLOAT32, FLOAT64 -> v.asDouble();
            case UINT64 -> Long.toUnsignedString(v.asLong());
            default -> v.asLong();
        };
    }
}
