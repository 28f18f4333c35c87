package dev.lowbit.kernels;

import java.io.IOException;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Gives the C heap's free pages back to the kernel: glibc's {@code malloc_trim(0)} through the FFM API, called by the
 * calibration between the stages of a layer and after each layer, and by AWQ after each mapping's search.
 *
 * <p>Why: libtorch allocates its tensors with glibc's malloc. Once a large tensor has been freed glibc raises its mmap
 * threshold (up to 32 MiB), so later activations and intermediates come from the heap arenas — one per thread that
 * allocates: PyTorch's intra-op pool, the JVM's threads — and what a stage frees stays there as free chunks, resident,
 * until a later allocation happens to fit them. At the 7B shape that was 0.4–0.6 GiB of the resident set at each
 * layer's end (AWQ grid 2 and GPTQ over 128 × 512: RssAnon 2,356 → 1,827 MiB and 2,275 → 1,678 MiB across one call,
 * issue 16). {@code malloc_trim(0)} returns every whole free page of every arena ({@code MADV_DONTNEED}); it walks the
 * arenas' free lists: 0.1–0.2 s a call at that shape (not measured on small models).
 *
 * <p>{@code -Dlowbit.native.trim=false} turns it off; where the C library has no {@code malloc_trim} (not glibc)
 * {@link #trim()} does nothing.
 */
public final class NativeHeap {
    private static final MethodHandle MALLOC_TRIM = lookup();

    private NativeHeap() {}

    private static MethodHandle lookup() {
        if ("false".equals(System.getProperty("lowbit.native.trim"))) return null;
        try {
            Linker linker = Linker.nativeLinker();
            return linker.defaultLookup().find("malloc_trim")
                    .map(sym -> linker.downcallHandle(sym, FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG)))
                    .orElse(null);
        } catch (RuntimeException | LinkageError e) {
            return null; // no native linker here, or native access denied: nothing to trim with
        }
    }

    /** Whether {@link #trim()} reaches a {@code malloc_trim}. */
    public static boolean available() {
        return MALLOC_TRIM != null;
    }

    /**
     * {@code malloc_trim(0)}: the free pages of every malloc arena go back to the kernel.
     *
     * @return whether any memory was released (false also when unavailable)
     */
    public static boolean trim() {
        if (MALLOC_TRIM == null) return false;
        try {
            return (int) MALLOC_TRIM.invokeExact(0L) != 0;
        } catch (Throwable e) {
            throw new IllegalStateException("malloc_trim downcall failed", e);
        }
    }

    /** This process's anonymous resident memory in bytes ({@code RssAnon} of {@code /proc/self/status}), -1 if unknown. */
    public static long residentAnonymousBytes() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("RssAnon:")) return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
            }
        } catch (IOException | RuntimeException e) {
            return -1;
        }
        return -1;
    }
}
