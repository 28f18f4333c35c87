package dev.lowbit.pipeline.gguf;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lowbit.io.BadInputException;
import dev.lowbit.io.arch.GgufHyperparameters;
import dev.lowbit.io.export.GgufExportPlanner;
import dev.lowbit.io.export.RotaryPermutation;
import dev.lowbit.io.export.TensorNames;
import dev.lowbit.io.gguf.GgufFile;
import dev.lowbit.io.gguf.GgufTensorInfo;
import dev.lowbit.io.gguf.GgufValue;
import dev.lowbit.io.safetensors.SafetensorsWriter;
import dev.lowbit.io.tensor.DType;
import dev.lowbit.io.tensor.Shape;
import dev.lowbit.io.tensor.Tensor;
import dev.lowbit.io.tensor.TensorSource;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A llama.cpp GGUF model seen as the Hugging Face checkpoint it came from: Hugging Face tensor names, PyTorch shapes,
 * every tensor dequantized to F32 on request (one tensor at a time), q/k rows put back in Hugging Face's rotate-half
 * order (the inverse of {@link RotaryPermutation}), plus a {@code config.json} and a {@code tokenizer.json}
 * synthesised from the metadata. This is how lowbit's runner evaluates a GGUF file.
 *
 * <p>Supported: architectures {@code llama}, {@code qwen2}, {@code qwen3}; {@code rope_freqs.weight} (Llama 3.1 rope
 * scaling) is not mapped back.
 */
public final class GgufModelView implements TensorSource {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final GgufFile file;
    private final String arch;
    private final Map<String, GgufTensorInfo> byHfName = new LinkedHashMap<>();
    private final Map<String, TensorNames.Rows> rows = new LinkedHashMap<>();

    private GgufModelView(GgufFile file) {
        this.file = file;
        // hyperparameters typed and in range, tensors exactly the architecture's with the implied shapes, all finite
        this.arch = GgufHyperparameters.requireValidModel(file).architecture().ggufName();
        TensorNames names;
        try {
            names = TensorNames.forArchitecture(arch);
        } catch (IllegalArgumentException e) {
            throw new BadInputException(file.path(), e.getMessage());
        }
        for (GgufTensorInfo t : file.tensorInfos()) {
            if (t.name().equals(GgufExportPlanner.ROPE_FREQS)) continue;
            String hf = names.hfName(t.name());
            if (hf == null) throw new BadInputException(file.path(), "tensor '" + t.name() + "' has no Hugging Face name");
            // the forward table must agree: the view is exactly the inverse of the exporter's mapping
            TensorNames.Mapping m = names.map(hf, t.torchShape());
            if (m == null || !m.ggufName().equals(t.name())) throw new IllegalStateException("name tables disagree on " + t.name());
            byHfName.put(hf, t);
            rows.put(hf, m.rows());
        }
    }

    public static GgufModelView open(Path gguf) {
        GgufFile f = GgufFile.open(gguf);
        try {
            return new GgufModelView(f);
        } catch (RuntimeException e) {
            f.close();
            throw e;
        }
    }

    public GgufFile file() {
        return file;
    }

    @Override
    public List<String> names() {
        return List.copyOf(byHfName.keySet());
    }

    @Override
    public boolean contains(String name) {
        return byHfName.containsKey(name);
    }

    /** The tensor dequantized to F32, PyTorch shape, q/k rows in Hugging Face order. */
    @Override
    public Tensor tensor(String name) {
        GgufTensorInfo t = byHfName.get(name);
        if (t == null) throw new BadInputException(file.path(), "no tensor for Hugging Face name '" + name + "'");
        Tensor dense = file.dequantize(t.name());
        int heads = switch (rows.get(name)) {
            case PERMUTE_Q -> intKey(arch + ".attention.head_count", 0);
            case PERMUTE_K -> intKey(arch + ".attention.head_count_kv", intKey(arch + ".attention.head_count", 0));
            case AS_IS -> 0;
        };
        if (heads == 0) return new Tensor(name, DType.F32, dense.shape(), dense.data());
        float[] g = dense.toFloatArray();
        long[] shape = t.torchShape();
        int nRows = Math.toIntExact(shape[0]);
        int cols = shape.length > 1 ? Math.toIntExact(shape[1]) : 1;
        float[] hf = new float[g.length];
        for (int r = 0; r < nRows; r++) {
            System.arraycopy(g, r * cols, hf, RotaryPermutation.sourceRow(r, nRows, heads) * cols, cols);
        }
        return Tensor.ofFloats(name, new Shape(shape), hf);
    }

