package dev.lowbit.batch;

import dev.lowbit.cli.Main;

/**
 * The child process of one job step: {@code lowbit quantize ...} or {@code lowbit evaluate ...}, exactly as a user runs
 * it, which stops (through the shutdown hooks, so {@code SafeOutput} removes its temp data) as soon as the batch
 * runner that started it is gone, even after a {@code kill -9} of the runner.
 */
public final class JobMain {
    private JobMain() {}

    public static void main(String[] args) {
        ProcessHandle.current().parent().ifPresent(parent -> parent.onExit().thenRun(() -> {
            System.err.println("lowbit: the batch runner (pid " + parent.pid() + ") is gone; stopping this job");
            System.exit(143);
        }));
        System.exit(Main.execute(args));
    }
}
