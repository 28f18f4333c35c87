package dev.lowbit.bench;

import dev.lowbit.io.quant.QuantScheme;
import dev.lowbit.io.safetensors.ShardedSafetensors;
import dev.lowbit.io.tensor.Tensor;
import dev.lowbit.io.tensor.TensorSource;
import dev.lowbit.ptq.rtn.Rtn;
import dev.lowbit.ptq.ternary.Ptqtp;
import dev.lowbit.ptq.ternary.TritPlaneFit;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * How low can the weight error of two trit-planes go? Per decoder Linear of a checkpoint, on the same randomly drawn
 * row-groups of 128 weights, the relative error ‖W − Ŵ‖² / ‖W‖² of
 * <ul>
 *   <li>RTN w4 g128 and w3 g128 (asymmetric min/max, {@link Rtn}: the README's RTN rows),</li>
 *   <li>PTQTP data-free with the progressive and the multi start ({@link Ptqtp}, at most 50 alternations),</li>
 *   <li>the dense global search of the codebook {0, ±α₁, ±α₂, ±(α₁ ± α₂)} ({@link TritPlaneFit#denseSearch}),</li>
 *   <li>per group the best of the three trit-plane fits.</li>
 * </ul>
 * Every method here is per row-group, so a sample of groups measures each one exactly as on the whole tensor. The
 * data-free PTQTP fit minimises exactly this error, so where even the best of the three stays well above RTN w4's, no
 * data-free fit of the format is likely to reach RTN w4's perplexity.
 *
 * <pre>
 *   java -cp benchmarks.jar dev.lowbit.bench.TritErrorTable MODEL_DIR [GROUPS_PER_LINEAR=512] [SEED=0]
 * </pre>
 * (scripts/trit-error-table.sh). GROUPS_PER_LINEAR 0 takes every group (slow: the dense search is ~40× the multi fit).
 */
public final class TritErrorTable {
    private TritErrorTable() {}

    static final int GROUP = 128;

    /** Σ (w − ŵ)² of each group (rows of {@code GROUP}). */
    private static double[] groupLoss(float[] w, float[] deq) {
        double[] l = new double[w.length / GROUP];
        for (int i = 0; i < w.length; i++) {
            double e = w[i] - (double) deq[i];
            l[i / GROUP] += e * e;
        }
        return l;
    }

    private static double sum(double[] a) {
        double s = 0;
        for (double x : a) s += x;
        return s;
    }

    /** Errors of one Linear's sampled groups: methods in {@link #METHODS} order, then Σw². */
    record Row(String name, long rows, long cols, int groups, double[] loss, double norm) {}

    static final String[] METHODS = {"RTN w4 g128", "RTN w3 g128", "PTQTP progressive", "PTQTP multi", "dense search",
            "best trit fit"};
    static final double[] SECONDS = new double[METHODS.length - 1];

    static Row measure(Tensor t, int sample, long seed) {
        int rows = (int) t.shape().dim(0), cols = (int) t.shape().dim(1);
        if (cols % GROUP != 0) throw new IllegalArgumentException(t.name() + ": " + cols + " columns are not groups of " + GROUP);
        float[] all = t.toFloatArray();
        int total = rows * (cols / GROUP);
        int n = sample <= 0 ? total : Math.min(sample, total);
        // a partial Fisher–Yates shuffle of the group indices: n distinct groups, seeded
        int[] idx = new int[total];
        for (int i = 0; i < total; i++) idx[i] = i;
        SplittableRandom rnd = new SplittableRandom(seed);
        for (int i = 0; i < n; i++) {
            int j = i + rnd.nextInt(total - i);
            int x = idx[i];
            idx[i] = idx[j];
            idx[j] = x;
        }
        float[] w = new float[n * GROUP];
        for (int i = 0; i < n; i++) System.arraycopy(all, idx[i] * GROUP, w, i * GROUP, GROUP);
        double norm = 0;
        for (float x : w) norm += (double) x * x;

        double[][] per = new double[METHODS.length - 1][];
        long t0 = System.nanoTime();
        per[0] = groupLoss(w, Rtn.rtn(t.name(), w, n, GROUP, new QuantScheme(4, GROUP, false)).dequantize());
        long t1 = System.nanoTime();
        per[1] = groupLoss(w, Rtn.rtn(t.name(), w, n, GROUP, new QuantScheme(3, GROUP, false)).dequantize());
        long t2 = System.nanoTime();
        QuantScheme trit = Ptqtp.scheme(GROUP, 2, 1.6);
        per[2] = groupLoss(w, Ptqtp.quantize(t.name(), w, n, GROUP, trit, Ptqtp.DEFAULT_ITERATIONS,
                TritPlaneFit.Start.PROGRESSIVE, null).tensor().dequantize());
        long t3 = System.nanoTime();
        per[3] = groupLoss(w, Ptqtp.quantize(t.name(), w, n, GROUP, trit, Ptqtp.DEFAULT_ITERATIONS,
                TritPlaneFit.Start.MULTI, null).tensor().dequantize());
        long t4 = System.nanoTime();
        byte[] t1s = new byte[w.length], t2s = new byte[w.length];
        per[4] = new double[n];
        for (int i = 0; i < n; i++) per[4][i] = TritPlaneFit.denseSearch(w, i * GROUP, GROUP, t1s, t2s).loss();
        long t5 = System.nanoTime();
        long[] ts = {t0, t1, t2, t3, t4, t5};
        for (int m = 0; m < SECONDS.length; m++) SECONDS[m] += (ts[m + 1] - ts[m]) / 1e9;

        double[] loss = new double[METHODS.length];
        for (int m = 0; m < per.length; m++) loss[m] = sum(per[m]);
        for (int i = 0; i < n; i++) loss[5] += Math.min(per[2][i], Math.min(per[3][i], per[4][i]));
        return new Row(t.name(), rows, cols, n, loss, norm);
    }

    private static String fmt(double x) {
        return String.format(Locale.ROOT, "%.5f", x);
    }

    public static void main(String[] args) {
        if (args.length < 1 || args.length > 3) {
            System.err.println("usage: TritErrorTable MODEL_DIR [GROUPS_PER_LINEAR=512] [SEED=0]");
            System.exit(2);
        }
        Path model = Path.of(args[0]);
        int sample = args.length > 1 ? Integer.parseInt(args[1]) : 512;
        long seed = args.length > 2 ? Long.parseLong(args[2]) : 0;
        List<Row> table = new ArrayList<>();
        try (TensorSource src = ShardedSafetensors.open(model)) {
            List<String> names = new ArrayList<>();
            for (String name : src.names()) {
                if (name.startsWith("model.layers.") && name.endsWith("_proj.weight")) names.add(name);
            }
            // layer order, then name
            names.sort((a, b) -> {
                int la = Integer.parseInt(a.split("\\.")[2]), lb = Integer.parseInt(b.split("\\.")[2]);
                return la != lb ? Integer.compare(la, lb) : a.compareTo(b);
            });
            for (int i = 0; i < names.size(); i++) {
                // one seed per Linear, derived from the run's seed and the Linear's position
                table.add(measure(src.tensor(names.get(i)), sample, seed * 1_000_003L + i));
            }
        }
        StringBuilder head = new StringBuilder("| Linear | shape | groups |");
        StringBuilder rule = new StringBuilder("| --- | --- | --- |");
        for (String m : METHODS) {
            head.append(' ').append(m).append(" |");
            rule.append(" --- |");
        }
        head.append(" best trit / RTN w4 |");
        rule.append(" --- |");
        System.out.println(head);
        System.out.println(rule);
        double[] loss = new double[METHODS.length];
        double norm = 0;
        long groups = 0;
        for (Row r : table) {
            StringBuilder line = new StringBuilder("| " + r.name().replace("model.layers.", "").replace(".weight", "")
                    + " | " + r.rows() + " × " + r.cols() + " | " + r.groups() + " |");
            for (int m = 0; m < METHODS.length; m++) {
                line.append(' ').append(fmt(r.loss()[m] / r.norm())).append(" |");
                loss[m] += r.loss()[m];
            }
            line.append(String.format(Locale.ROOT, " %.2f× |", r.loss()[5] / r.loss()[0]));
            norm += r.norm();
            groups += r.groups();
            System.out.println(line);
        }
        StringBuilder line = new StringBuilder("| all " + table.size() + " Linears | | " + groups + " |");
        for (int m = 0; m < METHODS.length; m++) line.append(" **").append(fmt(loss[m] / norm)).append("** |");
        line.append(String.format(Locale.ROOT, " **%.2f×** |", loss[5] / loss[0]));
        System.out.println(line);
        StringBuilder time = new StringBuilder("seconds (one thread):");
        for (int m = 0; m < SECONDS.length; m++) time.append(String.format(Locale.ROOT, " %s %.1f;", METHODS[m], SECONDS[m]));
        System.out.println(time);
    }
}
