package dev.lowbit.cli;

import java.util.List;

/** The subcommands, in the order `lowbit --help` lists them. Add a command here when it lands. */
final class Commands {
    private Commands() {}

    static List<Object> all() {
        return List.of(new InspectCommand(), new QuantizeCommand(), new PlanCommand(), new ConvertCommand(), new EvaluateCommand(),
                new TokenizeCommand());
    }
}
