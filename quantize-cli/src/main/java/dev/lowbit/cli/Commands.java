package dev.lowbit.cli;

import java.util.ArrayList;
import java.util.List;
import java.util.ServiceLoader;

/** The subcommands, in the order `lowbit --help` lists them. Add a command here when it lands. */
final class Commands {
    private Commands() {}

    static List<Object> all() {
        List<Object> all = new ArrayList<>(List.of(new InspectCommand(), new QuantizeCommand(), new PlanCommand(),
                new ConvertCommand(), new EvaluateCommand(), new TokenizeCommand(), new FormatsCommand()));
        // commands of other modules (batch, with Spark) when the launcher put them on the class path
        for (ExtraCommand c : ServiceLoader.load(ExtraCommand.class)) all.add(c);
        return all;
    }
}
