package dev.lowbit.batch;

import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.List;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.api.java.function.Function;

/**
 * Runs the jobs as Apache Spark tasks, one task per job: {@code local[N]} in this JVM (N tasks at once), or a
 * cluster's master URL, whose executors need lowbit and the model and data files at the same paths (a shared file
 * system) and DIR on that file system too. Each task runs {@link JobRunner} exactly as the local runner does, so the
 * artifacts are the same bytes; rows come back to the driver in the sweep's order.
 */
final class SparkRunner {
    private SparkRunner() {}

    static List<String> run(List<JobSpec> jobs, Evaluation eval, RunConfig config, String master) {
        SparkConf conf = new SparkConf().setMaster(master).setAppName("lowbit batch")
                .set("spark.ui.enabled", "false")
                .set("spark.task.maxFailures", "1"); // a job's failure is a row, not a task to retry
        if (master.startsWith("local")) {
            conf.set("spark.driver.host", "127.0.0.1").set("spark.driver.bindAddress", "127.0.0.1");
        } else {
            conf.setJars(new String[] {ownJar()});
        }
        try (JavaSparkContext sc = new JavaSparkContext(conf)) {
            sc.setLogLevel("WARN");
            return sc.parallelize(jobs, jobs.size()).map(new RunJob(eval, config)).collect();
        }
    }

    /** The task: one job. A named class (not a lambda) so what Spark serialises is plain. */
    private record RunJob(Evaluation eval, RunConfig config) implements Function<JobSpec, String> {
        @Override
        public String call(JobSpec job) {
            String row = JobRunner.run(job, eval, config);
            // on local[N] this is the console; on a cluster, the executor's log
            System.err.println("lowbit: " + BatchCommand.summaryOf(row));
            return row;
        }
    }

    private static String ownJar() {
        try {
            return Path.of(SparkRunner.class.getProtectionDomain().getCodeSource().getLocation().toURI()).toString();
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }
}
