package dev.lowbit.batch;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Consumer;

/** Runs the jobs on this machine, {@code parallel} at once (each a child JVM), rows in the sweep's order. */
final class LocalRunner {
    private LocalRunner() {}

    static List<String> run(List<JobSpec> jobs, Evaluation eval, RunConfig config, int parallel, Consumer<String> done) {
        ExecutorService pool = Executors.newFixedThreadPool(parallel, r -> {
            Thread t = new Thread(r, "lowbit-batch-job");
            t.setDaemon(true);
            return t;
        });
        try {
            List<Future<String>> futures = new ArrayList<>();
            for (JobSpec j : jobs) {
                futures.add(pool.submit(() -> {
                    String row = JobRunner.run(j, eval, config);
                    done.accept(row);
                    return row;
                }));
            }
            List<String> rows = new ArrayList<>();
            for (Future<String> f : futures) {
                try {
                    rows.add(f.get());
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException("interrupted", e);
                } catch (ExecutionException e) {
                    throw new IllegalStateException(e.getCause());
                }
            }
            return rows;
        } finally {
            pool.shutdownNow();
        }
    }
}
