package dev.lowbit.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import picocli.CommandLine;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.PositionalParamSpec;

/**
 * {@code --help} of every command reads cleanly at 80 columns and wide: no line is longer than the width, and no
 * description carries a hard line break for picocli to wrap raggedly (option descriptions are one paragraph; command
 * descriptions are paragraphs that end a sentence, or indented examples).
 */
class HelpLayoutTest {
    static List<CommandLine> commands(String columns) {
        CommandLine root = new CommandLine(new Main());
        for (Object sub : Commands.all()) root.addSubcommand(sub);
        Main.helpWidth(root, columns);
        List<CommandLine> all = new ArrayList<>(List.of(root));
        all.addAll(root.getSubcommands().values());
        return all;
    }

    @ParameterizedTest
    @ValueSource(ints = {80, 120, 200})
    void noLineExceedsTheWidth(int width) {
        for (CommandLine c : commands(Integer.toString(width))) {
            assertEquals(width, c.getUsageHelpWidth(), c.getCommandName());
            for (String line : c.getUsageMessage().split("\n")) {
                assertTrue(line.length() <= width, c.getCommandName() + " at " + width + ": " + line.length() + " > width: " + line);
            }
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {80})
    void descriptionsAreParagraphs(int width) {
        for (CommandLine c : commands(Integer.toString(width))) {
            if (c.getCommand() instanceof CommandLine.HelpCommand) continue; // picocli's own
            for (OptionSpec o : c.getCommandSpec().options()) {
                assertTrue(o.description().length <= 1, c.getCommandName() + " " + o.longestName() + ": description split into lines");
            }
            for (PositionalParamSpec p : c.getCommandSpec().positionalParameters()) {
                assertTrue(p.description().length <= 1, c.getCommandName() + " " + p.paramLabel() + ": description split into lines");
            }
            for (String d : c.getCommandSpec().usageMessage().description()) {
                if (d.isEmpty() || d.startsWith(" ")) continue; // blank line or indented example / list item
                assertTrue(d.endsWith(".") || d.endsWith(":") || d.endsWith(")."), c.getCommandName() + ": paragraph broken mid-sentence: " + d);
            }
        }
    }
}
