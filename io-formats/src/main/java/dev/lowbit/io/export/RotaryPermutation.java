package dev.lowbit.io.export;

/**
 * The q/k row permutation llama.cpp's converter applies for the {@code llama} architecture.
 *
 * <p>Hugging Face's rotary embedding ("rotate half") pairs element {@code j} of a head with element
 * {@code j + hd/2}; llama.cpp's {@code LLAMA_ROPE_TYPE_NORM} pairs adjacent elements {@code 2i, 2i+1}. The
 * converter therefore reorders the output rows of {@code q_proj} and {@code k_proj} (weights and biases) per head:
 * view the rows as {@code [heads, 2, hd/2]}, swap the last two axes, flatten. As an index formula, for head h,
 * {@code new[h·hd + 2i + j] = old[h·hd + j·hd/2 + i]} with {@code i < hd/2}, {@code j ∈ {0,1}}.
 * {@code heads} is the query head count for q and the key/value head count for k.
 *
 * <p>The qwen2 and qwen3 architectures use NEOX rope in llama.cpp, which pairs halves like Hugging Face: no
 * permutation there.
 */
public final class RotaryPermutation {
    private RotaryPermutation() {
    }

    /**
     * Permutes the rows of a row-major {@code rows × cols} matrix (a PyTorch Linear weight {@code [out, in]}).
     *
     * @param heads query heads for q_proj, key/value heads for k_proj
     * @return a new array; the input is not modified
     */
    public static float[] permuteRows(float[] weight, int rows, int cols, int heads) {
        if ((long) rows * cols != weight.length) {
            throw new IllegalArgumentException("weight has " + weight.length + " elements, not " + rows + "×" + cols);
        }
        if (heads <= 0 || rows % heads != 0 || (rows / heads) % 2 != 0) {
            throw new IllegalArgumentException(rows + " rows do not split into " + heads + " heads of even size");
        }
        int hd = rows / heads;
        int half = hd / 2;
        float[] out = new float[weight.length];
        for (int h = 0; h < heads; h++) {
            for (int i = 0; i < half; i++) {
                for (int j = 0; j < 2; j++) {
                    int dst = h * hd + 2 * i + j;
                    int src = h * hd + j * half + i;
                    System.arraycopy(weight, src * cols, out, dst * cols, cols);
                }
            }
        }
        return out;
    }

    /** Permutes a bias vector ({@code q_proj.bias}, {@code k_proj.bias}) like the rows of its weight. */
    public static float[] permuteBias(float[] bias, int heads) {
        return permuteRows(bias, bias.length, 1, heads);
    }

    /** The source row of destination row {@code dst}: the permutation as an index map, for streaming writers. */
    public static int sourceRow(int dst, int rows, int heads) {
        int hd = rows / heads;
        int h = dst / hd;
        int r = dst % hd;
        return h * hd + (r % 2) * (hd / 2) + r / 2;
    }

    /** The destination row of source row {@code src}: the inverse of {@link #sourceRow}, for readers of a GGUF. */
    public static int destinationRow(int src, int rows, int heads) {
        int hd = rows / heads;
        int half = hd / 2;
        int h = src / hd;
        int r = src % hd;
        return h * hd + 2 * (r % half) + r / half;
    }
}
