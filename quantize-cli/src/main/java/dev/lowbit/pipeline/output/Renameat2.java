package dev.lowbit.pipeline.output;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.nio.file.Path;

/**
 * Linux {@code renameat2(2)} through the FFM API, for the two renames {@link java.nio.file.Files#move} cannot do:
 * {@code RENAME_EXCHANGE} swaps two paths atomically (so a replaced output is never missing, not even for an
 * instant), and {@code RENAME_NOREPLACE} fails with {@code EEXIST} instead of replacing what appeared meanwhile.
 *
 * <p>glibc has exported {@code renameat2} since 2.28; where the symbol is missing (another libc, another OS) {@link
 * #available()} is false and callers fail with a clear message rather than falling back to two renames. A file system
 * without the flags answers {@code EINVAL}; old kernels {@code ENOSYS}.
 */
final class Renameat2 {
    static final int RENAME_NOREPLACE = 1;
    static final int RENAME_EXCHANGE = 2;

    /** errno values of Linux (the same on x86-64 and aarch64, from asm-generic). */
    static final int ENOENT = 2, EEXIST = 17, EXDEV = 18, EINVAL = 22, ENOSPC = 28, EROFS = 30, ENOSYS = 38,
            ENOTEMPTY = 39;

    private static final int AT_FDCWD = -100;
    private static final StructLayout CAPTURE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CAPTURE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final MethodHandle RENAMEAT2 = lookup();

    private Renameat2() {}

    private static MethodHandle lookup() {
        try {
            Linker linker = Linker.nativeLinker();
            return linker.defaultLookup().find("renameat2")
                    .map(sym -> linker.downcallHandle(sym,
                            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.ADDRESS,
                                    ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT),
                            Linker.Option.captureCallState("errno")))
                    .orElse(null);
        } catch (RuntimeException | LinkageError e) {
            return null; // no native linker for this platform, or native access denied
        }
    }

    /** Whether the C library has {@code renameat2} at all. */
    static boolean available() {
        return RENAMEAT2 != null;
    }

    /**
     * {@code renameat2(AT_FDCWD, from, AT_FDCWD, to, flags)}.
     *
     * @return 0 on success, else the errno
     */
    static int rename(Path from, Path to, int flags) {
        if (RENAMEAT2 == null) return ENOSYS;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CAPTURE);
            MemorySegment f = arena.allocateFrom(from.toString());
            MemorySegment t = arena.allocateFrom(to.toString());
            int r = (int) RENAMEAT2.invokeExact(state, AT_FDCWD, f, AT_FDCWD, t, flags);
            return r == 0 ? 0 : (int) ERRNO.get(state, 0L);
        } catch (Throwable e) {
            throw new IllegalStateException("renameat2 downcall failed", e);
        }
    }

    /** A short description of an errno this class returns, as strerror words. */
    static String describe(int errno) {
        return switch (errno) {
            case ENOENT -> "no such file or directory";
            case EEXIST -> "file exists";
            case EXDEV -> "on different file systems";
            case EINVAL -> "the file system does not support atomic exchange (renameat2 RENAME_EXCHANGE)";
            case ENOSPC -> "no space left on device";
            case EROFS -> "read-only file system";
            case ENOSYS -> "this system has no renameat2 (needs Linux 3.15+ and glibc 2.28+)";
            case ENOTEMPTY -> "directory not empty";
            case 13 -> "permission denied";
            case 1 -> "operation not permitted";
            case 16 -> "device or resource busy";
            default -> "errno " + errno;
        };
    }
}
