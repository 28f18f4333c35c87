package dev.lowbit.calib.capture;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.lowbit.io.BadInputException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A boundary keeps batches in memory up to its spill's budget (all of them, when it is known to be bigger than the
 * budget) and writes the rest to files that come back with the
 * same bits (compared as raw int bits, with values a lossy path would change: NaN payloads, −0, subnormals, ±∞); files
 * go when their batch is freed and the directory when the spill closes; an unusable directory is one bad-input line.
 */
class BoundaryTest {
    @TempDir
    Path tmp;

    private static final Shape SHAPE = new Shape(2, 3, 5); // a [b, T, D] batch, awkward sizes
    private static final long BYTES = SHAPE.size() * Float.BYTES;

    @Test
    void batchesPastTheBudgetSpillAndComeBackBitForBit() throws IOException {
        List<String> notices = new ArrayList<>();
        try (NDManager m = NDManager.newBaseManager();
             ActivationSpill spill = new ActivationSpill(2 * BYTES, tmp, notices::add)) {
            float[][] values = new float[4][];
            try (Boundary b = new Boundary(spill, m, 0)) { // size not known in advance: batches kept while they fit
                for (int i = 0; i < 4; i++) {
                    values[i] = values(i);
                    b.add(m.create(values[i], SHAPE));
                }
                assertEquals(2 * BYTES, spill.resident(), "two batches fit the budget");
                assertEquals(2, files(spill.directory()), "two spilled");
                assertEquals(1, notices.size(), "one notice at the first spill");
                assertTrue(notices.getFirst().startsWith("spilling layer activations to " + spill.directory() + ": "), notices.getFirst());
                assertTrue(notices.getFirst().contains("over budget 0 MiB"), notices.getFirst()); // 240 bytes round down to 0 MiB
                assertTrue(b.spilled());
                for (int i = 0; i < 4; i++) {
                    assertEquals(SHAPE, b.shape(i));
                    try (Boundary.Batch x = b.open(i)) {
                        assertBits(values[i], x.array().toFloatArray());
                    }
                    try (Boundary.Batch x = b.open(i)) { // read as often as needed
                        assertBits(values[i], x.array().toFloatArray());
                    }
                }
                b.free(3);
                assertEquals(1, files(spill.directory()), "a freed batch's file goes");
                b.free(0);
                assertEquals(BYTES, spill.resident(), "a freed batch's memory returns to the budget");
                float[] replaced = values(7);
                b.set(0, m.create(replaced, SHAPE)); // fits again
                assertEquals(2 * BYTES, spill.resident());
                try (NDArray taken = b.take(2)) { // spilled: read back, file gone
                    assertBits(values[2], taken.toFloatArray());
                }
                assertEquals(0, files(spill.directory()));
                try (Boundary.Batch x = b.open(0)) {
                    assertBits(replaced, x.array().toFloatArray());
                }
            }
            assertEquals(0, spill.resident(), "a closed boundary holds nothing");
            Path dir = spill.directory();
            spill.close();
            assertFalse(Files.exists(dir), "the spill directory goes on close");
            assertNull(spill.directory());
        }
    }

    @Test
    void aBoundaryKnownToBeOverTheBudgetSpillsWhole() throws IOException {
        try (NDManager m = NDManager.newBaseManager();
             ActivationSpill spill = new ActivationSpill(3 * BYTES, tmp, msg -> {});
             Boundary b = new Boundary(spill, m, 4 * BYTES)) {
            for (int i = 0; i < 4; i++) b.add(m.create(values(i), SHAPE));
            assertEquals(0, spill.resident(), "nothing kept, though three batches would fit");
            assertEquals(4, files(spill.directory()));
            try (Boundary fits = new Boundary(spill, m, 3 * BYTES)) { // a boundary within the budget stays in memory
                for (int i = 0; i < 3; i++) fits.add(m.create(values(i), SHAPE));
                assertFalse(fits.spilled());
            }
        }
    }

    @Test
    void aBudgetNothingReachesMakesNoDirectory() {
        try (NDManager m = NDManager.newBaseManager();
             ActivationSpill spill = new ActivationSpill(Long.MAX_VALUE, tmp.resolve("never"), msg -> { throw new AssertionError(msg); });
             Boundary b = new Boundary(spill, m, 0)) {
            b.add(m.create(values(1), SHAPE));
            assertFalse(b.spilled());
            assertNull(spill.directory());
            assertFalse(Files.exists(tmp.resolve("never")));
        }
    }

    @Test
    void anUnusableDirectoryIsOneLineNamingIt() throws IOException {
        Path notADirectory = Files.writeString(tmp.resolve("file"), "x");
        try (NDManager m = NDManager.newBaseManager();
             ActivationSpill spill = new ActivationSpill(0, notADirectory, msg -> {});
             Boundary b = new Boundary(spill, m, 0)) {
            NDArray a = m.create(values(2), SHAPE);
            BadInputException e = assertThrows(BadInputException.class, () -> b.add(a));
            assertEquals(notADirectory.toString(), e.source());
            assertTrue(e.getMessage().startsWith("cannot spill calibration activations (not a directory)"), e.getMessage());
            assertEquals(1, e.userMessage().lines().count());
            assertEquals(0, spill.resident());
        }
        assertEquals("x", Files.readString(notADirectory));
    }

    /** Random values with the awkward ones first. */
    private static float[] values(int seed) {
        float[] v = new float[(int) SHAPE.size()];
        SplittableRandom r = new SplittableRandom(seed);
        for (int i = 0; i < v.length; i++) v[i] = (float) r.nextGaussian();
        v[0] = Float.intBitsToFloat(0x7fc00123); // a NaN with a payload
        v[1] = -0f;
        v[2] = Float.MIN_VALUE;
        v[3] = Float.NEGATIVE_INFINITY;
        v[4] = Float.MAX_VALUE;
        return v;
    }

    private static void assertBits(float[] want, float[] got) {
        assertEquals(want.length, got.length);
        for (int i = 0; i < want.length; i++) {
            assertEquals(Float.floatToRawIntBits(want[i]), Float.floatToRawIntBits(got[i]), "element " + i);
        }
    }

    private static long files(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.count();
        }
    }
}
