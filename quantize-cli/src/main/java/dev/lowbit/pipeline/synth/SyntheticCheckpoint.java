package dev.lowbit.pipeline.synth;

import dev.lowbit.io.safetensors.SafetensorsWriter;
import dev.lowbit.io.safetensors.SafetensorsWriter.TensorSpec;
import dev.lowbit.io.safetensors.ShardedSafetensorsWriter;
import dev.lowbit.io.tensor.DType;
import dev.lowbit.io.tensor.Shape;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.WritableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * A seeded random Llama checkpoint of any shape, for measuring memory and time at real model sizes without
 * downloading one: {@code config.json}, sharded bf16 safetensors as {@code save_pretrained} writes them, and the
 * tokenizer files of an existing model (tiny-llama-code's by default; its vocabulary is 8192).
 *
 * <p>Every tensor is produced while it is written, 1 MiB at a time: nothing of the checkpoint is held in memory, so a
 * 7B shape (13.5 GB) is written at disk speed. Values: Linear weights and the embedding / lm_head uniform on
 * [−a, a] with a = σ√3 (standard deviation σ = {@code initializer_range} = 0.02), RMSNorm weights 1. Each tensor has
 * its own SplitMix64 stream seeded from the seed and the tensor's name, so the bytes depend on nothing but the shape
 * and the seed. The activations of such a model are not a language model's; it is for memory and time, not accuracy.
 */
public final class SyntheticCheckpoint {
    private SyntheticCheckpoint() {}

    /** The shape of a Llama checkpoint ({@code config.json}'s names). */
    public record Spec(int hiddenSize, int numLayers, int numHeads, int numKvHeads, int intermediateSize, int vocabSize,
                       int maxPositions, long seed) {
        public Spec {
            if (hiddenSize <= 0 || numLayers <= 0 || numHeads <= 0 || numKvHeads <= 0 || intermediateSize <= 0 || vocabSize <= 0) {
                throw new IllegalArgumentException("every dimension must be positive");
            }
            if (hiddenSize % numHeads != 0) throw new IllegalArgumentException("heads " + numHeads + " do not divide hidden " + hiddenSize);
            if (numHeads % numKvHeads != 0) throw new IllegalArgumentException("kv heads " + numKvHeads + " do not divide heads " + numHeads);
            if ((hiddenSize / numHeads) % 2 != 0) throw new IllegalArgumentException("head_dim must be even for RoPE");
        }

        int headDim() {
            return hiddenSize / numHeads;
        }
    }

    static final float SIGMA = 0.02f;

    /** The tensors in {@code state_dict} order (embedding, layers, final norm, lm_head), each with its generator. */
    static List<TensorSpec> tensors(Spec s) {
        List<TensorSpec> out = new ArrayList<>();
        long d = s.hiddenSize(), kv = (long) s.numKvHeads() * s.headDim(), ff = s.intermediateSize();
        out.add(random(s, "model.embed_tokens.weight", s.vocabSize(), d));
        for (int i = 0; i < s.numLayers(); i++) {
            String p = "model.layers." + i + ".";
            out.add(ones(p + "input_layernorm.weight", d));
            out.add(random(s, p + "self_attn.q_proj.weight", d, d));
            out.add(random(s, p + "self_attn.k_proj.weight", kv, d));
            out.add(random(s, p + "self_attn.v_proj.weight", kv, d));
            out.add(random(s, p + "self_attn.o_proj.weight", d, d));
            out.add(ones(p + "post_attention_layernorm.weight", d));
            out.add(random(s, p + "mlp.gate_proj.weight", ff, d));
            out.add(random(s, p + "mlp.up_proj.weight", ff, d));
            out.add(random(s, p + "mlp.down_proj.weight", d, ff));
        }
        out.add(ones("model.norm.weight", d));
        out.add(random(s, "lm_head.weight", s.vocabSize(), d));
        return out;
    }

    /** Writes the checkpoint into {@code dir} (created; must be absent or empty), tokenizer files from {@code tokenizerFrom}. */
    public static ShardedSafetensorsWriter.Result write(Spec spec, Path dir, Path tokenizerFrom, long maxShardBytes) throws IOException {
        if (Files.exists(dir)) {
            try (var entries = Files.list(dir)) {
                if (entries.findAny().isPresent()) throw new IOException(dir + ": exists and is not empty");
            }
        }
        Files.createDirectories(dir);
        for (String f : new String[] {"tokenizer.json", "tokenizer_config.json", "generation_config.json"}) {
            Path src = tokenizerFrom.resolve(f);
            if (Files.isRegularFile(src)) Files.copy(src, dir.resolve(f));
        }
        Files.writeString(dir.resolve("config.json"), configJson(spec), StandardCharsets.UTF_8);
        SafetensorsWriter.Options options = SafetensorsWriter.Options.defaults()
                .withMetadata(java.util.Map.of("format", "pt"));
        return ShardedSafetensorsWriter.write(dir, tensors(spec), maxShardBytes, options);
    }

    static String configJson(Spec s) {
        return String.format(Locale.ROOT, """
                {
                  "architectures": ["LlamaForCausalLM"],
                  "attention_bias": false,
                  "bos_token_id": 1,
                  "dtype": "bfloat16",
                  "eos_token_id": 0,
                  "head_dim": %d,
                  "hidden_act": "silu",
                  "hidden_size": %d,
                  "initializer_range": %s,
                  "intermediate_size": %d,
                  "max_position_embeddings": %d,
                  "mlp_bias": false,
                  "model_type": "llama",
                  "num_attention_heads": %d,
                  "num_hidden_layers": %d,
                  "num_key_value_heads": %d,
                  "rms_norm_eps": 1e-05,
                  "rope_theta": 10000.0,
                  "tie_word_embeddings": false,
                  "vocab_size": %d,
                  "lowbit_synthetic_seed": %d
                }
                """, s.headDim(), s.hiddenSize(), Float.toString(SIGMA), s.intermediateSize(), s.maxPositions(),
                s.numHeads(), s.numLayers(), s.numKvHeads(), s.vocabSize(), s.seed());
    }

    private static TensorSpec ones(String name, long n) {
        return new TensorSpec(name, DType.BF16, Shape.of(n), out -> fill(out, n * 2, buf -> {
            while (buf.remaining() >= 2) buf.putShort(BF16_ONE);
        }));
    }

    private static TensorSpec random(Spec s, String name, long rows, long cols) {
        long bytes = rows * cols * 2;
        long[] state = {mix(s.seed() * 0x9E3779B97F4A7C15L ^ name.hashCode() ^ ((long) name.length() << 40))};
        return new TensorSpec(name, DType.BF16, Shape.of(rows, cols), out -> fill(out, bytes, buf -> {
            while (buf.remaining() >= 8) { // one 64-bit draw → four bf16 values, each through the 16-bit table
                long r = mix(state[0] += 0x9E3779B97F4A7C15L);
                buf.putShort(UNIFORM[(int) (r & 0xFFFF)]);
                buf.putShort(UNIFORM[(int) ((r >>> 16) & 0xFFFF)]);
                buf.putShort(UNIFORM[(int) ((r >>> 32) & 0xFFFF)]);
                buf.putShort(UNIFORM[(int) (r >>> 48)]);
            }
            while (buf.remaining() >= 2) buf.putShort(UNIFORM[(int) (mix(state[0] += 0x9E3779B97F4A7C15L) & 0xFFFF)]);
        }));
    }

    private static final short BF16_ONE = (short) (Float.floatToRawIntBits(1f) >>> 16);

    /** bf16 of the uniform value (k + ½)/65536 mapped onto [−σ√3, σ√3], for every 16-bit k (round to nearest even). */
    private static final short[] UNIFORM = new short[1 << 16];

    static {
        double a = SIGMA * Math.sqrt(3);
        for (int k = 0; k < UNIFORM.length; k++) {
            float v = (float) ((2 * ((k + 0.5) / 65536.0) - 1) * a);
            int bits = Float.floatToRawIntBits(v);
            UNIFORM[k] = (short) ((bits + 0x7FFF + ((bits >>> 16) & 1)) >>> 16);
        }
    }

    /** SplitMix64's finaliser. */
    static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    private interface Filler {
        void fill(ByteBuffer buf);
    }

    private static void fill(WritableByteChannel out, long bytes, Filler filler) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(1 << 20).order(ByteOrder.LITTLE_ENDIAN);
        for (long left = bytes; left > 0; ) {
            int n = (int) Math.min(buf.capacity(), left);
            buf.clear().limit(n);
            filler.fill(buf);
            buf.flip();
            while (buf.hasRemaining()) out.write(buf);
            left -= n;
        }
    }

    /**
     * {@code SyntheticCheckpoint DIR [--hidden 4096] [--layers 32] [--heads 32] [--kv-heads 32] [--intermediate 11008]
     * [--vocab 8192] [--max-positions 4096] [--seed 0] [--shard-size 5GB] [--tokenizer-from MODEL_DIR]}
     */
    public static void main(String[] args) throws IOException {
        if (args.length == 0 || args[0].startsWith("-")) usage("the output directory comes first");
        Path dir = Path.of(args[0]);
        int hidden = 4096, layers = 32, heads = 32, kvHeads = -1, ff = 11008, vocab = 8192, maxPos = 4096;
        long seed = 0, shard = 5_000_000_000L;
        Path tokenizer = dev.lowbit.io.SharedData.tinyLlama();
        for (int i = 1; i < args.length; i++) {
            if (i + 1 >= args.length) usage(args[i] + " needs a value");
            String v = args[++i];
            try {
                switch (args[i - 1]) {
                    case "--hidden" -> hidden = Integer.parseInt(v);
                    case "--layers" -> layers = Integer.parseInt(v);
                    case "--heads" -> heads = Integer.parseInt(v);
                    case "--kv-heads" -> kvHeads = Integer.parseInt(v);
                    case "--intermediate" -> ff = Integer.parseInt(v);
                    case "--vocab" -> vocab = Integer.parseInt(v);
                    case "--max-positions" -> maxPos = Integer.parseInt(v);
                    case "--seed" -> seed = Long.parseLong(v);
                    case "--shard-size" -> shard = ShardedSafetensorsWriter.parseSize(v);
                    case "--tokenizer-from" -> tokenizer = Path.of(v);
                    default -> usage("unknown option " + args[i - 1]);
                }
            } catch (NumberFormatException e) {
                usage(args[i - 1] + ": not a number: " + v);
            }
        }
        Spec spec;
        try {
            spec = new Spec(hidden, layers, heads, kvHeads < 0 ? heads : kvHeads, ff, vocab, maxPos, seed);
        } catch (IllegalArgumentException e) {
            usage(e.getMessage());
            return;
        }
        if (!Files.isRegularFile(tokenizer.resolve("tokenizer.json"))) usage(tokenizer + ": no tokenizer.json");
        long t0 = System.nanoTime();
        try {
            var r = write(spec, dir, tokenizer, shard);
            System.out.printf(Locale.ROOT, "%s: %d parameters, %.2f GB in %d shard(s), %.1f s%n", dir, r.totalParameters(),
                    r.totalSize() / 1e9, r.shards().size(), (System.nanoTime() - t0) / 1e9);
        } catch (IOException e) {
            System.err.println("make-synthetic-checkpoint: " + e.getMessage());
            System.exit(2);
        }
    }

    private static void usage(String why) {
        System.err.println("make-synthetic-checkpoint: " + why);
        System.exit(2);
    }
}