    @Override
    public Map<String, String> metadata() {
        return Map.of();
    }

    private int intKey(String key, int dflt) {
        GgufValue v = file.get(key);
        return v == null ? dflt : v.asInt();
    }

    private double floatKey(String key, double dflt) {
        GgufValue v = file.get(key);
        return v == null ? dflt : v.asDouble();
    }

    /** A transformers {@code config.json} for the model, from the GGUF hyperparameters. */
    public String configJson() {
        String a = arch + ".";
        ObjectNode c = JSON.createObjectNode();
        c.putArray("architectures").add(switch (arch) {
            case "qwen2" -> "Qwen2ForCausalLM";
            case "qwen3" -> "Qwen3ForCausalLM";
            default -> "LlamaForCausalLM";
        });
        c.put("model_type", arch);
        int heads = intKey(a + "attention.head_count", 0);
        int hidden = intKey(a + "embedding_length", 0);
        GgufTensorInfo embd = byHfName.get("model.embed_tokens.weight");
        if (embd == null) throw new BadInputException(file.path(), "no token_embd.weight");
        c.put("hidden_size", hidden);
        c.put("intermediate_size", intKey(a + "feed_forward_length", 0));
        c.put("num_hidden_layers", intKey(a + "block_count", 0));
        c.put("num_attention_heads", heads);
        c.put("num_key_value_heads", intKey(a + "attention.head_count_kv", heads));
        c.put("head_dim", intKey(a + "attention.key_length", heads == 0 ? 0 : hidden / heads));
        c.put("rms_norm_eps", (float) floatKey(a + "attention.layer_norm_rms_epsilon", 1e-6));
        c.put("rope_theta", (float) floatKey(a + "rope.freq_base", 10000));
        c.put("max_position_embeddings", intKey(a + "context_length", 2048));
        c.put("vocab_size", embd.torchShape()[0]);
        c.put("tie_word_embeddings", !byHfName.containsKey("lm_head.weight"));
        c.put("hidden_act", "silu");
        c.put("torch_dtype", "float32");
        GgufValue bos = file.get("tokenizer.ggml.bos_token_id");
        GgufValue eos = file.get("tokenizer.ggml.eos_token_id");
        if (bos != null) c.put("bos_token_id", bos.asLong());
        if (eos != null) c.put("eos_token_id", eos.asLong());
        return c.toPrettyString();
    }

    /**
     * Writes a Hugging Face model directory for this GGUF into {@code dir}: {@code config.json}, {@code tokenizer.json}
     * and one F32 {@code model.safetensors} (written tensor by tensor). Returns {@code dir}.
     */
    public Path writeHfDirectory(Path dir) throws IOException {
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("config.json"), configJson());
        Files.writeString(dir.resolve("tokenizer.json"), GgufTokenizerJson.synthesize(file));
        List<SafetensorsWriter.TensorSpec> specs = new ArrayList<>();
        for (String n : names()) {
            GgufTensorInfo t = byHfName.get(n);
            specs.add(new SafetensorsWriter.TensorSpec(n, DType.F32, new Shape(t.torchShape()),
                    out -> SafetensorsWriter.TensorData.of(tensor(n).data()).writeTo(out)));
        }
        SafetensorsWriter.write(dir.resolve("model.safetensors"), specs, SafetensorsWriter.Options.defaults().forTransformers());
        return dir;
    }

    @Override
    public void close() {
        file.close();
    }
}
