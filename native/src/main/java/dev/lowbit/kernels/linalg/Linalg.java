package dev.lowbit.kernels.linalg;

/**
 * Entry point to the linear-algebra kernels: the implementation chosen once at start-up (Vector API when the
 * {@code jdk.incubator.vector} module is present and its preferred species is at least 256 bits wide, else the scalar
 * reference; {@code -Dlowbit.linalg=scalar} forces the reference), plus the compound operations GPTQ needs.
 */
public final class Linalg {
    private static final System.Logger LOG = System.getLogger(Linalg.class.getName());
    private static final LinalgKernels KERNELS = choose();

    private Linalg() {}

    /** The kernels chosen at start-up. */
    public static LinalgKernels kernels() {
        return KERNELS;
    }

    private static LinalgKernels choose() {
        if ("scalar".equals(System.getProperty("lowbit.linalg"))) {
            LOG.log(System.Logger.Level.DEBUG, "lowbit linalg: scalar (forced by -Dlowbit.linalg=scalar)");
            return new ScalarLinalg();
        }
        if (ModuleLayer.boot().findModule("jdk.incubator.vector").isEmpty()) {
            LOG.log(System.Logger.Level.WARNING, "lowbit linalg: scalar (jdk.incubator.vector not present; add --add-modules jdk.incubator.vector)");
            return new ScalarLinalg();
        }
        try {
            LinalgKernels k = PanamaLinalg.createIfUseful();
            if (k != null) {
                LOG.log(System.Logger.Level.DEBUG, "lowbit linalg: Vector API, " + PanamaLinalg.describe());
                return k;
            }
        } catch (LinkageError e) {
            LOG.log(System.Logger.Level.WARNING, "lowbit linalg: scalar (Vector API unavailable: " + e + ")");
            return new ScalarLinalg();
        }
        LOG.log(System.Logger.Level.DEBUG, "lowbit linalg: scalar (vector species narrower than 256 bits)");
        return new ScalarLinalg();
    }

    /**
     * The inverse of an SPD matrix through its Cholesky factor, what {@code torch.cholesky_inverse(torch.linalg.cholesky(A))}
     * computes: A = L·Lᵀ, A⁻¹ = L⁻ᵀ·L⁻¹. Returns a new n×n array; {@code a} is not modified.
     */
    public static double[] spdInverse(LinalgKernels k, int n, double[] a) {
        double[] l = a.clone();
        k.cholesky(n, l);
        k.invertLower(n, l);
        double[] inv = new double[n * n];
        k.lowerGram(n, l, inv);
        return inv;
    }

    /**
     * The upper Cholesky factor U of A⁻¹ (A⁻¹ = Uᵀ·U), GPTQ's {@code Hinv}. Returns a new n×n array; {@code a} is not
     * modified. See {@link #upperCholeskyOfInverseInPlace}.
     */
    public static double[] upperCholeskyOfInverse(LinalgKernels k, int n, double[] a) {
        double[] u = a.clone();
        upperCholeskyOfInverseInPlace(k, n, u);
        return u;
    }

    /**
     * Overwrites the SPD n×n matrix {@code a} with the upper Cholesky factor U of its inverse (A⁻¹ = Uᵀ·U), with one
     * Cholesky and one triangular inverse instead of the reference's Cholesky, inverse, Gram product and second
     * Cholesky (half the flops, no n×n temporaries but the triangular inverse's own). With P the reversal
     * permutation, B = P·A·P is A's row-major array read backwards; B = M·Mᵀ (M lower) gives
     * A⁻¹ = P·M⁻ᵀ·M⁻¹·P = Vᵀ·V with V = P·M⁻¹·P upper-triangular with a positive diagonal, so V = U by the
     * uniqueness of the Cholesky factor; V is M⁻¹'s array read backwards again.
     *
     * @throws ArithmeticException if A is not numerically positive definite
     */
    public static void upperCholeskyOfInverseInPlace(LinalgKernels k, int n, double[] a) {
        reverse(a, n * n);
        k.cholesky(n, a);
        k.invertLower(n, a);
        reverse(a, n * n);
    }

