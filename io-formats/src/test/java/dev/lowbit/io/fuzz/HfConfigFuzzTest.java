package dev.lowbit.io.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.lowbit.io.BadInputException;
import dev.lowbit.io.hf.HfConfig;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.BeforeAll;

/**
 * Fuzz target for the one config.json reader: any text either parses into a config whose accessors all answer, or
 * fails with {@link BadInputException} naming the file. Seeds: {@code HfConfigFuzzTestInputs/parse/}.
 */
class HfConfigFuzzTest {
    /** Every public no-argument accessor of {@link HfConfig}, looked up once (not per input: getMethods() copies). */
    private static final java.util.List<java.lang.reflect.Method> ACCESSORS = java.util.Arrays.stream(HfConfig.class.getMethods())
            .filter(m -> m.getParameterCount() == 0 && !java.lang.reflect.Modifier.isStatic(m.getModifiers())
                    && m.getDeclaringClass() != Object.class)
            .toList();

    @BeforeAll
    static void hooks() {
        FuzzMode.configure();
    }

    @FuzzTest(maxDuration = "60s")
    void parse(byte[] data) {
        HfConfig c;
        try {
            c = HfConfig.parse(new String(data, StandardCharsets.UTF_8), "config.json");
        } catch (BadInputException expected) {
            return;
        }
        for (java.lang.reflect.Method m : ACCESSORS) { // every no-argument accessor must answer
            try {
                m.invoke(c);
            } catch (java.lang.reflect.InvocationTargetException e) {
                if (e.getCause() instanceof BadInputException) continue; // a missing / mistyped field, named
                throw new AssertionError(m.getName() + " threw", e.getCause());
            } catch (IllegalAccessException e) {
                throw new AssertionError(e);
            }
        }
    }
}
