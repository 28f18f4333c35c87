package dev.lowbit.kernels.hadamard;

/** The scalar reference: the butterfly stages of {@link WalshHadamardKernels} as plain loops. */
final class ScalarWalshHadamard implements WalshHadamardKernels {
    static final ScalarWalshHadamard INSTANCE = new ScalarWalshHadamard();

    private ScalarWalshHadamard() {}

    @Override
    public void fwht(float[] x, int off, int n) {
        WalshHadamardKernels.checkArgs(x, off, n);
        for (int h = 1; h < n; h <<= 1) {
            for (int i = off; i < off + n; i += h << 1) {
                for (int j = i; j < i + h; j++) {
                    float a = x[j];
                    float b = x[j + h];
                    x[j] = a + b;
                    x[j + h] = a - b;
                }
            }
        }
    }

    @Override
    public String name() {
        return "scalar";
    }
}
