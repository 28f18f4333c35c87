package dev.lowbit.ptq.onnx;

import java.util.ArrayList;
import java.util.List;

/** Every value an activation took, kept for the histogram calibrators (ORT concatenates them too). */
final class Values {
    /** 2^28 floats = 1 GiB: past that a tensor's calibration needs fewer inputs. */
    static final long MAX = 1L << 28;
    private final List<float[]> chunks = new ArrayList<>();
    private long size, rows;

    synchronized void add(float[] x, int r) {
        if (size + x.length > MAX) throw new IllegalArgumentException("more than " + MAX + " calibration values for one tensor: use fewer inputs");
        chunks.add(x.clone());
        size += x.length;
        rows += r;
    }

    synchronized long rows() {
        return rows;
    }

    synchronized float[] all() {
        float[] a = new float[(int) size];
        int p = 0;
        for (float[] c : chunks) {
            System.arraycopy(c, 0, a, p, c.length);
            p += c.length;
        }
        return a;
    }
}
