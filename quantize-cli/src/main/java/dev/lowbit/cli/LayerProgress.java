package dev.lowbit.cli;

import dev.lowbit.pipeline.quantize.QuantizePipeline;
import java.util.Locale;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * Progress of a layer-by-layer command on stderr: on a terminal a bar per phase (layers i/N, elapsed and ETA, tokens/s
 * of a calibrated run); elsewhere (CI, pipes, files) one plain line per layer with the same figures; nothing with
 * {@code --quiet}. Other status lines (notices) print as lines in every mode but quiet.
 */
final class LayerProgress implements QuantizePipeline.Listener, AutoCloseable {
    private final boolean quiet;
    private final boolean terminal;
    private final String task;
    private ProgressBar bar;
    /** When the current phase began (the command's start for the first), and the layers done before it (a resume). */
    private long start = System.nanoTime();
    private int base = -1;
    private long tokens;

    private LayerProgress(String task, boolean quiet, boolean terminal) {
        this.task = task;
        this.quiet = quiet;
        this.terminal = terminal;
    }

    static LayerProgress of(String task, boolean quiet) {
        return new LayerProgress(task, quiet, ConsoleProgress.interactive());
    }

    @Override
    public void status(String message) {
        if (quiet) return;
        if (bar != null) { // a notice between layers: on its own line, the bar redrawn after it
            System.err.print("\r\033[K");
            System.err.println("lowbit: " + message);
            bar.refresh();
        } else {
            System.err.println("lowbit: " + message);
        }
    }

    @Override
    public void layer(int done, int total, String what, long tokensThisLayer) {
        if (quiet) return;
        long now = System.nanoTime();
        if (base < 0) { // a new phase: the layers before this one were done earlier (a resumed run) or not at all
            base = done - 1;
            tokens = 0;
            if (terminal) {
                if (bar != null) bar.close();
                bar = new ProgressBarBuilder().setTaskName(task).setInitialMax(total).setUnit(" layers", 1)
                        .setStyle(ProgressBarStyle.ASCII).setConsumer(new me.tongfei.progressbar.ConsoleProgressBarConsumer(System.err))
                        .continuousUpdate().build();
                bar.stepTo(base);
            }
        }
        tokens += tokensThisLayer;
        double seconds = (now - start) / 1e9;
        String rate = tokens > 0 ? String.format(Locale.ROOT, ", %,.0f tokens/s", tokens / Math.max(seconds, 1e-3)) : "";
        double eta = seconds / (done - base) * (total - done);
        if (bar != null) {
            bar.stepTo(done);
            bar.setExtraMessage(what + rate);
        } else {
            System.err.printf(Locale.ROOT, "lowbit: layer %d/%d %s (%s elapsed%s, ETA %s)%n", done, total, what, clock(seconds),
                    rate, clock(eta));
        }
        if (done == total) { // the phase is over; a next one starts now
            if (bar != null) bar.close();
            bar = null;
            base = -1;
            start = now;
        }
    }

    /** 75 → "1:15", 3725 → "1:02:05". */
    static String clock(double seconds) {
        long s = Math.round(seconds);
        return s >= 3600 ? String.format(Locale.ROOT, "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60)
                : String.format(Locale.ROOT, "%d:%02d", s / 60, s % 60);
    }

    @Override
    public void close() {
        if (bar != null) bar.close();
        bar = null;
    }
}
