package dev.lowbit.cli;

import dev.lowbit.io.BadInputException;
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
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            if (ex instanceof BadInputException b) {
                System.err.println("lowbit: " + b.userMessage());
                if (verbose) ex.printStackTrace();
                return 2;
            }
            if (ex instanceof UsageException u) {
                System.err.println("lowbit: " + u.getMessage());
                return 2;
            }
            System.err.println("lowbit: internal error: " + ex);
            if (verbose) ex.printStackTrace();
            else System.err.println("lowbit: run again with --verbose for the stack trace");
            return 1;
        });
        cl.setParameterExceptionHandler((ex, a) -> {
            System.err.println("lowbit: " + ex.getMessage());
            System.err.println("lowbit: see '" + ex.getCommandLine().getCommandSpec().qualifiedName() + " --help'");
            return 2;
        });
        return cl.execute(args);
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
