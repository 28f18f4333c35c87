package dev.lowbit.io.model;

import dev.lowbit.io.BadInputException;
import dev.lowbit.io.hf.DequantizingSource;
import dev.lowbit.io.hf.HfConfig;
import dev.lowbit.io.hf.HfModelCheck;
import dev.lowbit.io.hf.HfModelDir;
import dev.lowbit.io.safetensors.ShardedSafetensors;
import dev.lowbit.io.tensor.Tensor;
import dev.lowbit.io.tensor.TensorSource;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * A Hugging Face model directory as a {@link ModelSource}: {@code config.json} through {@link HfConfig}, the weights
 * memory-mapped through {@link DequantizingSource#wrap} (plain safetensors decoded bf16/f16 → f32 row by row;
 * a GPTQ or compressed-tensors checkpoint shows each quantized Linear as its dequantized {@code .weight}).
 */
public final class HfModelSource implements ModelSource {
    private final Path dir;
    private final HfConfig config;
    private final TensorSource tensors;
    /** The last tensor looked up: a dequantized GPTQ weight is decoded once, not once per chunk of rows. */
    private volatile Tensor last;

    private HfModelSource(Path dir, HfConfig config, TensorSource tensors) {
        this.dir = dir;
        this.config = config;
        this.tensors = tensors;
    }

    /** Parses {@code config.json} first (a bad config fails before anything is mapped), then maps the weights. */
    public static HfModelSource open(Path dir) {
        if (!Files.isDirectory(dir)) throw new BadInputException(dir, "not a directory (expected a Hugging Face model directory)");
        HfConfig config = HfConfig.read(dir.resolve(HfModelDir.CONFIG));
        TensorSource packed = ShardedSafetensors.open(dir);
        try {
            TensorSource tensors = DequantizingSource.wrap(packed, config.raw(), dir.resolve(HfModelDir.CONFIG).toString());
            // a model, not just files: every tensor against config.json (present, shape, float), none extra, no NaN/Inf
            HfModelCheck.require(dir, config, tensors);
            return new HfModelSource(dir, config, tensors);
        } catch (RuntimeException e) {
            packed.close();
            throw e;
        }
    }

    @Override
    public Path path() {
        return dir;
    }

    @Override
    public Optional<dev.lowbit.io.quant.QuantizedTensor> quantized(String name) {
        if (tensors instanceof DequantizingSource d && d.isQuantized(name)) {
            return Optional.of(d.quantized(name.substring(0, name.length() - ".weight".length())));
        }
        return Optional.empty();
    }

    /**
     * The input activations a compressed-tensors checkpoint declares: FP8 dynamic per token (float-quantized,
     * W8A8-FP8) or int8 per token / per tensor (int-quantized, W8A8).
     */
    @Override
    public dev.lowbit.io.quant.ActivationScheme activationScheme() {
        if (tensors instanceof dev.lowbit.io.hf.FloatDequantizingSource f && f.dynamicTokenActivations()) {
            return dev.lowbit.io.quant.ActivationScheme.fp8PerToken();
        }
        if (tensors instanceof dev.lowbit.io.hf.IntDequantizingSource i) return i.activations();
        return null;
    }

    @Override
    public boolean quantizesInput(String module) {
        if (tensors instanceof dev.lowbit.io.hf.IntDequantizingSource i) return i.activations() != null && i.isQuantized(module);
        return ModelSource.super.quantizesInput(module);
    }

    @Override
    public float inputScale(String module) {
        if (tensors instanceof dev.lowbit.io.hf.IntDequantizingSource i) return i.inputScale(module);
        return ModelSource.super.inputScale(module);
    }

    @Override
    public HfConfig config() {
        return config;
    }

    @Override
    public Optional<Path> tokenizerFile() {
        Path p = dir.resolve(HfModelDir.TOKENIZER);
        return Files.isRegularFile(p) ? Optional.of(p) : Optional.empty();
    }

    @Override
    public String tokenizerJson() {
        Path p = tokenizerFile().orElseThrow(() ->
                new BadInputException(dir.resolve(HfModelDir.TOKENIZER), "missing (the model needs a tokenizer.json)"));
        try {
            return Files.readString(p);
        } catch (IOException e) {
            throw new BadInputException(p, "cannot read: " + e.getMessage());
        }
    }

    @Override
    public List<String> tensorNames() {
        return tensors.names();
    }

    @Override
    public boolean contains(String name) {
        return tensors.contains(name);
    }

    @Override
    public long[] shape(String name) {
        return tensor(name).shape().dims();
    }

    @Override
    public void readRows(String name, long first, int count, float[] out, int offset) {
        Tensor t = tensor(name);
        if (!t.dtype().isFloatingPoint()) {
            throw new BadInputException(dir, "tensor '" + name + "' is " + t.dtype().wireName() + ", not a floating-point tensor");
        }
        long len = t.shape().rank() == 0 ? 1 : t.shape().rowLength();
        long rows = t.elementCount() / Math.max(1, len);
        if (first < 0 || count < 0 || first + count > rows) {
            throw new IllegalArgumentException(name + ": rows [" + first + ", " + (first + count) + ") of " + rows);
        }
        t.toFloats(first * len, out, offset, Math.toIntExact(count * len));
    }

    private Tensor tensor(String name) {
        Tensor t = last;
        if (t != null && t.name().equals(name)) return t;
        t = tensors.tensor(name);
        last = t;
        return t;
    }

    @Override
    public void releasePages() {
        tensors.releasePages();
    }

    @Override
    public void close() {
        last = null;
        tensors.close();
    }
}
