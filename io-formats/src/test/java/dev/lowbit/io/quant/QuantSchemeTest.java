package dev.lowbit.io.quant;

import static org.junit.jupiter.api.Assertions.*;

import dev.lowbit.io.quant.QuantScheme.ElementType;
import dev.lowbit.io.quant.QuantScheme.Granularity;
import dev.lowbit.io.quant.QuantScheme.ScaleType;
import dev.lowbit.io.quant.QuantScheme.ZeroPoint;
import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.Test;

class QuantSchemeTest {

    @Test
    void theThreeArgumentFormIsTheGptqIntegerGrid() {
        QuantScheme s = new QuantScheme(4, 128, false);
        assertEquals(new QuantScheme(ElementType.INT, 4, 4, ScaleType.F16, Granularity.group(128), ZeroPoint.INTEGER, 1, List.of()), s);
        assertEquals(4, s.bits());
        assertEquals(128, s.groupSize());
        assertFalse(s.symmetric());
        assertEquals(15, s.maxq());
        assertEquals(128, s.effectiveGroupSize(512));
        assertEquals(3, s.groupCount(300));
        QuantScheme pc = new QuantScheme(3, -1, true);
        assertEquals(Granularity.CHANNEL, pc.granularity());
        assertEquals(ZeroPoint.NONE, pc.zeroPoint());
        assertEquals(-1, pc.groupSize());
        assertEquals(300, pc.effectiveGroupSize(300));
        assertEquals(1, pc.groupCount(300));
        assertEquals(new QuantScheme(4, 128, false), new QuantScheme(4, 128, false));
        assertNotEquals(new QuantScheme(4, 128, false), new QuantScheme(4, 128, true));
    }

    @Test
    void toStringOfTheIntegerGridIsUnchanged() {
        // recipes and reports print these
        assertEquals("w4 g128 sym", new QuantScheme(4, 128, true).toString());
        assertEquals("w3 per-channel asym", new QuantScheme(3, -1, false).toString());
        assertEquals("w2 g64 asym", new QuantScheme(2, 64, false).toString());
        assertEquals("E2M1 g16 E4M3", new QuantScheme(ElementType.E2M1, 4, 4, ScaleType.E4M3, Granularity.group(16),
                ZeroPoint.NONE, 1, List.of()).toString());
        assertEquals("TERNARY per-channel F16 ×2 planes", new QuantScheme(ElementType.TERNARY, 2, 2, ScaleType.F16,
                Granularity.CHANNEL, ZeroPoint.NONE, 2, List.of()).toString());
    }

    @Test
    void bitsPerWeight() {
        assertEquals(4 + 20.0 / 128, new QuantScheme(4, 128, false).bitsPerWeight(), 0.0, "4-bit codes, f16 scale, 4-bit zero per 128");
        assertEquals(4 + 16.0 / 128, new QuantScheme(4, 128, true).bitsPerWeight(), 0.0);
        assertEquals(4, new QuantScheme(4, -1, true).bitsPerWeight(), 0.0, "per-channel parameters are not counted");
        QuantScheme trits = new QuantScheme(ElementType.TERNARY, 2, 2, ScaleType.F16, Granularity.group(128), ZeroPoint.NONE, 2, List.of());
        assertEquals(2 * (2 + 16.0 / 128), trits.bitsPerWeight(), 0.0, "each plane has its codes and scales");
    }

    @Test
    void inconsistentSchemesAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> new QuantScheme(0, 128, true));
        assertThrows(IllegalArgumentException.class, () -> new QuantScheme(9, 128, true));
        assertThrows(IllegalArgumentException.class, () -> new QuantScheme(4, 0, true));
        assertThrows(IllegalArgumentException.class, () -> new QuantScheme(4, -2, true));
        assertThrows(IllegalArgumentException.class, () -> scheme(ElementType.E2M1, 3, ZeroPoint.NONE, 1, List.of()));
        assertThrows(IllegalArgumentException.class, () -> scheme(ElementType.E4M3, 4, ZeroPoint.NONE, 1, List.of()));
        assertThrows(IllegalArgumentException.class, () -> scheme(ElementType.TERNARY, 1, ZeroPoint.NONE, 1, List.of()));
        assertThrows(IllegalArgumentException.class, () -> scheme(ElementType.TERNARY, 2, ZeroPoint.INTEGER, 1, List.of()));
        assertThrows(IllegalArgumentException.class, () -> scheme(ElementType.INT, 4, ZeroPoint.NONE, 0, List.of()));
        assertThrows(IllegalArgumentException.class, () -> scheme(ElementType.INT, 4, ZeroPoint.NONE, 1, List.of(1f, 2f)));
        assertThrows(IllegalArgumentException.class, () -> scheme(ElementType.INT, 1, ZeroPoint.NONE, 1, List.of(1f, Float.NaN)));
        assertThrows(IllegalArgumentException.class, () -> scheme(ElementType.E2M1, 4, ZeroPoint.NONE, 1, Collections.nCopies(16, 1f)));
        assertThrows(IllegalArgumentException.class, () -> new QuantScheme(ElementType.INT, 4, 4.5, ScaleType.F16,
                Granularity.group(32), ZeroPoint.NONE, 1, List.of()), "code bits above the code width");
        assertThrows(IllegalArgumentException.class, () -> Granularity.superBlock(256, 48, 6));
        assertThrows(IllegalArgumentException.class, () -> Granularity.superBlock(256, 32, 0));
        assertThrows(IllegalArgumentException.class, () -> Granularity.group(0));
        assertThrows(NullPointerException.class, () -> new QuantScheme(null, 4, 4, ScaleType.F16, Granularity.TENSOR,
                ZeroPoint.NONE, 1, List.of()));
        QuantScheme perTensor = new QuantScheme(ElementType.E4M3, 8, 8, ScaleType.F32, Granularity.TENSOR, ZeroPoint.NONE, 1, List.of());
        assertThrows(IllegalStateException.class, perTensor::groupSize);
    }

    private static QuantScheme scheme(ElementType e, int bits, ZeroPoint z, int planes, List<Float> levels) {
        return new QuantScheme(e, bits, bits, ScaleType.F16, Granularity.group(32), z, planes, levels);
    }
}
