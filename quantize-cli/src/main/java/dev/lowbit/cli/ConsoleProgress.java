package dev.lowbit.cli;

import dev.lowbit.calib.eval.Evaluator;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/** A progress bar on stderr when a person is watching (a terminal), nothing otherwise. */
final class ConsoleProgress implements Evaluator.Progress, AutoCloseable {
    private final String task;
    private ProgressBar bar;

    private ConsoleProgress(String task) {
        this.task = task;
    }

    /** A bar when stdout/stderr are a terminal, else {@link Evaluator.Progress#NONE}-like silence. */
    static ConsoleProgress forTask(String task) {
        return new ConsoleProgress(interactive() ? task : null);
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
    public void start(int total) {
        if (task == null) return;
        bar = new ProgressBarBuilder().setTaskName(task).setInitialMax(total).setUnit(" windows", 1)
                .setStyle(ProgressBarStyle.ASCII).setConsumer(new me.tongfei.progressbar.ConsoleProgressBarConsumer(System.err))
                .build();
    }

    @Override
    public void advance(int n) {
        if (bar != null) bar.stepBy(n);
    }

    @Override
    public void close() {
        if (bar != null) bar.close();
    }
}
