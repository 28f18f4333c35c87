package dev.lowbit.ptq.smooth;

import dev.lowbit.io.arch.ModelArchitecture;
import dev.lowbit.io.arch.TensorRole;
import dev.lowbit.ptq.awq.AwqScaleSearch;
import dev.lowbit.ptq.transform.LayerContext;
import dev.lowbit.ptq.transform.TensorSet;
import java.util.ArrayList;
import java.util.List;

/** A balance mapping of the architecture table applied to one layer's tensors: shapes, names, and the scale fold. */
public final class Balances {
    private Balances() {}

    /** {@code model.layers.N.input_layernorm -> q_proj,k_proj,v_proj}. */
    public static String label(LayerContext ctx, ModelArchitecture.Balance b) {
        String from = ctx.name(b.from(), false).replaceAll("\\.weight$", "");
        List<String> to = new ArrayList<>();
        for (TensorRole r : b.to()) to.add(r.name().toLowerCase(java.util.Locale.ROOT) + "_proj");
        return from + " -> " + String.join(",", to);
    }

    /**
     * Why the mapping cannot be folded here (null if it can): a Linear producer's output rows must equal the balanced
     * Linears' inputs (v_proj → o_proj fails under grouped-query attention), and every balanced Linear must be selected.
     */
    public static String skipReason(LayerContext ctx, ModelArchitecture.Balance b) {
        TensorSet t = ctx.tensors();
        for (TensorRole r : b.to()) if (!ctx.selected(r)) return r.name().toLowerCase(java.util.Locale.ROOT) + "_proj is not selected";
        long cols = t.shape(ctx.name(b.to().getFirst(), false))[1];
        long rows = t.shape(ctx.name(b.from(), false))[0];
        if (rows != cols) {
            return b.from().name().toLowerCase(java.util.Locale.ROOT) + " has " + rows + " output channels but "
                    + b.to().getFirst().name().toLowerCase(java.util.Locale.ROOT) + "_proj reads " + cols + " (grouped-query attention)";
        }
        return null;
    }

    /** The balanced Linears' current weights (live arrays: read only). */
    public static List<AwqScaleSearch.Balanced> balanced(LayerContext ctx, ModelArchitecture.Balance b) {
        List<AwqScaleSearch.Balanced> out = new ArrayList<>();
        for (TensorRole r : b.to()) {
            String n = ctx.name(r, false);
            long[] shape = ctx.tensors().shape(n);
            out.add(new AwqScaleSearch.Balanced(n, ctx.tensors().read(n), (int) shape[0], (int) shape[1]));
        }
        return out;
    }

    /** Producer (norm γ and bias, or a Linear's rows and bias) ÷ s, balanced Linears' columns × s, in {@code t}. */
    public static void fold(LayerContext ctx, TensorSet t, ModelArchitecture.Balance b, float[] s) {
        String from = ctx.name(b.from(), false);
        String fromBias = ctx.name(b.from(), true);
        float[] bias = t.contains(fromBias) ? t.edit(fromBias) : null;
        long[] shape = t.shape(from);
        if (shape.length == 1) {
            ScaleFold.divideNorm(t.edit(from), bias, s);
        } else {
            ScaleFold.divideRows(t.edit(from), (int) shape[0], (int) shape[1], bias, s);
        }
        for (TensorRole r : b.to()) {
            String n = ctx.name(r, false);
            long[] ws = t.shape(n);
            ScaleFold.multiplyColumns(t.edit(n), (int) ws[0], (int) ws[1], s);
        }
    }
}
