package dev.lowbit.cli;

import dev.lowbit.calib.eval.Evaluator;
import java.util.Locale;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * Evaluation progress on stderr: a bar (windows i/N, elapsed / ETA, tokens/s) when a person is watching (a terminal);
 * otherwise one plain line per batch of windows with the same figures; nothing when quiet.
 */
final class ConsoleProgress implements Evaluator.Progress, AutoCloseable {
    private final String task;
    private final boolean quiet;
    private final boolean terminal;
    private final int tokensPerWindow;
    private ProgressBar bar;
    private int total;
    private int done;
    private long start;

    private ConsoleProgress(String task, boolean quiet, boolean terminal, int tokensPerWindow) {
        this.task = task;
        this.quiet = quiet;
        this.terminal = terminal;
        this.tokensPerWindow = tokensPerWindow;
    }

    /** A bar on a terminal, plain lines elsewhere, nothing when {@code quiet}; windows of {@code ctx} tokens. */
    static ConsoleProgress forTask(String task, boolean quiet, int ctx) {
        return new ConsoleProgress(task, quiet, interactive(), ctx);
    }

    /**
     * Whether a person watches stderr. The launcher pipes stderr through a filter and says whether it was a terminal
     * in {@code lowbit.stderr.tty}; without the launcher, ask the console.
     */
    static boolean interactive() {
        String p = System.getProperty("lowbit.stderr.tty");
        if (p != null && !p.isEmpty()) return Boolean.parseBoolean(p);
        return System.console() != null && System.console().isTerminal();
    }

    @Override
    public void start(int windows) {
        if (quiet) return;
        total = windows;
        done = 0;
        start = System.nanoTime();
        if (!terminal) return;
        bar = new ProgressBarBuilder().setTaskName(task).setInitialMax(windows).setUnit(" windows", 1)
                .setStyle(ProgressBarStyle.ASCII).setConsumer(new me.tongfei.progressbar.ConsoleProgressBarConsumer(System.err))
                .build();
    }

    @Override
    public void advance(int n) {
        if (quiet) return;
        done += n;
        double seconds = (System.nanoTime() - start) / 1e9;
        String rate = String.format(Locale.ROOT, "%,.0f tokens/s", (double) done * tokensPerWindow / Math.max(seconds, 1e-9));
        if (bar != null) {
            bar.stepBy(n);
            bar.setExtraMessage(rate);
            return;
        }
        System.err.printf(Locale.ROOT, "lowbit: %s %d/%d windows (%s elapsed, %s, ETA %s)%n", task, done, total,
                LayerProgress.clock(seconds), rate, LayerProgress.clock(seconds / done * (total - done)));
    }

    @Override
    public void close() {
        if (bar != null) bar.close();
    }
}
