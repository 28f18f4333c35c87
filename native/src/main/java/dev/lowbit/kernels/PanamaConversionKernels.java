package dev.lowbit.kernels;

import static jdk.incubator.vector.VectorOperators.AND;
import static jdk.incubator.vector.VectorOperators.I2S;
import static jdk.incubator.vector.VectorOperators.LSHL;
import static jdk.incubator.vector.VectorOperators.LSHR;
import static jdk.incubator.vector.VectorOperators.S2I;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * Vector API implementation. Each loop is a SIMD body over whole vectors of the preferred int/float shape plus a
 * scalar tail through {@link FloatFormats}; 16-bit values travel in a short vector of half that shape, widened with
 * {@code S2I} and narrowed with {@code I2S}. The bit manipulations are the lane-wise forms of the scalar references
 * (which is why the tests can require bit equality).
 *
 * <p>Loaded reflectively by {@link Kernels} only when {@code jdk.incubator.vector} is present.
 */
final class PanamaConversionKernels implements ConversionKernels {
    private static final VectorSpecies<Integer> INT = IntVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Float> FLOAT = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Short> SHORT =
            VectorSpecies.of(short.class, VectorShape.forBitSize(INT.vectorBitSize() / 2));
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    PanamaConversionKernels() {}

    /** Bits of the preferred vector shape, e.g. 256 on AVX2. */
    static int vectorBitSize() {
        return INT.vectorBitSize();
    }

    private static IntVector loadWidened(MemorySegment src, long byteOffset) {
        return (IntVector) ShortVector.fromMemorySegment(SHORT, src, byteOffset, LE).convertShape(S2I, INT, 0);
    }

    private static void storeNarrowed(IntVector v, MemorySegment dst, long byteOffset) {
        ((ShortVector) v.convertShape(I2S, SHORT, 0)).intoMemorySegment(dst, byteOffset, LE);
    }

    @Override
    public void bf16ToF32(MemorySegment src, long srcByteOffset, float[] dst, int dstOffset, int count) {
        ScalarConversionKernels.checkBounds(src, srcByteOffset, dst.length, dstOffset, count);
        int i = 0;
        int bound = INT.loopBound(count);
        for (; i < bound; i += INT.length()) {
            loadWidened(src, srcByteOffset + 2L * i).lanewise(LSHL, 16)
                    .reinterpretAsFloats().intoArray(dst, dstOffset + i);
        }
        for (; i < count; i++) {
            dst[dstOffset + i] = FloatFormats.bf16ToF32(src.get(ScalarConversionKernels.SHORT_LE, srcByteOffset + 2L * i));
        }
    }

    @Override
    public void f16ToF32(MemorySegment src, long srcByteOffset, float[] dst, int dstOffset, int count) {
        ScalarConversionKernels.checkBounds(src, srcByteOffset, dst.length, dstOffset, count);
        int i = 0;
        int bound = INT.loopBound(count);
        for (; i < bound; i += INT.length()) {
            IntVector h = loadWidened(src, srcByteOffset + 2L * i); // sign-extended: only the low 16 bits matter
            IntVector sign = h.lanewise(AND, 0x8000).lanewise(LSHL, 16);
            IntVector em = h.lanewise(AND, 0x7FFF);
            // normal: move exponent+mantissa into place and rebias 15 → 127
            IntVector o = em.lanewise(LSHL, 13).add(112 << 23);
            // Inf/NaN: rebias once more so the exponent becomes 255, payload kept
            o = o.lanewise(VectorOperators.ADD, 112 << 23, em.compare(VectorOperators.GE, 0x7C00));
            // zero/subnormal: (2^-14 · (1 + m/1024)) − 2^-14 = m · 2^-24, computed exactly without f32 subnormals
            VectorMask<Integer> subnormal = em.compare(VectorOperators.LT, 0x0400);
            IntVector sub = o.add(1 << 23).reinterpretAsFloats()
                    .sub(Float.intBitsToFloat(113 << 23)).reinterpretAsInts();
            o.blend(sub, subnormal).or(sign).reinterpretAsFloats().intoArray(dst, dstOffset + i);
        }
        for (; i < count; i++) {
            dst[dstOffset + i] = FloatFormats.f16ToF32(src.get(ScalarConversionKernels.SHORT_LE, srcByteOffset + 2L * i));
        }
    }

    @Override
    public void f32ToBf16(float[] src, int srcOffset, MemorySegment dst, long dstByteOffset, int count) {
        ScalarConversionKernels.checkBounds(dst, dstByteOffset, src.length, srcOffset, count);
        int i = 0;
        int bound = FLOAT.loopBound(count);
        for (; i < bound; i += FLOAT.length()) {
            IntVector bits = FloatVector.fromArray(FLOAT, src, srcOffset + i).reinterpretAsInts();
            IntVector lsb = bits.lanewise(LSHR, 16).lanewise(AND, 1);
            IntVector rounded = bits.add(0x7FFF).add(lsb).lanewise(LSHR, 16);
            VectorMask<Integer> nan = bits.lanewise(AND, 0x7FFFFFFF).compare(VectorOperators.GT, 0x7F800000);
            IntVector quietNan = bits.lanewise(LSHR, 16).or(0x0040);
            storeNarrowed(rounded.blend(quietNan, nan), dst, dstByteOffset + 2L * i);
        }
        for (; i < count; i++) {
            dst.set(ScalarConversionKernels.SHORT_LE, dstByteOffset + 2L * i, FloatFormats.f32ToBf16(src[srcOffset + i]));
        }
    }

    @Override
    public void f32ToF16(float[] src, int srcOffset, MemorySegment dst, long dstByteOffset, int count) {
        ScalarConversionKernels.checkBounds(dst, dstByteOffset, src.length, srcOffset, count);
        int i = 0;
        int bound = FLOAT.loopBound(count);
        for (; i < bound; i += FLOAT.length()) {
            IntVector bits = FloatVector.fromArray(FLOAT, src, srcOffset + i).reinterpretAsInts();
            IntVector sign = bits.lanewise(LSHR, 16).lanewise(AND, 0x8000);
            IntVector a = bits.lanewise(AND, 0x7FFFFFFF);
            // normal: rebias, round the 13 dropped bits to nearest even (a carry may reach 0x7C00 = Inf)
            IntVector odd = a.lanewise(LSHR, 13).lanewise(AND, 1);
            IntVector h = a.add(((15 - 127) << 23) + 0xFFF).add(odd).lanewise(LSHR, 13);
            // below 2^-14: let an f32 addition of 0.5f do the rounding at the half subnormal step 2^-24
            IntVector sub = a.reinterpretAsFloats().add(0.5f).reinterpretAsInts().sub(126 << 23);
            h = h.blend(sub, a.compare(VectorOperators.LT, 113 << 23));
            h = h.blend(0x7C00, a.compare(VectorOperators.GE, 143 << 23));
            IntVector nan = a.lanewise(LSHR, 13).lanewise(AND, 0x1FF).or(0x7E00);
            h = h.blend(nan, a.compare(VectorOperators.GT, 0x7F800000));
            storeNarrowed(h.or(sign), dst, dstByteOffset + 2L * i);
        }
        for (; i < count; i++) {
            dst.set(ScalarConversionKernels.SHORT_LE, dstByteOffset + 2L * i, FloatFormats.f32ToF16(src[srcOffset + i]));
        }
    }

    @Override
    public String name() {
        return "panama(" + INT.vectorBitSize() + "-bit)";
    }
}
