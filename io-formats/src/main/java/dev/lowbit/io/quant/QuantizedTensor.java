package dev.lowbit.io.quant;

import dev.lowbit.kernels.FloatFormats;
import java.util.List;
import java.util.Objects;

/**
 * A quantized weight matrix in a layout-free form: writers turn it into a target's packed layout, readers turn a
 * packed layout back into it. Plain data: no algorithm lives here.
 *
 * <p>The matrix is {@code rows × cols} in PyTorch Linear orientation ({@code rows} = out_features,
 * {@code cols} = in_features). Column {@code c} belongs to group {@code gIdx[c]} (the super-block, for a k-quant) and,
 * when a plane has sub-block scales, to sub-block {@code c / subBlocks.size}. Each {@link Plane} holds one code per
 * element ({@code codes[r·cols + c]}, read with {@code & 0xFF}) and row-major {@code rows × groups} scales, plus
 * optional integer zero points or float mins per group and optional integer sub-block scales (and sub-block mins):
 * <pre>
 *   ŵ[r,c] = globalScale · Σₚ ( scaleₚ[r,g] · subₚ[r,s] · v(qₚ[r,c] − zeroₚ[r,g])  −  minₚ[r,g] · subMinₚ[r,s] )
 * </pre>
 * with g = gIdx[c], s = c / sub-block size, sub = subMin = 1 and zero = min = 0 where a plane has none, and v the code's
 * value for the scheme's element type: the integer itself (INT), {@code levels[q]} (a non-uniform INT grid such as
 * IQ4_NL), q − 1 (TERNARY), ±1 (BINARY), or the E2M1 / E4M3 / E5M2 value of the code's bits.
 *
 * <p>So trit-planes (W ≈ α₁·T₁ + α₂·T₂: two TERNARY planes), NVFP4 (E2M1 codes, E4M3 block scales decoded to f32,
 * {@code globalScale} = 1 / the per-tensor scale) and k-quant super-blocks (one plane, {@code scales} = d,
 * {@code mins} = dmin per super-block, sub-block scales and mins = the 6-bit sc and m) are all plain data.
 *
 * <p>The original single-plane form {@code new QuantizedTensor(name, rows, cols, scheme, codes, scales, zeros, gIdx)}
 * keeps its meaning: ŵ[r,c] = scales[r,g] · (q[r,c] − zeros[r,g]); zeros are true zero points (no GPTQ v1 "−1"
 * offset) and symmetric schemes store 2^(bits−1). {@link #codes()}, {@link #scales()}, {@link #zeros()} read plane 0.
 *
 * <p>{@code salient}, when not null, holds unstructured high-precision weights (PB-LLM's salient weights): where its
 * mask is set, ŵ[r,c] = salient.scales[r] · salient.codes[r·cols + c] (a signed 8-bit code) replaces the planes' value.
 *
 * @param globalScale multiplies every plane; 1 when the scheme has none
 * @param salient     unstructured 8-bit weights that replace the planes' value where their mask is set, or null
 */
