package dev.lowbit.kernels;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import org.junit.jupiter.api.Test;

/**
 * What {@link NativeHeap#trim()} is for, reproduced with glibc's own malloc: 200 MiB in 64 KiB blocks (under the mmap
 * threshold, so they come from an arena, as libtorch's activations do once the threshold has risen), touched, then
 * freed — all but the last one, which pins the arena's top so {@code free} cannot shrink it. Freeing leaves the pages
 * resident; the trim gives them back.
 */
class NativeHeapTest {
    private static final long BLOCK = 64 * 1024, BLOCKS = 3200; // 200 MiB
    private static final long MIB = 1024 * 1024;

    @Test
    void trimGivesBackWhatMallocKeptAfterFree() throws Throwable {
        assumeTrue(NativeHeap.available(), "malloc_trim needs glibc");
        assumeTrue(NativeHeap.residentAnonymousBytes() > 0, "RssAnon needs Linux /proc");
        Linker linker = Linker.nativeLinker();
        MethodHandle malloc = linker.downcallHandle(linker.defaultLookup().find("malloc").orElseThrow(),
                FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.JAVA_LONG));
        MethodHandle free = linker.downcallHandle(linker.defaultLookup().find("free").orElseThrow(),
                FunctionDescriptor.ofVoid(ValueLayout.ADDRESS));
        NativeHeap.trim();
        long base = NativeHeap.residentAnonymousBytes();
        MemorySegment[] blocks = new MemorySegment[(int) BLOCKS];
        for (int i = 0; i < BLOCKS; i++) {
            blocks[i] = ((MemorySegment) malloc.invokeExact(BLOCK)).reinterpret(BLOCK);
            blocks[i].fill((byte) 1); // resident
        }
        long allocated = NativeHeap.residentAnonymousBytes();
        for (int i = 0; i < BLOCKS - 1; i++) free.invokeExact(blocks[i]);
        long freed = NativeHeap.residentAnonymousBytes();
        boolean released = NativeHeap.trim();
        long trimmed = NativeHeap.residentAnonymousBytes();
        free.invokeExact(blocks[(int) BLOCKS - 1]);
        String figures = "RssAnon MiB: base " + base / MIB + ", allocated " + allocated / MIB + ", freed " + freed / MIB
                + ", trimmed " + trimmed / MIB;
        System.out.println(figures);
        // 150 of the 200 MiB: the JVM's own threads allocate and free meanwhile (a collection, the JIT), tens of MiB
        assertTrue(allocated - base >= 150 * MIB, "the blocks are resident: " + figures);
        assertTrue(freed - base >= 150 * MIB, "free() alone keeps them resident (why trim exists): " + figures);
        assertTrue(released, "malloc_trim reports memory released: " + figures);
        assertTrue(freed - trimmed >= 150 * MIB, "the trim gives them back: " + figures);
    }
}
