package dev.lowbit.cli;

import dev.lowbit.io.BadInputException;
import dev.lowbit.io.TerminalText;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** Entry point: {@code lowbit <command> ...}. Commands parse, call one pipeline method and print a report. */
@Command(name = "lowbit",
        mixinStandardHelpOptions = true,
        versionProvider = Main.Version.class,
        description = {
            "Post-training quantization for the JVM: load a checkpoint, calibrate, quantize, write artifacts that "
                    + "llama.cpp / transformers / vLLM / ONNX Runtime load, and measure what was lost.",
            "",
            "lowbit batch SWEEP -o DIR: sweeps of quantize + evaluate jobs, locally or on Apache Spark (see lowbit batch --help).",
            "",
            "Exit codes: 0 ok, 1 internal failure, 2 bad input or usage."
        },
        subcommands = {CommandLine.HelpCommand.class})
public final class Main implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    public static void main(String[] args) {
        System.exit(execute(args));
    }

    /** Runs the CLI and returns the exit code (tests call this). */
    public static int execute(String... args) {
        CommandLine cl = new CommandLine(new Main());
        for (Object sub : Commands.all()) cl.addSubcommand(sub);
        helpWidth(cl, System.getenv("COLUMNS"));
        boolean verbose = java.util.Arrays.asList(args).contains("--verbose");
        // Every message may carry text from a file (tensor names, metadata, paths): escaped, so it stays one line
        // and cannot drive the terminal.
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            if (ex instanceof BadInputException b) {
                error(b.userMessage());
                if (verbose) ex.printStackTrace();
                return 2;
            }
            if (ex instanceof UsageException u) {
                error(u.getMessage());
                return 2;
            }
            if (ex instanceof ResultException r) {
                error(r.getMessage());
                return 1;
            }
            error("internal error: " + ex);
            if (verbose) ex.printStackTrace();
            else System.err.println("lowbit: run again with --verbose for the stack trace");
            return 1;
        });
        cl.setParameterExceptionHandler((ex, a) -> {
            error(ex.getMessage());
            System.err.println("lowbit: see '" + ex.getCommandLine().getCommandSpec().qualifiedName() + " --help'");
            return 2;
        });
        try {
            return cl.execute(args);
        } catch (OutOfMemoryError e) {
            error(outOfMemory(e));
            return 1;
        }
    }

    private static void error(String message) {
        System.err.println("lowbit: " + TerminalText.escape(message));
    }

    /** One line for an exhausted heap or direct-memory pool: what was full, its limit, and what helps. */
    static String outOfMemory(OutOfMemoryError e) {
        long max = Runtime.getRuntime().maxMemory();
        return String.format(java.util.Locale.ROOT, "out of memory (%s; the JVM may use %.1f GiB of heap): lower --batch or "
                + "--ctx (evaluate), --calib-samples or --calib-seqlen (quantize), or give the JVM more with "
                + "LOWBIT_JAVA_OPTS=-Xmx<size>", e.getMessage() == null ? "no detail" : e.getMessage(), max / (double) (1L << 30));
    }

    /** A run that finished but whose result is not usable (a non-finite perplexity): exit code 1 with one line. */
    public static final class ResultException extends RuntimeException {
        public ResultException(String message) {
            super(message);
        }
    }

    /**
     * Usage help wraps at the terminal's width: {@code COLUMNS} when the environment has it (so
     * {@code COLUMNS=80 lowbit quantize --help | less} wraps at 80), else the width picocli detects, else 80. Option
     * descriptions are single paragraphs that picocli wraps; only examples carry line breaks.
     */
    static void helpWidth(CommandLine cl, String columns) {
        int width = 0;
        if (columns != null && columns.matches("\\d{1,4}")) width = Integer.parseInt(columns);
        if (width >= 55) {
            cl.setUsageHelpAutoWidth(false);
            cl.setUsageHelpWidth(width);
        } else {
            cl.setUsageHelpAutoWidth(true);
        }
        cl.setUsageHelpLongOptionsMaxWidth(24);
    }

    /** A wrong combination of options: exit code 2 with one line. */
    public static final class UsageException extends RuntimeException {
        public UsageException(String message) {
            super(message);
        }
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Main.class.getPackage().getImplementationVersion();
            return new String[] {"lowbit " + (v == null ? "0.1.0-SNAPSHOT" : v) + " (Java " + Runtime.version() + ")"};
        }
    }
}
