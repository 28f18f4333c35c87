package dev.lowbit.io.hf;

import dev.lowbit.io.tensor.Tensor;
import dev.lowbit.io.tensor.TensorSource;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A quantized checkpoint presented as the plain checkpoint it stands for: each quantized Linear appears as
 * {@code <module>.weight}, decoded to F32 on request (one tensor at a time); the tensors that make up its packed form
 * are hidden; every other tensor passes through unchanged. Subclasses say which stored tensor marks a quantized module,
 * which are its parts, and how to decode it, then call {@link #index()} at the end of their constructor.
 */
abstract class PackedModuleSource implements TensorSource {
    protected final TensorSource packed;
    protected final String source;
    private final Map<String, String> modules = new LinkedHashMap<>(); // synthesized weight name -> module
    private final List<String> names = new ArrayList<>();

    PackedModuleSource(TensorSource packed, String source) {
        this.packed = packed;
        this.source = source;
    }

    /** Lists the stored names once the subclass can answer {@link #moduleOf} and {@link #isPart}. */
    protected final void index() {
        for (String n : packed.names()) {
            String module = moduleOf(n);
            if (module != null) {
                modules.put(module + ".weight", module);
                names.add(module + ".weight");
            } else if (!isPart(n)) {
                names.add(n);
            }
        }
    }

    /** The quantized module whose packed form the stored tensor {@code name} marks, or null. */
    protected abstract String moduleOf(String name);

    /** Whether the stored tensor {@code name} is one of the parts of a quantized module's packed form. */
    protected abstract boolean isPart(String name);

    /** The decoded F32 weight {@code weightName} of the quantized {@code module}. */
    protected abstract Tensor decoded(String weightName, String module);

    /** The module of a synthesized weight name, or null when {@code weightName} is not a quantized Linear's weight. */
    protected final String moduleOfWeight(String weightName) {
        return modules.get(weightName);
    }

    /** Names of the quantized modules (without {@code .weight}), in stored order. */
    public List<String> quantizedModules() {
        return List.copyOf(modules.values());
    }

    @Override
    public List<String> names() {
        return List.copyOf(names);
    }

    @Override
    public boolean contains(String name) {
        return modules.containsKey(name) || (packed.contains(name) && !isPart(name));
    }

    @Override
    public Tensor tensor(String name) {
        String module = modules.get(name);
        return module == null ? packed.tensor(name) : decoded(name, module);
    }

    @Override
    public Map<String, String> metadata() {
        return packed.metadata();
    }

    @Override
    public void releasePages() {
        packed.releasePages();
    }

    @Override
    public void close() {
        packed.close();
    }
}
