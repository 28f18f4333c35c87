package dev.lowbit.pipeline.formats;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lowbit.calib.capture.LayerwiseCapture;
import dev.lowbit.calib.data.CalibrationSet;
import dev.lowbit.calib.model.Architecture;
import dev.lowbit.calib.model.Linear;
import dev.lowbit.calib.model.LinearInput;
import dev.lowbit.calib.model.LlamaRunner;
import dev.lowbit.calib.observe.EngineHessians;
import dev.lowbit.calib.observe.LinearObserver;
import dev.lowbit.calib.observe.ObservingHook;
import dev.lowbit.io.BadInputException;
import dev.lowbit.ptq.select.FormatChoice;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.function.Consumer;

/**
 * {@code lowbit formats}: INT vs FP per Linear. Runs the calibration windows through the unquantized model layer by
 * layer, takes each decoder Linear's input Hessian H = Σ x·xᵀ, rounds its weight to every candidate format
 * ({@link FormatChoice#defaults()}: INT4 g128 / g32, MXFP4, NVFP4 with and without Four Over Six) and reports the
 * layer-output error each leaves, Σ_r Δw_rᵀ H Δw_r, and which format a bits-per-weight budget picks for it. Nothing
 * is written.
 */
public final class FormatStudy {
    private FormatStudy() {}

    /** The study's outcome: candidates, one result per Linear (in model order), the budget. */
    public record Report(List<FormatChoice.Candidate> candidates, List<FormatChoice.Result> results, double budgetBits,
                         int windows) {

        public void print(PrintStream out) {
            out.printf(Locale.ROOT, "INT vs FP per Linear: output error Σ Δwᵀ H Δw on %d calibration windows, relative to %s; "
                    + "chosen = lowest error at ≤ %.3f bits per weight%n", windows, candidates.getFirst().name(), budgetBits);
            StringBuilder h = new StringBuilder(String.format(Locale.ROOT, "%-36s", "module (bits/weight →)"));
            for (FormatChoice.Candidate c : candidates) h.append(String.format(Locale.ROOT, " %14s", c.name()));
            out.println(h.append("  chosen"));
            StringBuilder b = new StringBuilder(String.format(Locale.ROOT, "%-36s", ""));
            for (FormatChoice.Candidate c : candidates) b.append(String.format(Locale.ROOT, " %14.3f", c.bitsPerWeight()));
            out.println(b);
            for (FormatChoice.Result r : results) {
                StringBuilder s = new StringBuilder(String.format(Locale.ROOT, "%-36s", r.module()));
                for (double e : r.errors()) s.append(String.format(Locale.ROOT, " %14.3f", e / r.errors()[0]));
                s.append("  ").append(r.chosen() < 0 ? "-" : candidates.get(r.chosen()).name());
                out.println(s);
            }
            out.println("chosen: " + String.join(", ", FormatChoice.summary(results, candidates)));
        }

        public String toJson() {
            ObjectMapper m = new ObjectMapper();
            ObjectNode o = m.createObjectNode();
            o.put("budget_bits_per_weight", budgetBits);
            o.put("calibration_windows", windows);
            ArrayNode cs = o.putArray("candidates");
            for (FormatChoice.Candidate c : candidates) cs.addObject().put("name", c.name()).put("scheme", c.scheme().toString()).put("bits_per_weight", c.bitsPerWeight());
            ArrayNode rs = o.putArray("linears");
            for (FormatChoice.Result r : results) {
                ObjectNode x = rs.addObject();
                x.put("module", r.module());
                ArrayNode e = x.putArray("output_error");
                for (double v : r.errors()) e.add(v);
                if (r.chosen() < 0) x.putNull("chosen");
                else x.put("chosen", candidates.get(r.chosen()).name());
            }
            return o.toString();
        }
    }

    public static Report run(Path model, Path calib, int samples, int seqlen, double budgetBits, int threads, Consumer<String> progress) {
        if (!Files.isDirectory(model)) throw new BadInputException(model, "lowbit formats reads a Hugging Face model directory");
        List<FormatChoice.Candidate> candidates = FormatChoice.defaults();
        double cheapest = candidates.stream().mapToDouble(FormatChoice.Candidate::bitsPerWeight).min().orElseThrow();
        if (!(budgetBits >= cheapest)) {
            throw new BadInputException("--budget", String.format(Locale.ROOT, "%.3f bits per weight fits no candidate (the cheapest takes %.3f)", budgetBits, cheapest));
        }
        int[][] windows = CalibrationSet.first(model, calib, seqlen, samples);
        List<FormatChoice.Result> results = new ArrayList<>();
        try (LlamaRunner runner = LlamaRunner.open(model, threads)) {
            Architecture arch = runner.config().architecture();
            LayerwiseCapture.run(runner, windows, 8, false, new LayerwiseCapture.Step() {
                EngineHessians hessians;

                @Override
                public List<LinearObserver> observers(int layer, Set<LinearInput> inputs) {
                    hessians = new EngineHessians();
                    return List.of(hessians);
                }

                @Override
                public void afterStage(int layer, Set<LinearInput> inputs, LlamaRunner r) {
                    for (Linear l : Linear.values()) {
                        String module = arch.linearName(layer, l);
                        long[] shape = r.linearShape(l);
                        int rows = Math.toIntExact(shape[0]), cols = Math.toIntExact(shape[1]);
                        double[] h = hessians.get(ObservingHook.key(arch, layer, l)).sum();
                        try {
                            results.add(FormatChoice.choose(module, r.linearWeight(layer, l), rows, cols, h, candidates, budgetBits));
                        } catch (IllegalArgumentException e) {
                            throw new BadInputException(module + ".weight", e.getMessage());
                        }
                    }
                    progress.accept("layer " + (layer + 1) + "/" + r.config().numLayers() + " compared");
                }
            });
        }
        return new Report(candidates, List.copyOf(results), budgetBits, windows.length);
    }
}
