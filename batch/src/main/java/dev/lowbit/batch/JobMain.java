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
        ProcessHandle.current().parent().ifPresent(JobMain::watch);
        System.exit(Main.execute(args));
    }

    /**
     * Polls the runner once a second (its {@code onExit()} is not dependable for a process that is not our child once
     * it is killed and we are re-parented); {@code isAlive} also checks the start time, so a reused pid is not taken
     * for the runner.
     */
    private static void watch(ProcessHandle parent) {
        Thread t = new Thread(() -> {
            while (parent.isAlive()) {
                try {
                    Thread.sleep(1000);
                } catch (InterruptedException e) {
                    return;
                }
            }
            System.err.println("lowbit: the batch runner (pid " + parent.pid() + ") is gone; stopping this job");
            System.exit(143);
        }, "lowbit-runner-watch");
        t.setDaemon(true);
        t.start();
    }
}
