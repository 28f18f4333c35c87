package dev.lowbit.calib.model;

import dev.lowbit.io.BadInputException;
import dev.lowbit.io.arch.ModelDims;
import dev.lowbit.io.hf.HfConfig;
import dev.lowbit.io.hf.HfModelCheck;
import dev.lowbit.io.model.ModelSource;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The parts of a Hugging Face {@code config.json} a Llama-family forward needs, taken from the one config reader
 * ({@link HfConfig}: both {@code rope_theta} and {@code rope_parameters}, one set of defaults) and the architecture
 * table ({@link Architecture}).
 */
public record LlamaConfig(Architecture architecture, int hiddenSize, int numLayers, int numHeads, int numKvHeads,
                          int headDim, int intermediateSize, int vocabSize, double rmsNormEps, double ropeTheta,
                          RopeScaling ropeScaling, boolean tieWordEmbeddings, int maxPositionEmbeddings) {
    public static final String FILE = "config.json";

    public LlamaConfig {
        if (hiddenSize <= 0 || numLayers <= 0 || numHeads <= 0 || numKvHeads <= 0 || headDim <= 0
                || intermediateSize <= 0 || vocabSize <= 0) {
            throw new BadInputException(FILE, "sizes must be positive");
        }
        if (numHeads % numKvHeads != 0) {
            throw new BadInputException(FILE, "num_attention_heads " + numHeads
                    + " is not a multiple of num_key_value_heads " + numKvHeads);
        }
        if (headDim % 2 != 0) throw new BadInputException(FILE, "head_dim " + headDim + " is odd");
    }

    /** Query heads per key/value head (grouped-query attention). */
    public int groupSize() {
        return numHeads / numKvHeads;
    }

    /** Reads {@code config.json} from a model directory (or the file itself); a {@code .gguf} file's synthesised one. */
    public static LlamaConfig fromJson(Path path) {
        if (!Files.exists(path)) throw new BadInputException(path, "no such model directory");
        if (ModelSource.isGguf(path)) {
            try (ModelSource m = ModelSource.open(path)) {
                return of(m);
            }
        }
        Path file = Files.isDirectory(path) ? path.resolve(FILE) : path;
        if (!Files.isRegularFile(file)) throw new BadInputException(file, "missing (a model directory needs config.json)");
        String source = file.toString();
        HfConfig c = HfConfig.read(file, archs -> {
            if (archs.isEmpty()) throw new BadInputException(source, "no 'architectures' entry");
            Architecture.named(archs.getFirst(), source);
        });
        return of(c, source);
    }

    /** The config of a model source (a directory's {@code config.json}, or one synthesised from GGUF metadata). */
    public static LlamaConfig of(ModelSource model) {
        Path p = model.path();
        String source = (Files.isDirectory(p) ? p.resolve(FILE) : p).toString();
        return of(model.config(), source);
    }

    /** The forward's view of a parsed config.json. */
    public static LlamaConfig of(HfConfig c, String source) {
        HfModelCheck.architecture(c, source);
        Architecture arch = Architecture.named(c.architectures().getFirst(), source);
        ModelDims d = ModelDims.of(c, source);
        dev.lowbit.io.hf.RopeScaling s = c.ropeScaling();
        RopeScaling scaling = s.isDefault() ? RopeScaling.NONE : new RopeScaling(s.ropeType(), or(s.factor(), 1.0),
                or(s.lowFreqFactor(), 1.0), or(s.highFreqFactor(), 4.0),
                s.originalMaxPositionEmbeddings() > 0 ? s.originalMaxPositionEmbeddings() : 8192);
        boolean tied = c.raw().hasNonNull("tie_word_embeddings") ? c.tieWordEmbeddings() : arch.tiedByDefault();
        return new LlamaConfig(arch, d.hidden(), d.layers(), d.heads(), d.kvHeads(), d.headDim(), d.intermediate(),
                d.vocab(), c.rmsNormEps(), c.ropeTheta(), scaling, tied, c.maxPositionEmbeddings());
    }

    private static double or(double v, double dflt) {
        return Double.isNaN(v) ? dflt : v;
    }
}
