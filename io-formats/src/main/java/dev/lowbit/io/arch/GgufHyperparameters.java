package dev.lowbit.io.arch;

import dev.lowbit.io.BadInputException;
import dev.lowbit.io.gguf.GgufFile;
import dev.lowbit.io.gguf.GgufTensorInfo;
import dev.lowbit.io.gguf.GgufValue;
import dev.lowbit.io.gguf.GgufValueType;

/**
 * The hyperparameters of a llama.cpp model file, read with their types checked: counts must be GGUF integers in
 * {@code [1, 2^31)}, {@code rope.freq_base} and {@code layer_norm_rms_epsilon} finite floats. A key of the wrong type
 * or out of range is bad input naming the key, never a crash later.
 *
 * @param contextLength {@code context_length}, or 0 when absent
 */
public record GgufHyperparameters(ModelArchitecture architecture, ModelDims dims, double ropeFreqBase, double rmsNormEps,
                                  int contextLength) {
    public static final String SOURCE_NAME = "GGUF metadata";

    public static GgufHyperparameters read(GgufFile f) {
        String src = f.path().toString();
        GgufValue a = f.get("general.architecture");
        if (a == null) throw new BadInputException(src, "no general.architecture: not a model file");
        if (a.type() != GgufValueType.STRING) throw new BadInputException(src, "metadata 'general.architecture' is " + a.type() + ", expected STRING");
        ModelArchitecture arch = ModelArchitecture.forGguf(a.asString(), src);
        String p = arch.ggufName() + ".";
        int hidden = count(f, p + "embedding_length", null);
        int heads = count(f, p + "attention.head_count", null);
        int kv = count(f, p + "attention.head_count_kv", heads);
        Integer hd = optionalCount(f, p + "attention.key_length");
        if (hd == null) {
            if (hidden % heads != 0) {
                throw new BadInputException(src, p + "embedding_length " + hidden + " is not a multiple of "
                        + p + "attention.head_count " + heads + " and " + p + "attention.key_length is not given");
            }
            hd = hidden / heads;
        }
        Integer valueLength = optionalCount(f, p + "attention.value_length");
        if (valueLength != null && !valueLength.equals(hd)) {
            throw new BadInputException(src, p + "attention.value_length " + valueLength + " differs from key_length " + hd + " (not supported)");
        }
        GgufTensorInfo embd = f.tensorInfos().stream().filter(t -> t.name().equals("token_embd.weight")).findFirst().orElse(null);
        Integer vocab = optionalCount(f, p + "vocab_size");
        if (vocab == null) {
            if (embd == null || embd.nDims() != 2) throw new BadInputException(src, "no 2-D token_embd.weight tensor");
            vocab = Math.toIntExact(Math.min(Integer.MAX_VALUE, embd.dims()[1]));
        }
        boolean tied = f.tensorInfos().stream().noneMatch(t -> t.name().equals("output.weight"));
        ModelDims dims;
        try {
            dims = new ModelDims(hidden, count(f, p + "feed_forward_length", null), count(f, p + "block_count", null),
                    heads, kv, hd, vocab, tied, src);
        } catch (BadInputException e) {
            throw new BadInputException(src, SOURCE_NAME + ": " + e.getMessage());
        }
        double base = positiveFloat(f, p + "rope.freq_base", 10000.0);
        double eps = positiveFloat(f, p + "attention.layer_norm_rms_epsilon", 1e-6);
        Integer ctx = optionalCount(f, p + "context_length");
        return new GgufHyperparameters(arch, dims, base, eps, ctx == null ? 0 : ctx);
    }

    private static int count(GgufFile f, String key, Integer dflt) {
        Integer v = optionalCount(f, key);
        if (v != null) return v;
        if (dflt != null) return dflt;
        throw new BadInputException(f.path(), "missing metadata '" + key + "'");
    }

    private static Integer optionalCount(GgufFile f, String key) {
        Long n = f.integer(key);
        if (n == null) return null;
        if (n <= 0 || n > Integer.MAX_VALUE) {
            throw new BadInputException(f.path(), "metadata '" + key + "' is " + n + ", expected a count in [1, " + Integer.MAX_VALUE + "]");
        }
        return n.intValue();
    }

    private static double positiveFloat(GgufFile f, String key, double dflt) {
        GgufValue v = f.get(key);
        if (v == null) return dflt;
        double x;
        try {
            x = v.asDouble();
        } catch (RuntimeException e) {
            throw new BadInputException(f.path(), "metadata '" + key + "' is " + v.type() + ", expected a float");
        }
        if (!(x > 0) || Double.isInfinite(x)) throw new BadInputException(f.path(), "metadata '" + key + "' is " + x + ", expected a positive finite number");
        return x;
    }

    /**
     * Checks a GGUF model file as a model: hyperparameters well typed, tensors exactly those the architecture
     * expects with the implied shapes (any float or block type; integer types refused), and no NaN/Inf anywhere.
     */
    public static GgufHyperparameters requireValidModel(GgufFile f) {
        return requireValidModel(f, true);
    }

    /**
     * As {@link #requireValidModel(GgufFile)}; with {@code scanValues} false the NaN/Inf scan is left to the caller,
     * who runs {@link FiniteScan#stream} over the whole file before anything computed from it is kept.
     */
    public static GgufHyperparameters requireValidModel(GgufFile f, boolean scanValues) {
        GgufHyperparameters hp = read(f);
        java.util.List<ModelCheck.TensorFacts> facts = new java.util.ArrayList<>();
        for (GgufTensorInfo t : f.tensorInfos()) {
            boolean floating = switch (t.type()) {
                case I8, I16, I32, I64 -> false;
                default -> true;
            };
            facts.add(new ModelCheck.TensorFacts(t.name(), t.torchShape(), t.type().name(), floating));
        }
        ModelCheck.require(hp.architecture(), hp.dims(), facts, ModelCheck.Naming.GGUF, f.path().toString(), SOURCE_NAME);
        if (scanValues) FiniteScan.require(f);
        return hp;
    }
}
