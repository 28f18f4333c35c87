package dev.lowbit.pipeline.inspect;

import java.util.List;
import java.util.Map;

/**
 * What {@code lowbit inspect} found in a checkpoint: format, architecture and hyperparameters, one row per tensor,
 * totals, the file metadata exactly as stored (every key the file holds and no other; long arrays summarised by
 * element type and length), and facts about the container itself that are not metadata keys (for GGUF: version,
 * alignment, tensor data offset).
 */
public record InspectReport(String path, String format, String architecture, Map<String, Object> hyperparameters,
                            List<TensorRow> tensors, Map<String, Object> metadata, Map<String, Object> container,
                            long tensorCount, long parameterCount, long totalBytes) {

    /** One tensor: its wire type name, PyTorch-order shape, bytes on disk and bits per weight. */
    public record TensorRow(String name, String type, long[] shape, long parameters, long bytes) {
        public double bitsPerWeight() {
            return parameters == 0 ? 0 : bytes * 8.0 / parameters;
        }
    }

    /** Average bits per weight over all tensors. */
    public double averageBitsPerWeight() {
        return parameterCount == 0 ? 0 : totalBytes * 8.0 / parameterCount;
    }

    static InspectReport of(String path, String format, String architecture, Map<String, Object> hyper,
                            List<TensorRow> rows, Map<String, Object> metadata, Map<String, Object> container) {
        long params = 0, bytes = 0;
        for (TensorRow r : rows) {
            params += r.parameters();
            bytes += r.bytes();
        }
        return new InspectReport(path, format, architecture, hyper, List.copyOf(rows), metadata, container, rows.size(),
                params, bytes);
    }
}