public record QuantizedTensor(String name, int rows, int cols, QuantScheme scheme, List<Plane> planes, int[] gIdx,
                              float globalScale, Salient salient) {

    /**
     * Unstructured salient weights at 8 bits, symmetric per row: ŵ[r,c] = scales[r] · codes[r·cols + c] where
     * {@code mask[r·cols + c] != 0}.
     *
     * @param mask   one flag per element, {@code rows × cols}, 0 or 1
     * @param codes  signed codes in −127..127, {@code rows × cols} (0 where the mask is clear)
     * @param scales one scale per row
     */
    public record Salient(byte[] mask, byte[] codes, float[] scales) {
        public Salient {
            Objects.requireNonNull(mask, "mask");
            Objects.requireNonNull(codes, "codes");
            Objects.requireNonNull(scales, "scales");
            if (mask.length != codes.length) throw new IllegalArgumentException("salient mask and codes differ in length");
            for (int i = 0; i < mask.length; i++) {
                if (mask[i] != 0 && mask[i] != 1) throw new IllegalArgumentException("salient mask flag " + mask[i] + " at " + i);
                if (codes[i] == -128 || (mask[i] == 0 && codes[i] != 0)) {
                    throw new IllegalArgumentException("salient code " + codes[i] + " at " + i + (mask[i] == 0 ? " outside the mask" : ""));
                }
            }
        }

        /** How many weights are salient. */
        public int count() {
            int n = 0;
            for (byte b : mask) n += b;
            return n;
        }
    }

    /** A tensor without salient weights. */
    public QuantizedTensor(String name, int rows, int cols, QuantScheme scheme, List<Plane> planes, int[] gIdx, float globalScale) {
        this(name, rows, cols, scheme, planes, gIdx, globalScale, null);
    }

    /**
     * One code plane with its own scales.
     *
     * @param codes     one code per element, {@code rows × cols}
     * @param scales    {@code rows × groups}
     * @param zeros     integer zero points {@code rows × groups}, or null (none)
     * @param mins      float mins {@code rows × groups}, subtracted after scaling (ggml's m / dmin), or null
     * @param subBlocks integer sub-block scales (and mins) under each group's scale, or null
     */
    public record Plane(byte[] codes, float[] scales, int[] zeros, float[] mins, SubBlocks subBlocks) {
        public Plane {
            Objects.requireNonNull(codes, "codes");
            Objects.requireNonNull(scales, "scales");
        }

        /** A plane with scales and zero points only (the GPTQ form). */
        public static Plane of(byte[] codes, float[] scales, int[] zeros) {
            return new Plane(codes, scales, zeros, null, null);
        }
    }

    /**
     * Sub-block scales: sub-block {@code s} of row {@code r} (columns {@code s·size .. (s+1)·size − 1}) multiplies its
     * group's scale by {@code scales[r·n + s]} and its group's min by {@code mins[r·n + s]}, with n = cols / size.
     *
     * @param mins null when the scheme has no mins
     */
    public record SubBlocks(int size, int[] scales, int[] mins) {
        public SubBlocks {
            Objects.requireNonNull(scales, "scales");
            if (size <= 0) throw new IllegalArgumentException("sub-block size must be positive, got " + size);
        }
    }

    public QuantizedTensor {
        Objects.requireNonNull(scheme, "scheme");
        Objects.requireNonNull(gIdx, "gIdx");
        planes = List.copyOf(planes);
        if (rows < 0 || cols < 0) throw new IllegalArgumentException(name + ": negative shape " + rows + " × " + cols);
        long n = (long) rows * cols;
        if (n > Integer.MAX_VALUE - 8) throw new IllegalArgumentException(name + ": " + rows + " × " + cols + " is too large for one array");
        if (planes.isEmpty()) throw new IllegalArgumentException(name + ": no code planes");
        if (planes.size() != scheme.planes()) {
            throw new IllegalArgumentException(name + ": " + planes.size() + " planes for a scheme of " + scheme.planes());
        }
        if (!Float.isFinite(globalScale)) throw new IllegalArgumentException(name + ": global scale " + globalScale);
        if (gIdx.length != cols) throw new IllegalArgumentException(name + ": g_idx length " + gIdx.length + " != cols " + cols);
        for (int g : gIdx) if (g < 0) throw new IllegalArgumentException(name + ": negative group index " + g);
        if (salient != null && (salient.mask().length != n || salient.scales().length != rows)) {
            throw new IllegalArgumentException(name + ": salient weights must be rows × cols with one scale per row");
        }
        long groups = groupsOf(gIdx);
        for (int p = 0; p < planes.size(); p++) {
            Plane pl = planes.get(p);
            String at = planes.size() == 1 ? name : name + " plane " + p;
            if (pl.codes().length != n) throw new IllegalArgumentException(at + ": codes length " + pl.codes().length);
            if (pl.scales().length != rows * groups
                    || (pl.zeros() != null && pl.zeros().length != rows * groups)
                    || (pl.mins() != null && pl.mins().length != rows * groups)) {
                throw new IllegalArgumentException(at + ": scales/zeros/mins must be rows × groups = " + rows + " × " + groups);
            }
            if (pl.zeros() != null && scheme.element() != QuantScheme.ElementType.INT) {
                throw new IllegalArgumentException(at + ": " + scheme.element() + " codes take no integer zero points");
            }
            SubBlocks sb = pl.subBlocks();
            if (sb != null) {
                if (cols % sb.size() != 0) throw new IllegalArgumentException(at + ": " + cols + " columns are not whole sub-blocks of " + sb.size());
                long subs = (long) rows * (cols / sb.size());
                if (sb.scales().length != subs || (sb.mins() != null && sb.mins().length != subs)) {
                    throw new IllegalArgumentException(at + ": sub-block scales/mins must be rows × cols/" + sb.size() + " = " + subs);
                }
                if (sb.mins() != null && pl.mins() == null) throw new IllegalArgumentException(at + ": sub-block mins without mins");
            }
        }
    }

    /** The single-plane form: ŵ[r,c] = scales[r,g] · (q[r,c] − zeros[r,g]), g = gIdx[c]. */
    public QuantizedTensor(String name, int rows, int cols, QuantScheme scheme, byte[] codes, float[] scales, int[] zeros,
                           int[] gIdx) {
        this(name, rows, cols, scheme, List.of(Plane.of(codes, scales, Objects.requireNonNull(zeros, "zeros"))), gIdx, 1f);
    }

    /** Plane 0's codes. */
    public byte[] codes() {
        return planes.getFirst().codes();
    }

    /** Plane 0's scales. */
    public float[] scales() {
        return planes.getFirst().scales();
    }

    /** Plane 0's zero points (null when it has none). */
    public int[] zeros() {
        return planes.getFirst().zeros();
    }

    /** Number of groups: 1 + max(g_idx). */
    public int groups() {
        return groupsOf(gIdx);
    }

    private static int groupsOf(int[] gIdx) {
        int max = -1;
        for (int g : gIdx) max = Math.max(max, g);
        return max + 1;
    }

    /** The default (no act-order) group index: column c is in group c / groupSize. */
    public static int[] sequentialGroups(int cols, QuantScheme scheme) {
        int g = scheme.effectiveGroupSize(cols);
        int[] idx = new int[cols];
        for (int c = 0; c < cols; c++) idx[c] = c / g;
        return idx;
    }

    public int code(int r, int c) {
        return codes()[r * cols + c] & 0xFF;
    }

    /** ŵ[r, c] in f32. */
    public float dequantize(int r, int c) {
        return element(r, c, groups());
    }

    /** The whole dequantized matrix, row-major. */
    public float[] dequantize() {
        int groups = groups();
        float[] w = new float[rows * cols];
        if (isSimple()) {
            // the single-plane integer form, exactly as it has always been computed
            Plane p = planes.getFirst();
            byte[] codes = p.codes();
            float[] scales = p.scales();
            int[] zeros = p.zeros();
            for (int r = 0; r < rows; r++) {
                for (int c = 0; c < cols; c++) {
                    int i = r * groups + gIdx[c];
                    w[r * cols + c] = scales[i] * ((codes[r * cols + c] & 0xFF) - zeros[i]);
                }
            }
            return w;
        }
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) w[r * cols + c] = element(r, c, groups);
        }
        return w;
    }

    /** ŵ[r,c]: the planes' terms summed in plane order, times the global scale (a global scale of 1 is left out). */
    private float element(int r, int c, int groups) {
        if (salient != null && salient.mask()[r * cols + c] != 0) return salient.scales()[r] * salient.codes()[r * cols + c];
        float sum = term(planes.getFirst(), r, c, groups);
        for (int p = 1; p < planes.size(); p++) sum += term(planes.get(p), r, c, groups);
        return globalScale == 1f ? sum : globalScale * sum;
    }

    private boolean isSimple() {
        Plane p = planes.getFirst();
        return planes.size() == 1 && globalScale == 1f && salient == null && scheme.element() == QuantScheme.ElementType.INT
                && !scheme.nonUniform() && p.zeros() != null && p.mins() == null && p.subBlocks() == null;
    }

    /** One plane's contribution to ŵ[r,c]. */
    private float term(Plane p, int r, int c, int groups) {
        int i = r * groups + gIdx[c];
        int q = p.codes()[r * cols + c] & 0xFF;
        float v = value(q - (p.zeros() == null ? 0 : p.zeros()[i]), q);
        float scale = p.scales()[i];
        SubBlocks sb = p.subBlocks();
        int s = -1;
        if (sb != null) {
            s = r * (cols / sb.size()) + c / sb.size();
            scale *= sb.scales()[s];
        }
        float x = scale * v;
        if (p.mins() != null) {
            float min = p.mins()[i];
            if (sb != null && sb.mins() != null) min *= sb.mins()[s];
            x -= min;
        }
        return x;
    }

    /** The value of code {@code q} ({@code shifted} = q minus its zero point, for the integer grid). */
    private float value(int shifted, int q) {
        return switch (scheme.element()) {
            case INT -> scheme.nonUniform() ? level(q) : shifted;
            case TERNARY -> {
                if (q > 2) throw new IllegalStateException(name + ": ternary code " + q);
                yield q - 1;
            }
            case BINARY -> {
                if (q > 1) throw new IllegalStateException(name + ": binary code " + q);
                yield q == 1 ? 1f : -1f;
            }
            case E2M1 -> {
                if (q > 15) throw new IllegalStateException(name + ": E2M1 code " + q);
                yield E2M1[q];
            }
            case E4M3 -> FloatFormats.e4m3ToF32((byte) q);
            case E5M2 -> FloatFormats.e5m2ToF32((byte) q);
            case E2M3 -> {
                if (q > 63) throw new IllegalStateException(name + ": E2M3 code " + q);
                yield FloatFormats.MiniFloat.E2M3.toF32(q);
            }
            case E3M2 -> {
                if (q > 63) throw new IllegalStateException(name + ": E3M2 code " + q);
                yield FloatFormats.MiniFloat.E3M2.toF32(q);
            }
        };
    }

    private float level(int q) {
        List<Float> levels = scheme.levels();
        if (q >= levels.size()) throw new IllegalStateException(name + ": code " + q + " outside a table of " + levels.size());
        return levels.get(q);
    }

    /** E2M1 by code: magnitude index in bits 0–2, sign in bit 3. */
    private static final float[] E2M1 = {0f, 0.5f, 1f, 1.5f, 2f, 3f, 4f, 6f, -0f, -0.5f, -1f, -1.5f, -2f, -3f, -4f, -6f};
}
