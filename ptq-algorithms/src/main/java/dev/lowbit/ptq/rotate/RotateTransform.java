package dev.lowbit.ptq.rotate;

import dev.lowbit.io.arch.ModelArchitecture;
import dev.lowbit.io.arch.ModelArchitecture.Slot;
import dev.lowbit.io.arch.TensorRole;
import dev.lowbit.ptq.transform.LayerContext;
import dev.lowbit.ptq.transform.ModelContext;
import dev.lowbit.ptq.transform.TensorSet;
import dev.lowbit.ptq.transform.WeightTransform;
import java.util.ArrayList;
import java.util.List;

/**
 * The recipe step {@code rotate}: {@link ModelRotation}'s R1 + R2 with norm folding as a {@link WeightTransform}, so a
 * quantizer in the same recipe quantizes (and GPTQ calibrates) the rotated model. Data-free.
 * <ul>
 *   <li>model part: embedding ← E·R1; lm_head ← W·diag(γ_final)·R1 (for a tied model a new {@code lm_head.weight} from
 *       the embedding, so the output is untied); final norm ← 1;</li>
 *   <li>layer part: q, k, v, gate, up ← W·diag(γ)·R1 (v also R2ᵀ per head), o, down ← R1ᵀ·W (o also ·R2 per head),
 *       v bias ·R2, o/down biases ·R1; the layer's norms ← 1 (after their weights were folded).</li>
 * </ul>
 * The same arithmetic as {@link RotatedModelSource}, whose output is checked for invariance.
 */
public final class RotateTransform implements WeightTransform {
    private final long seed;
    private ModelRotation rotation;

    /** @param seed the rotation's seed (R1's signs; R2's per layer derive from it) */
    public RotateTransform(long seed) {
        this.seed = seed;
    }

    @Override
    public String name() {
        return "rotate";
    }

    /** The rotation of this run (after {@link #transformModel}). */
    public ModelRotation rotation() {
        return rotation;
    }

    @Override
    public void transformModel(ModelContext model) {
        rotation = ModelRotation.of(model.dims(), seed);
        TensorSet g = model.globals();
        String embed = new Slot(TensorRole.EMBED, -1, "weight").hfName();
        String head = new Slot(TensorRole.LM_HEAD, -1, "weight").hfName();
        String norm = new Slot(TensorRole.FINAL_NORM, -1, "weight").hfName();
        long[] shape = g.shape(embed);
        int rows = Math.toIntExact(shape[0]), cols = Math.toIntExact(shape[1]);
        float[] gamma = g.read(norm).clone();
        if (model.tied() || !g.contains(head)) {
            float[] w = g.read(embed).clone();
            rotation.rotate(new Slot(TensorRole.LM_HEAD, -1, "weight"), w, rows, cols, gamma);
            g.put(head, shape, w);
        } else {
            long[] hs = g.shape(head);
            rotation.rotate(new Slot(TensorRole.LM_HEAD, -1, "weight"), g.edit(head), Math.toIntExact(hs[0]), cols, gamma);
        }
        rotation.rotate(new Slot(TensorRole.EMBED, -1, "weight"), g.edit(embed), rows, cols, null);
        rotation.rotate(new Slot(TensorRole.FINAL_NORM, -1, "weight"), g.edit(norm), 1, cols, null);
    }

    @Override
    public void transformLayer(LayerContext layer) {
        TensorSet t = layer.tensors();
        ModelArchitecture arch = layer.architecture();
        List<Slot> norms = new ArrayList<>();
        for (String name : t.names()) {
            Slot slot = arch.parseHf(name).orElseThrow(() -> new IllegalArgumentException("rotate: unknown tensor '" + name + "'"));
            if (slot.role().kind() == TensorRole.Kind.NORM) {
                norms.add(slot);
                continue;
            }
            long[] shape = t.shape(name);
            int cols = Math.toIntExact(shape[shape.length - 1]);
            int rows = t.read(name).length / cols;
            float[] gamma = ModelRotation.foldedNorm(slot).map(n -> t.read(n.hfName())).orElse(null);
            rotation.rotate(slot, t.edit(name), rows, cols, gamma);
        }
        // norms last: their weights were folded into the Linears above
        for (Slot n : norms) {
            if (n.role() == TensorRole.Q_NORM || n.role() == TensorRole.K_NORM) continue;
            float[] v = t.edit(n.hfName());
            rotation.rotate(n, v, 1, v.length, null);
        }
    }
}
