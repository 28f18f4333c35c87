package dev.lowbit.io.onnx;

import java.util.List;
import java.util.Map;

/**
 * {@code ModelProto}: IR version, opset imports (domain → version; the default domain is ""), producer fields, the
 * main graph and metadata properties (kept in order).
 */
public record OnnxModel(long irVersion, List<OpsetId> opsetImports, String producerName, String producerVersion,
                        String domain, long modelVersion, String docString, OnnxGraph graph,
                        List<Map.Entry<String, String>> metadataProps) {
    /** {@code OperatorSetIdProto}. */
    public record OpsetId(String domain, long version) {
        public OpsetId {
            if (domain == null || domain.equals("ai.onnx")) domain = "";
        }
    }

    public OnnxModel {
        opsetImports = List.copyOf(opsetImports);
        metadataProps = List.copyOf(metadataProps);
        if (producerName == null) producerName = "";
        if (producerVersion == null) producerVersion = "";
        if (domain == null) domain = "";
        if (docString == null) docString = "";
    }

    /** The imported version of {@code opsetDomain} ("" = default domain), or -1. */
    public long opset(String opsetDomain) {
        String d = opsetDomain.equals("ai.onnx") ? "" : opsetDomain;
        for (OpsetId o : opsetImports) if (o.domain().equals(d)) return o.version();
        return -1;
    }

    public OnnxModel withGraph(OnnxGraph g) {
        return new OnnxModel(irVersion, opsetImports, producerName, producerVersion, domain, modelVersion, docString, g, metadataProps);
    }

    /** This model with {@code opsetDomain} imported at {@code version} (replacing an earlier import of it). */
    public OnnxModel withOpset(String opsetDomain, long version) {
        String d = opsetDomain.equals("ai.onnx") ? "" : opsetDomain;
        List<OpsetId> ops = new java.util.ArrayList<>(opsetImports.stream().filter(o -> !o.domain().equals(d)).toList());
        ops.add(new OpsetId(d, version));
        return new OnnxModel(irVersion, ops, producerName, producerVersion, domain, modelVersion, docString, graph, metadataProps);
    }

    public OnnxModel withIrVersion(long ir) {
        return new OnnxModel(ir, opsetImports, producerName, producerVersion, domain, modelVersion, docString, graph, metadataProps);
    }
}
