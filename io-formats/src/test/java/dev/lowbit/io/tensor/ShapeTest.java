package dev.lowbit.io.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class ShapeTest {
    @Test
    void aZeroDimensionMeansNoElementsWhateverTheOthers() {
        // the dims of a GGUF tensor the fuzzer found, in torch order: 838 · 6144880354009284608 alone overflows int64
        Shape s = Shape.of(838, 6144880354009284608L, 0, 193273528320L);
        assertEquals(0, s.elementCount());
        assertEquals(0, s.rows());
        assertEquals(193273528320L, s.rowLength());
        assertEquals(0, Shape.of(0, 1L << 40, 1L << 40).rows());
    }

    @Test
    void aNonEmptyShapeStillRefusesAnOverflowingCount() {
        assertThrows(ArithmeticException.class, () -> Shape.of(1L << 32, 1L << 32).elementCount());
        assertThrows(ArithmeticException.class, () -> Shape.of(1L << 32, 1L << 32, 5).rows());
        assertEquals(6, Shape.of(2, 3).elementCount());
        assertEquals(2, Shape.of(2, 3).rows());
        assertEquals(1, Shape.of().elementCount());
        assertEquals(1, Shape.of().rows());
    }
}
