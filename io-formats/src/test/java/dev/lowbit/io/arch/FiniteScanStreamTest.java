package dev.lowbit.io.arch;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.lowbit.io.BadInputException;
import dev.lowbit.io.ggml.GgmlType;
import dev.lowbit.io.gguf.GgufFile;
import dev.lowbit.io.gguf.GgufValue;
import dev.lowbit.io.gguf.GgufWriter;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link FiniteScan#stream} fed a GGUF file's bytes in ranges of every size — 1 byte (so that every element straddles
 * a range boundary), odd sizes, ranges that cut through tensor headers and padding — must refuse exactly what the
 * whole-file {@link FiniteScan#require(GgufFile)} refuses, with the same message (tensor, index, value), and pass what
 * it passes. Files: F32, F16, BF16 and a Q8_0 tensor, with alignment 32 and with alignment 1 (tensors at odd offsets).
 */
class FiniteScanStreamTest {
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    @TempDir
    Path tmp;

    private int files;

    @Test
    void refusesWhatTheWholeFileScanRefusesWithTheSameMessage() throws IOException {
        Random r = new Random(16);
        for (int alignment : new int[] {32, 1}) {
            for (int trial = 0; trial < 24; trial++) {
                int which = trial % 5;  // 0..3: one non-finite in tensor `which`, 4: none
                Path p = file(r, alignment, which);
                try (GgufFile f = GgufFile.open(p)) {
                    String expected = null;
                    try {
                        FiniteScan.require(f);
                    } catch (BadInputException e) {
                        expected = e.getMessage();
                    }
                    assertEquals(which == 4, expected == null, "trial " + trial);
                    for (int maxStep : new int[] {1, 7, 64, 1 << 18}) {
                        for (boolean heap : new boolean[] {false, true}) {
                            String got = null;
                            try {
                                streamed(f, r, maxStep, heap);
                            } catch (BadInputException e) {
                                got = e.getMessage();
                            }
                            assertEquals(expected, got, "alignment " + alignment + ", trial " + trial + ", ranges up to " + maxStep
                                    + (heap ? ", heap copies" : ", the mapping"));
                        }
                    }
                }
            }
        }
    }

    /**
     * The file's ranges in order: slices of its mapping, or (as the model digest feeds them) each range with up to 7
     * bytes past it copied into a heap array, at a random offset into that array (the scan's own loop over arrays).
     */
    private static void streamed(GgufFile f, Random r, int maxStep, boolean heap) {
        FiniteScan.Stream s = FiniteScan.stream(f);
        MemorySegment all = f.segment();
        for (long at = 0; at < all.byteSize(); ) {
            long end = Math.min(all.byteSize(), at + 1 + r.nextInt(maxStep));
            if (heap) {
                int lead = r.nextInt(9), tail = (int) Math.min(7, all.byteSize() - end);
                MemorySegment copy = MemorySegment.ofArray(new byte[lead + (int) (end - at) + tail]).asSlice(lead);
                MemorySegment.copy(all, at, copy, 0, end - at + tail);
                s.check(copy, at, at, end);
            } else {
                s.check(all, 0, at, end);
            }
            at = end;
        }
        s.finish();
    }

    /** Four tensors of odd sizes (F32, F16, BF16, Q8_0); a NaN or ±Inf at a random element of tensor {@code bad}. */
    private Path file(Random r, int alignment, int bad) throws IOException {
        GgufWriter w = new GgufWriter();
        w.putString("general.architecture", "test");
        if (alignment != 32) w.put(GgufFile.ALIGNMENT_KEY, GgufValue.ofUint32(alignment));
        int n32 = 37 + r.nextInt(40), n16 = 51 + r.nextInt(40), nb = 45 + r.nextInt(40);
        MemorySegment f32 = MemorySegment.ofArray(new byte[4 * n32]);
        for (int i = 0; i < n32; i++) f32.setAtIndex(F32, i, (float) r.nextGaussian());
        MemorySegment f16 = MemorySegment.ofArray(new byte[2 * n16]);
        for (int i = 0; i < n16; i++) f16.setAtIndex(I16, i, Float.floatToFloat16((float) r.nextGaussian()));
        MemorySegment bf16 = MemorySegment.ofArray(new byte[2 * nb]);
        for (int i = 0; i < nb; i++) bf16.setAtIndex(I16, i, (short) (Float.floatToRawIntBits((float) r.nextGaussian()) >>> 16));
        // Q8_0: 2 blocks of (f16 scale, 32 int8); a non-finite scale makes the whole block non-finite
        MemorySegment q8 = MemorySegment.ofArray(new byte[2 * 34]);
        for (int b = 0; b < 2; b++) {
            q8.set(I16, 34L * b, Float.floatToFloat16(0.01f));
            for (int j = 0; j < 32; j++) q8.set(ValueLayout.JAVA_BYTE, 34L * b + 2 + j, (byte) (r.nextInt(255) - 127));
        }
        float v = switch (r.nextInt(3)) {
            case 0 -> Float.NaN;
            case 1 -> Float.POSITIVE_INFINITY;
            default -> Float.NEGATIVE_INFINITY;
        };
        switch (bad) {
            case 0 -> f32.setAtIndex(F32, r.nextInt(n32), v);
            case 1 -> f16.setAtIndex(I16, r.nextInt(n16), Float.floatToFloat16(v));
            case 2 -> bf16.setAtIndex(I16, r.nextInt(nb), (short) (Float.floatToRawIntBits(v) >>> 16));
            case 3 -> q8.set(I16, 34L * r.nextInt(2), Float.floatToFloat16(v));
            default -> { }
        }
        w.addTensor("a.f32", new long[] {n32}, GgmlType.F32, f32);
        w.addTensor("b.f16", new long[] {n16}, GgmlType.F16, f16);
        w.addTensor("c.bf16", new long[] {nb}, GgmlType.BF16, bf16);
        w.addTensor("d.q8_0", new long[] {64}, GgmlType.Q8_0, q8);
        Path p = tmp.resolve("f" + (files++) + ".gguf");
        w.write(p);
        return p;
    }
}
