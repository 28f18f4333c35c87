package dev.lowbit.ptq.rotate;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lowbit.io.BadInputException;
import dev.lowbit.io.arch.ModelArchitecture;
import dev.lowbit.io.arch.ModelArchitecture.Slot;
import dev.lowbit.io.arch.ModelDims;
import dev.lowbit.io.arch.OnlineRotation;
import dev.lowbit.io.arch.TensorRole;
import dev.lowbit.io.hf.HfConfig;
import dev.lowbit.io.model.ModelSource;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * A model seen through {@link ModelRotation}: every tensor is rotated as it is read, so evaluation, calibration,
 * quantization and the rotated-checkpoint writer all take the rotated model without a temporary copy.
 *
 * <p>Why a view: R1 and R2 depend only on the seed and the source tensors, so the rotated value of any tensor can be
 * computed when it is read. Rows that depend only on the same source row (embedding, q, k, gate, up, lm_head, norms)
 * are rotated per request; o, down and v, whose rows R1ᵀ or R2ᵀ mix, are rotated whole once and kept until another
 * tensor is asked for (readers take a tensor in consecutive chunks of rows), so memory holds one tensor at a time.
 *
 * <p>A tied model shows an untied one: {@code config()} says {@code tie_word_embeddings: false} and an
 * {@code lm_head.weight} (the embedding with the final norm folded, then R1) is listed after the source's tensors.
 */
public final class RotatedModelSource implements ModelSource {
    private static final String LM_HEAD = "lm_head.weight";

    private final ModelSource source;
    private final ModelRotation rotation;
    private final ModelArchitecture arch;
    private final HfConfig config;
    private final boolean untie;
    private final String embedName;
    private record Whole(String name, float[] values) {}
    private volatile Whole last;

    private RotatedModelSource(ModelSource source, ModelRotation rotation, ModelArchitecture arch, HfConfig config, boolean untie) {
        this.source = source;
        this.rotation = rotation;
        this.arch = arch;
        this.config = config;
        this.untie = untie;
        this.embedName = new Slot(TensorRole.EMBED, -1, "weight").hfName();
    }

    /**
     * {@code source} rotated with {@code seed}; the caller keeps and closes {@code source}. A hidden size or head
     * dimension without a supported Hadamard matrix is a {@link BadInputException} naming the model, the tensor and
     * the size.
     */
    public static RotatedModelSource of(ModelSource source, long seed) {
        return of(source, seed, false);
    }

    /**
     * With {@code online}, also the online rotations R3 and R4 ({@link OnlineRotation}): down_proj carries H_F and the
     * config records both, so lowbit's runtime applies them and other writers refuse the model.
     */
    public static RotatedModelSource of(ModelSource source, long seed, boolean online) {
        HfConfig c = source.config();
        String where = source.path().toString();
        ModelArchitecture arch = ModelArchitecture.forHfClass(source.architecture(), where);
        ModelDims dims = ModelDims.of(c, where);
        List<String> problems = ModelRotation.problems(dims, online);
        if (!problems.isEmpty()) throw new BadInputException(source.path(), "cannot rotate: " + problems.getFirst());
        if (OnlineRotation.of(c, where).any()) {
            throw new BadInputException(source.path(), "cannot rotate: the model is already rotated with online rotations (" + OnlineRotation.KEY + ")");
        }
        boolean untie = c.tieWordEmbeddings();
        HfConfig shown = c;
        if (untie || online) {
            ObjectNode raw = c.raw().deepCopy();
            raw.put("tie_word_embeddings", false);
            new OnlineRotation(online, online).writeTo(raw);
            shown = new HfConfig(c.architectures(), c.modelType(), c.hiddenSize(), c.intermediateSize(), c.numHiddenLayers(),
                    c.numAttentionHeads(), c.numKeyValueHeads(), c.headDim(), c.rmsNormEps(), c.vocabSize(),
                    c.maxPositionEmbeddings(), false, c.attentionBias(), c.ropeTheta(), c.ropeScaling(), c.dtype(),
                    c.bosTokenIds(), c.eosTokenIds(), raw);
        }
        return new RotatedModelSource(source, ModelRotation.of(dims, seed, online), arch, shown, untie);
    }

    public ModelRotation rotation() {
        return rotation;
    }

    /** Whether the source was tied and this view unties it. */
    public boolean untied() {
        return untie;
    }

    @Override
    public Path path() {
        return source.path();
    }

    @Override
    public HfConfig config() {
        return config;
    }

    @Override
    public Optional<Path> tokenizerFile() {
        return source.tokenizerFile();
    }

    @Override
    public String tokenizerJson() {
        return source.tokenizerJson();
    }

    @Override
    public List<String> tensorNames() {
        if (!untie) return source.tensorNames();
        List<String> names = new ArrayList<>(source.tensorNames());
        names.add(LM_HEAD);
        return names;
    }

    @Override
    public boolean contains(String name) {
        return source.contains(name) || (untie && name.equals(LM_HEAD));
    }

    @Override
    public long[] shape(String name) {
        return source.shape(sourceName(name));
    }

    @Override
    public void readRows(String name, long first, int count, float[] out, int offset) {
        Optional<Slot> parsed = arch.parseHf(name);
        if (parsed.isEmpty() || !contains(name)) {
            source.readRows(name, first, count, out, offset);
            return;
        }
        Slot slot = parsed.get();
        int cols = rowLength(name);
        if (ModelRotation.rowLocal(slot)) {
            source.readRows(sourceName(name), first, count, out, offset);
            float[] rows = offset == 0 && out.length == (long) count * cols ? out : new float[count * cols];
            if (rows != out) System.arraycopy(out, offset, rows, 0, count * cols);
            rotation.rotate(slot, rows, count, cols, gamma(slot));
            if (rows != out) System.arraycopy(rows, 0, out, offset, count * cols);
            return;
        }
        float[] whole = whole(name, slot);
        long rows = rowCount(name);
        if (first < 0 || count < 0 || first + count > rows) {
            throw new IllegalArgumentException(name + ": rows [" + first + ", " + (first + count) + ") of " + rows);
        }
        System.arraycopy(whole, Math.toIntExact(first * cols), out, offset, count * cols);
    }

    private float[] whole(String name, Slot slot) {
        Whole w = last;
        if (w != null && w.name.equals(name)) return w.values;
        float[] values = source.readAll(name);
        int cols = rowLength(name);
        rotation.rotate(slot, values, values.length / cols, cols, gamma(slot));
        last = new Whole(name, values);
        return values;
    }

    private float[] gamma(Slot slot) {
        return ModelRotation.foldedNorm(slot).map(n -> source.readAll(n.hfName())).orElse(null);
    }

    private String sourceName(String name) {
        return untie && name.equals(LM_HEAD) && !source.contains(LM_HEAD) ? embedName : name;
    }

    @Override
    public void releasePages() {
        source.releasePages();
    }

    /** Closes nothing: the source belongs to the caller. */
    @Override
    public void close() {
        last = null;
    }
}
