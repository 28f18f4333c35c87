package dev.lowbit.io.hf;

import dev.lowbit.io.BadInputException;
import dev.lowbit.io.arch.FiniteScan;
import dev.lowbit.io.arch.ModelArchitecture;
import dev.lowbit.io.arch.ModelCheck;
import dev.lowbit.io.arch.ModelDims;
import dev.lowbit.io.tensor.Tensor;
import dev.lowbit.io.tensor.TensorSource;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A Hugging Face model directory checked as a model: {@code config.json}'s architecture and dimensions against the
 * tensors the checkpoint declares ({@link ModelCheck}), then every float tensor for NaN/Inf ({@link FiniteScan}).
 * Quantized checkpoints (GPTQ, compressed-tensors) are checked through their plain view: each quantized Linear counts
 * as its {@code .weight} with the shape its packing states, and its scales are scanned like any float tensor.
 */
public final class HfModelCheck {
    private HfModelCheck() {}

    /** The family and dimensions of a parsed config.json ({@code source} names the file in errors). */
    public static ModelArchitecture architecture(HfConfig config, String source) {
        if (config.architectures().isEmpty()) throw new BadInputException(source, "no 'architectures' entry");
        return ModelArchitecture.forHfClass(config.architectures().getFirst(), source);
    }

    /**
     * Refuses a model whose tensors do not match its config.json, or that holds a non-finite value.
     *
     * @param tensors the directory's weights (plain, or a {@link DequantizingSource})
     */
    public static void require(Path dir, HfConfig config, TensorSource tensors) {
        String configFile = dir.resolve(HfModelDir.CONFIG).toString();
        ModelArchitecture arch = architecture(config, configFile);
        ModelDims dims = ModelDims.of(config, configFile);
        List<ModelCheck.TensorFacts> facts = new ArrayList<>();
        DequantizingSource dq = tensors instanceof DequantizingSource d ? d : null;
        for (String name : tensors.names()) {
            if (dq != null && dq.isQuantized(name)) {
                facts.add(new ModelCheck.TensorFacts(name, dq.declaredShape(name), dq.format().name(), true));
            } else {
                Tensor t = tensors.tensor(name);
                facts.add(new ModelCheck.TensorFacts(name, t.shape().dims(), t.dtype().wireName(), t.dtype().isFloatingPoint()));
            }
        }
        ModelCheck.require(arch, dims, facts, ModelCheck.Naming.HUGGING_FACE, dir.toString(), HfModelDir.CONFIG);
        FiniteScan.require(dq != null ? dq.packed() : tensors, dir.toString());
    }
}
