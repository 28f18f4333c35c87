package dev.lowbit.batch;

import java.io.File;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;

/**
 * How a job's steps are started: a child JVM running {@link JobMain} with lowbit's class path. The same on the
 * driver and on Spark executors (where lowbit sits at the same path, on a shared file system).
 *
 * @param outDir    the sweep's output directory (absolute)
 * @param java      the {@code java} executable
 * @param classPath lowbit's class path (the batch module's jar and its libraries)
 * @param jvmFlags  flags for the child JVM (vector module, native access, DJL offline, heap)
 * @param threads   compute threads per job ({@code --threads} of quantize and evaluate)
 */
record RunConfig(String outDir, String java, String classPath, List<String> jvmFlags, int threads) implements Serializable {
    RunConfig {
        jvmFlags = List.copyOf(jvmFlags);
    }

    /** This JVM's java and class path (what the launcher gave it), with {@code heap} for each child. */
    static RunConfig current(String outDir, String heap, int threads) {
        String java = ProcessHandle.current().info().command().orElse(System.getProperty("java.home") + File.separator + "bin" + File.separator + "java");
        List<String> flags = new ArrayList<>(List.of("--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
                "--sun-misc-unsafe-memory-access=allow", "-XX:+UseParallelGC", "-Dai.djl.offline=true"));
        if (heap != null) flags.add("-Xmx" + heap);
        String shared = System.getProperty(dev.lowbit.io.SharedData.PROPERTY);
        if (shared != null) flags.add("-D" + dev.lowbit.io.SharedData.PROPERTY + "=" + shared);
        return new RunConfig(outDir, java, System.getProperty("java.class.path"), flags, threads);
    }

    List<String> command(List<String> args) {
        List<String> cmd = new ArrayList<>();
        cmd.add(java);
        cmd.addAll(jvmFlags);
        cmd.add("-cp");
        cmd.add(classPath);
        cmd.add(JobMain.class.getName());
        cmd.addAll(args);
        return cmd;
    }
}
