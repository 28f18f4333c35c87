package dev.lowbit.io.model;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lowbit.io.BadInputException;
import dev.lowbit.io.arch.GgufHyperparameters;
import dev.lowbit.io.arch.ModelArchitecture;
import dev.lowbit.io.export.GgufExportPlanner;
import dev.lowbit.io.export.RotaryPermutation;
import dev.lowbit.io.export.TensorNames;
import dev.lowbit.io.ggml.BlockCodec;
import dev.lowbit.io.ggml.BlockCodecs;
import dev.lowbit.io.gguf.GgufFile;
import dev.lowbit.io.gguf.GgufTensorInfo;
import dev.lowbit.io.gguf.GgufValue;
import dev.lowbit.io.hf.HfConfig;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A llama.cpp GGUF model as a {@link ModelSource}: the Hugging Face checkpoint it came from, read straight from the
 * memory-mapped file. Tensor names and shapes are Hugging Face's; a row is decoded from its ggml blocks only when it
 * is asked for (through the type's {@link BlockCodec}); q/k rows (and q/k bias elements) are read in Hugging Face's
 * rotate-half order, undoing the converter's {@link RotaryPermutation}; {@code config.json} and {@code tokenizer.json}
 * are synthesised from the metadata.
 *
 * <p>Supported: architectures {@code llama}, {@code qwen2}, {@code qwen3}. {@code rope_freqs.weight} (Llama 3.1 rope
 * scaling) is not mapped back, so such a model reads without its rope scaling.
 */
public final class GgufModelSource implements ModelSource {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** One tensor as seen from Hugging Face: where its rows are and how many heads its rotary permutation has. */
    private record Entry(GgufTensorInfo info, long[] shape, int rowLength, long rows, int permutationHeads) {}

    private final GgufFile file;
    private final String arch;
    private final Map<String, Entry> byHfName = new LinkedHashMap<>();
    private final HfConfig config;

    private GgufModelSource(GgufFile file, boolean scanValues) {
        this.file = file;
        // a model, not just a file: hyperparameters typed and in range, tensors exactly the architecture's with the
        // shapes they imply, no NaN/Inf
        this.arch = GgufHyperparameters.requireValidModel(file, scanValues).architecture().ggufName();
        TensorNames names;
        try {
            names = TensorNames.forArchitecture(arch);
        } catch (IllegalArgumentException e) {
            throw new BadInputException(file.path(), e.getMessage());
        }
        int heads = intKey(arch + ".attention.head_count", 0);
        int kvHeads = intKey(arch + ".attention.head_count_kv", heads);
        for (GgufTensorInfo t : file.tensorInfos()) {
            if (t.name().equals(GgufExportPlanner.ROPE_FREQS)) continue;
            String hf = names.hfName(t.name());
            if (hf == null) throw new BadInputException(file.path(), "tensor '" + t.name() + "' has no Hugging Face name");
            long[] shape = t.torchShape();
            // the forward table must agree: this view is exactly the inverse of the exporter's mapping
            TensorNames.Mapping m = names.map(hf, shape);
            if (m == null || !m.ggufName().equals(t.name())) throw new IllegalStateException("name tables disagree on " + t.name());
            int permutationHeads = switch (m.rows()) {
                case PERMUTE_Q -> heads;
                case PERMUTE_K -> kvHeads;
                case AS_IS -> 0;
            };
            int rowLength = shape.length == 0 ? 1 : Math.toIntExact(shape[shape.length - 1]);
            long rows = t.elementCount() / rowLength;
            long permuted = shape.length == 1 ? rowLength : rows;
            if (permutationHeads != 0 && (permutationHeads < 0 || permuted % permutationHeads != 0
                    || (permuted / permutationHeads) % 2 != 0)) {
                throw new BadInputException(file.path(), "tensor '" + t.name() + "': " + permuted
                        + " rows do not split into " + permutationHeads + " heads of even size");
            }
            if (byHfName.put(hf, new Entry(t, shape, rowLength, rows, permutationHeads)) != null) {
                throw new BadInputException(file.path(), "two tensors map to '" + hf + "'");
            }
        }
        String json = configJson();
        this.config = HfConfig.parse(json, file.path() + " (config synthesised from GGUF metadata)");
    }

    public static GgufModelSource open(Path gguf) {
        return open(gguf, true);
    }

    /**
     * As {@link #open(Path)} but without the NaN/Inf scan of every tensor: for a caller that reads the whole file once
     * anyway (the manifest's SHA-256) and runs {@link dev.lowbit.io.arch.FiniteScan#stream} over {@link #file()} in
     * that pass, refusing the model before anything computed from it is kept.
     */
    public static GgufModelSource openUnscanned(Path gguf) {
        return open(gguf, false);
    }

    private static GgufModelSource open(Path gguf, boolean scanValues) {
        GgufFile f = GgufFile.open(gguf);
        try {
            return new GgufModelSource(f, scanValues);
        } catch (RuntimeException e) {
            f.close();
            throw e;
        }
    }

    /** The Hugging Face name of a GGUF tensor name, or {@code null}. */
    public static String hfName(String gguf) {
        for (ModelArchitecture a : ModelArchitecture.ALL) {
            var slot = a.parseGguf(gguf);
            if (slot.isPresent()) return slot.get().hfName();
        }
        return null;
    }

    /** The parsed file, for readers that want it in GGUF terms (names, block types, raw bytes). */
    public GgufFile file() {
        return file;
    }

    @Override
    public Path path() {
        return file.path();
    }

    @Override
    public HfConfig config() {
        return config;
    }

    @Override
    public Optional<Path> tokenizerFile() {
        return Optional.empty();
    }

    @Override
    public String tokenizerJson() {
        return GgufTokenizerJson.synthesize(file);
    }

    @Override
    public List<String> tensorNames() {
        return List.copyOf(byHfName.keySet());
    }

    @Override
    public boolean contains(String name) {
        return byHfName.containsKey(name);
    }

    @Override
    public long[] shape(String name) {
        return entry(name).shape().clone();
    }

    @Override
    public void readRows(String name, long first, int count, float[] out, int offset) {
        Entry e = entry(name);
        if (first < 0 || count < 0 || first + count > e.rows()) {
            throw new IllegalArgumentException(name + ": rows [" + first + ", " + (first + count) + ") of " + e.rows());
        }
        GgufTensorInfo t = e.info();
        if (!BlockCodecs.supports(t.type())) {
            throw new BadInputException(file.path(), "tensor '" + t.name() + "' is " + t.type() + ", which lowbit cannot decode");
        }
        BlockCodec codec = BlockCodecs.forType(t.type());
        int len = e.rowLength();
        long rowBytes = codec.rowBytes(len);
        MemorySegment data = file.data(t);
        int heads = e.permutationHeads();
        if (heads != 0 && e.shape().length == 1) {
            // a q/k bias: one row whose elements were permuted like the weight's rows
            float[] g = new float[len];
            codec.dequantizeRow(data, 0, g, 0, len);
            for (int j = 0; j < len; j++) out[offset + j] = g[RotaryPermutation.destinationRow(j, len, heads)];
            return;
        }
        int rows = Math.toIntExact(e.rows());
        for (int i = 0; i < count; i++) {
            int hfRow = Math.toIntExact(first + i);
            long ggufRow = heads == 0 ? hfRow : RotaryPermutation.destinationRow(hfRow, rows, heads);
            codec.dequantizeRow(data, ggufRow * rowBytes, out, offset + i * len, len);
        }
    }

    private Entry entry(String name) {
        Entry e = byHfName.get(name);
        if (e == null) throw new BadInputException(file.path(), "no tensor for Hugging Face name '" + name + "'");
        return e;
    }

    private int intKey(String key, int dflt) {
        return file.intOr(key, dflt);
    }

    private double floatKey(String key, double dflt) {
        GgufValue v = file.get(key);
        if (v == null) return dflt;
        try {
            return v.asDouble();
        } catch (RuntimeException e) {
            throw new BadInputException(file.path(), "metadata '" + key + "' is " + v.type() + ", expected a number");
        }
    }

    /** A transformers {@code config.json} for the model, from the GGUF hyperparameters. */
    String configJson() {
        String a = arch + ".";
        ObjectNode c = JSON.createObjectNode();
        c.putArray("architectures").add(ModelArchitecture.forGguf(arch, file.path().toString()).primaryHfClass());
        c.put("model_type", arch);
        int heads = intKey(a + "attention.head_count", 0);
        int hidden = intKey(a + "embedding_length", 0);
        Entry embd = byHfName.get("model.embed_tokens.weight");
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
        c.put("vocab_size", embd.shape()[0]);
        c.put("tie_word_embeddings", !byHfName.containsKey("lm_head.weight"));
        c.put("hidden_act", "silu");
        c.put("torch_dtype", "float32");
        GgufValue bos = file.get("tokenizer.ggml.bos_token_id");
        GgufValue eos = file.get("tokenizer.ggml.eos_token_id");
        if (bos != null) c.put("bos_token_id", bos.asLong());
        if (eos != null) c.put("eos_token_id", eos.asLong());
        return c.toPrettyString();
    }

    @Override
    public void releasePages() {
        file.releasePages();
    }

    @Override
    public void close() {
        file.close();
    }
}
