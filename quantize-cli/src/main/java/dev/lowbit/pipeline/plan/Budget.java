package dev.lowbit.pipeline.plan;

import dev.lowbit.io.BadInputException;
import dev.lowbit.io.export.LlamaFtype;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A size budget as the user gives it: bytes ({@code 14619616}, {@code 14.6MB}, {@code 1.2GiB}), bits per weight
 * ({@code 3.5bpw}: tensor bits over all parameters of the export) or a llama.cpp mix whose size to match
 * ({@code Q3_K_M}). Resolved to bytes of tensor data once the model's parameter count and the mix's plan are known.
 */
public sealed interface Budget {
    record Bytes(long bytes) implements Budget {}

    record BitsPerWeight(double bpw) implements Budget {}

    record AsMix(LlamaFtype mix) implements Budget {}

    Pattern SIZE = Pattern.compile("(?i)([0-9]+(?:\\.[0-9]+)?)\\s*(b|kb|mb|gb|kib|mib|gib|bpw)?");

    static Budget parse(String s) {
        String t = s.strip();
        Matcher m = SIZE.matcher(t);
        if (m.matches()) {
            double v = Double.parseDouble(m.group(1));
            String unit = m.group(2) == null ? "b" : m.group(2).toLowerCase(Locale.ROOT);
            if (unit.equals("bpw")) {
                if (!(v > 0)) throw new BadInputException("--budget", "bits per weight must be positive, got '" + s + "'");
                return new BitsPerWeight(v);
            }
            double mul = switch (unit) {
                case "kb" -> 1e3;
                case "mb" -> 1e6;
                case "gb" -> 1e9;
                case "kib" -> 1024.0;
                case "mib" -> 1024.0 * 1024;
                case "gib" -> 1024.0 * 1024 * 1024;
                default -> 1;
            };
            return new Bytes(Math.round(v * mul));
        }
        try {
            return new AsMix(LlamaFtype.parse(t));
        } catch (IllegalArgumentException e) {
            throw new BadInputException("--budget", "expected bytes (14619616, 14.6MB, 1.2GiB), bits per weight (3.5bpw) or a "
                    + "llama.cpp mix (Q3_K_M), got '" + s + "'");
        }
    }
}
