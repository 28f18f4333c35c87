package dev.lowbit.calib;

import java.nio.file.Path;

/** Paths into {@code ../shared} (read-only fixtures). */
public final class Fixtures {
    private Fixtures() {}

    public static Path shared() {
        return Path.of(System.getProperty("lowbit.shared", "../shared")).toAbsolutePath().normalize();
    }

    public static Path tinyLlama() {
        return shared().resolve("models/tiny-llama-code");
    }

    public static Path data(String name) {
        return shared().resolve("data").resolve(name);
    }
}
