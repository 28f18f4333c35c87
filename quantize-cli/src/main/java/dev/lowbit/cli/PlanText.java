package dev.lowbit.cli;

import dev.lowbit.pipeline.plan.PlanPipeline;
import java.util.Locale;
import java.util.Map;

/** The plan report for a terminal: the table of choices, the totals, the solver's proof. */
final class PlanText {
    private PlanText() {}

    static String render(PlanPipeline.Report r) {
        StringBuilder s = new StringBuilder();
        s.append(String.format(Locale.ROOT, "%-28s %-7s %10s %14s%n", "tensor", "type", "bytes", "predicted"));
        for (PlanPipeline.Choice c : r.choices()) {
            s.append(String.format(Locale.ROOT, "%-28s %-7s %10d %14.6g%n", c.item(), c.type(), c.bytes(), c.predicted()));
        }
        var solved = r.solved();
        s.append(String.format(Locale.ROOT, "planned %d bytes of tensor data (budget %d, feasible %d … %d), %.4f bits per weight%n",
                r.plannedBytes(), r.budgetBytes(), r.minBytes(), r.maxBytes(), r.bitsPerWeight()));
        boolean kl = r.json().path("sensitivities").path("kl_windows").asInt(0) > 0;
        s.append(String.format(Locale.ROOT, "predicted %s = %.6g; LP (Lagrangian) bound %.6g; CP-SAT %s, gap %.3g, %.3f s%n",
                kl ? "Σ KL(fp || one Linear quantized)" : "Σ tr(dW H dW^T)/n", r.predicted(), solved.lpBound(), solved.optimal() ? "proved optimal" : "NOT proved optimal", solved.gap(), solved.seconds()));
        for (Map.Entry<String, long[]> m : r.mixes().entrySet()) {
            s.append(String.format(Locale.ROOT, "  llama.cpp %-7s %10d bytes, predicted %.6g%n", m.getKey(), m.getValue()[0],
                    Double.longBitsToDouble(m.getValue()[1])));
        }
        s.append(String.format(Locale.ROOT, "sensitivity pass %.1f s, planning %.1f s%n", r.sensitivitySeconds(), r.planSeconds()));
        return s.toString();
    }

    static String render(dev.lowbit.pipeline.plan.GptqPlan.Report r) {
        StringBuilder s = new StringBuilder();
        s.append(String.format(Locale.ROOT, "%-44s %-7s %10s %14s%n", "module", "grid", "bytes", "predicted"));
        for (dev.lowbit.pipeline.plan.GptqPlan.Choice c : r.choices()) {
            s.append(String.format(Locale.ROOT, "%-44s %-7s %10d %14.6g%n", c.module(),
                    "w" + c.scheme().bits() + (c.scheme().groupSize() == -1 ? "" : "g" + c.scheme().groupSize()), c.bytes(), c.predicted()));
        }
        var solved = r.solved();
        s.append(String.format(Locale.ROOT, "planned %d bytes of GPTQ tensors (budget %d), %.4f bits per weight; predicted %.6g (%s)%n",
                r.plannedBytes(), r.budgetBytes(), r.bitsPerWeight(), r.predicted(), r.json().path("sensitivity").asText()));
        s.append(String.format(Locale.ROOT, "CP-SAT %s, gap %.3g, %.3f s; LP bound %.6g%n",
                solved.optimal() ? "proved optimal" : "NOT proved optimal", solved.gap(), solved.seconds(), solved.lpBound()));
        for (dev.lowbit.pipeline.plan.GptqPlan.Uniform u : r.uniform()) {
            s.append(String.format(Locale.ROOT, "  uniform %-7s %10d bytes, %.4f bits per weight, predicted %.6g%s%n", u.label(), u.bytes(),
                    u.bitsPerWeight(), u.predicted(), u.fits() ? "" : "  (over budget)"));
        }
        s.append(String.format(Locale.ROOT, "sensitivity pass %.1f s%n", r.sensitivitySeconds()));
        return s.toString();
    }
}
