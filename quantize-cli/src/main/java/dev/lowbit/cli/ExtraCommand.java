package dev.lowbit.cli;

/**
 * A subcommand that lives in a module of its own and is found on the class path with {@link java.util.ServiceLoader}
 * ({@code META-INF/services/dev.lowbit.cli.ExtraCommand}). {@code lowbit batch} is one: its module carries Apache
 * Spark, which the plain CLI does not, so the launcher puts it on the class path only for that command. An
 * implementation is a picocli {@code @Command} with a public no-argument constructor, run by {@link Main} with the
 * same exit codes and one-line errors as every other command.
 */
public interface ExtraCommand {}
