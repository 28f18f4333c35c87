package dev.lowbit.io.fuzz;

/**
 * Jazzer's instrumentation for every fuzz target of the build: off when a plain {@code mvn test} only replays the seed
 * corpora (regression mode, where installing the hooks costs ~15 s of JVM time and buys nothing), on when fuzzing
 * ({@code JAZZER_FUZZ} set). Without the hooks libFuzzer sees no coverage and a fuzzing run is blind: the corpus
 * never grows past its seeds. A {@code -Djazzer.hooks=...} given on the command line wins. Call from {@code @BeforeAll}.
 */
public final class FuzzMode {
    private FuzzMode() {}

    public static void configure() {
        if (System.getProperty("jazzer.hooks") != null) return;
        String fuzz = System.getenv("JAZZER_FUZZ");
        System.setProperty("jazzer.hooks", fuzz == null || fuzz.isEmpty() ? "false" : "true");
    }
}
