package dev.lowbit.pipeline.gguf;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.PrintStream;
import java.util.Locale;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * What a GGUF export wrote.
 *
 * @param output        the file written
 * @param source        the model read
 * @param ftype         the mix ({@code general.file_type} name)
 * @param fileBytes     size of the file
 * @param parameters    elements over all tensors
 * @param tensorBytes   bytes of tensor data (unpadded)
 * @param seconds       wall time of the whole run
 * @param typeCounts    number of tensors per ggml type
 * @param imatrix       the importance matrix file, or {@code null}
 * @param imatrixUsed   tensors quantized with importance weights
 * @param gptqTensors   tensors GPTQ quantized onto their type's grid ({@code --method gptq}), 0 otherwise
 * @param rtnFallbacks  Linears that fell back to the importance-weighted search ({@code --allow-rtn-fallback})
 */
public record GgufQuantizeReport(String output, String source, String ftype, long fileBytes, long parameters,
                                 long tensorBytes, double seconds, SortedMap<String, Integer> typeCounts,
                                 String imatrix, int imatrixUsed, int gptqTensors, java.util.List<String> rtnFallbacks) {
    private static final ObjectMapper JSON = new ObjectMapper();

    public GgufQuantizeReport {
        typeCounts = new TreeMap<>(typeCounts);
        rtnFallbacks = java.util.List.copyOf(rtnFallbacks);
    }

    public GgufQuantizeReport(String output, String source, String ftype, long fileBytes, long parameters,
                              long tensorBytes, double seconds, SortedMap<String, Integer> typeCounts,
                              String imatrix, int imatrixUsed) {
        this(output, source, ftype, fileBytes, parameters, tensorBytes, seconds, typeCounts, imatrix, imatrixUsed, 0,
                java.util.List.of());
    }

    /** Average bits per weight over all tensors: 8 · tensor bytes / elements. */
    public double bitsPerWeight() {
        return parameters == 0 ? 0 : tensorBytes * 8.0 / parameters;
    }

    /** Weights (tensor elements) encoded per second. */
    public double weightsPerSecond() {
        return seconds <= 0 ? 0 : parameters / seconds;
    }

    /** One JSON object. */
    public String toJson() {
        ObjectNode o = JSON.createObjectNode();
        o.put("output", output);
        o.put("source", source);
        o.put("ftype", ftype);
        o.put("file_bytes", fileBytes);
        o.put("parameters", parameters);
        o.put("tensor_bytes", tensorBytes);
        o.put("bits_per_weight", Math.round(bitsPerWeight() * 10000) / 10000.0);
        o.put("seconds", Math.round(seconds * 1000) / 1000.0);
        ObjectNode types = o.putObject("tensor_types");
        for (Map.Entry<String, Integer> e : typeCounts.entrySet()) types.put(e.getKey(), e.getValue());
        if (imatrix != null) {
            o.put("imatrix", imatrix);
            o.put("imatrix_tensors", imatrixUsed);
        }
        if (gptqTensors > 0) {
            o.put("gptq_tensors", gptqTensors);
            rtnFallbacks.forEach(o.putArray("rtn_fallbacks")::add);
        }
        return o.toString();
    }

    /** The human-readable summary. */
    public void print(PrintStream out) {
        out.printf(Locale.ROOT, "wrote %s (%s) from %s%n", output, ftype, source);
        out.printf(Locale.ROOT, "  size        %,d bytes (%.2f MiB), %,d weights, %.4f bits/weight%n", fileBytes,
                fileBytes / 1048576.0, parameters, bitsPerWeight());
        StringBuilder sb = new StringBuilder();
        typeCounts.forEach((t, c) -> sb.append(sb.isEmpty() ? "" : ", ").append(t).append(" ×").append(c));
        out.println("  tensors     " + sb);
        if (imatrix != null) out.printf(Locale.ROOT, "  imatrix     %s (%d tensors weighted)%n", imatrix, imatrixUsed);
        if (gptqTensors > 0) {
            out.printf(Locale.ROOT, "  gptq        %d tensors onto their type's grid%s%n", gptqTensors,
                    rtnFallbacks.isEmpty() ? "" : "; weighted-search fallback (Hessian not positive definite): " + String.join(", ", rtnFallbacks));
        }
        out.printf(Locale.ROOT, "  time        %.2f s (%.1f M weights/s)%n", seconds, weightsPerSecond() / 1e6);
    }
}
