package dev.lowbit.io.onnx;

import java.util.List;
import java.util.Optional;

/** {@code NodeProto}: one operator call. An empty input name is an omitted optional input. */
public record OnnxNode(String name, String opType, String domain, List<String> inputs, List<String> outputs,
                       List<OnnxAttribute> attributes, String docString) {
    public OnnxNode {
        inputs = List.copyOf(inputs);
        outputs = List.copyOf(outputs);
        attributes = List.copyOf(attributes);
        if (domain == null) domain = "";
        if (name == null) name = "";
        if (docString == null) docString = "";
    }

    public OnnxNode(String name, String opType, String domain, List<String> inputs, List<String> outputs, List<OnnxAttribute> attributes) {
        this(name, opType, domain, inputs, outputs, attributes, "");
    }

    public Optional<OnnxAttribute> attribute(String attrName) {
        for (OnnxAttribute a : attributes) if (a.name().equals(attrName)) return Optional.of(a);
        return Optional.empty();
    }

    /** The default domain is spelled "" or "ai.onnx". */
    public boolean isDefaultDomain() {
        return domain.isEmpty() || domain.equals("ai.onnx");
    }

    /** A short label for messages: the node's name, else its op type and first output. */
    public String label() {
        return name.isEmpty() ? opType + " -> " + (outputs.isEmpty() ? "?" : outputs.getFirst()) : name + " (" + opType + ")";
    }
}