    /**
     * {@link #upperCholeskyOfInverseInPlace} on a symmetric matrix given by its upper triangle alone, packed row by row
     * (row i's entries [i, n) start at i·n − i(i−1)/2: n(n+1)/2 values, half of the n × n array; at n = 11008 that is
     * 0.48 GB instead of 0.97 GB). On return {@code upper} holds U, packed the same way. Bit for bit the full version:
     * the packed upper triangle read backwards is the packed lower triangle of P·A·P (row n−1−i of A, read backwards,
     * is row i of P·A·P's lower triangle), the only part the Cholesky reads, and the factor's inverse read backwards
     * again is U's upper triangle.
     *
     * @throws ArithmeticException if A is not numerically positive definite
     */
    public static void upperCholeskyOfInversePackedInPlace(LinalgKernels k, int n, double[] upper) {
        if (upper.length != packedSize(n)) {
            throw new IllegalArgumentException("Linalg: " + upper.length + " values do not pack a " + n + " × " + n + " triangle");
        }
        reverse(upper, upper.length);
        k.choleskyPacked(n, upper);
        k.invertLowerPacked(n, upper);
        reverse(upper, upper.length);
    }

    /** n(n+1)/2: the values of a packed n × n triangle. */
    public static int packedSize(int n) {
        return Math.toIntExact((long) n * (n + 1) / 2);
    }

    /** Row starts of a full row-major n × n array: i·n. */
    static int[] fullRows(int n) {
        int[] rs = new int[n];
        for (int i = 0; i < n; i++) rs[i] = Math.multiplyExact(i, n);
        return rs;
    }

    /** Row starts of a packed lower triangle: i(i+1)/2. */
    static int[] packedRows(int n) {
        int[] rs = new int[n];
        for (int i = 0; i < n; i++) rs[i] = Math.toIntExact((long) i * (i + 1) / 2);
        return rs;
    }

    private static void reverse(double[] a, int len) {
        for (int i = 0, j = len - 1; i < j; i++, j--) {
            double t = a[i];
            a[i] = a[j];
            a[j] = t;
        }
    }

    /**
     * The upper Cholesky factor U of an SPD matrix, A = Uᵀ·U ({@code torch.linalg.cholesky(A, upper=True)}): the
     * transpose of the lower factor. Factors {@code a} in place (its lower triangle becomes L) and returns U.
     */
    public static double[] choleskyUpper(LinalgKernels k, int n, double[] a) {
        k.cholesky(n, a);
        double[] u = new double[n * n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j <= i; j++) u[j * n + i] = a[i * n + j];
        }
        return u;
    }

    /**
     * The GPTQ lazy-batch update W[:, j:] −= E·Hinv[i:j, j:]: W is {@code rows × cols}, E the {@code rows × (j − i)}
     * scaled errors of the block just quantized, Hinv the {@code cols × cols} upper factor in f32.
     */
    public static void gptqBlockUpdate(LinalgKernels k, float[] w, int rows, int cols, float[] err, int i, int j, float[] hinv) {
        gptqBlockUpdate(k, w, rows, cols, err, i, j, hinv, i * cols);
    }

    /**
     * {@link #gptqBlockUpdate(LinalgKernels, float[], int, int, float[], int, int, float[])} with Hinv's rows [i, j)
     * (each {@code cols} long) starting at {@code hinvRows} in {@code hinv}: a sweep that holds only the block's rows
     * of the factor in f32 passes 0.
     */
    public static void gptqBlockUpdate(LinalgKernels k, float[] w, int rows, int cols, float[] err, int i, int j, float[] hinv,
                                       int hinvRows) {
        if (j >= cols || rows == 0) return;
        k.gemm(rows, cols - j, j - i, -1f, err, 0, j - i, hinv, hinvRows + j, cols, w, j, cols);
    }
}
