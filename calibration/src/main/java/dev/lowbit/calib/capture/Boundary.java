package dev.lowbit.calib.capture;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.List;

/**
 * One layer boundary of calibration activations: one f32 array {@code [b, T, D]} per batch of windows, each kept in
 * native memory while its {@link ActivationSpill}'s budget allows and otherwise written to a spill file and read back
 * whenever the batch runs. Readers take one batch at a time ({@link #open}), so no step needs every batch resident:
 * <pre>
 *   for (int i = 0; i &lt; inputs.size(); i++) {
 *       try (Boundary.Batch b = inputs.open(i)) { runner.runLayer(layer, b.array(), hook); }
 *   }
 * </pre>
 * A spilled batch comes back with the bits it was written with, so a run gives the same output spilled or not. A
 * boundary whose size is known and over the budget spills all its batches.
 */
public final class Boundary implements AutoCloseable {
    private final ActivationSpill spill;
    private final NDManager manager;
    /** Bytes of the whole boundary when known (the spill notice's figure), else 0. */
    private final long expectedBytes;
    private final List<Object> slots = new ArrayList<>(); // NDArray (resident) or ActivationSpill.Spilled

    /**
     * @param manager       the manager spilled batches are read back into (the runner's)
     * @param expectedBytes the boundary's size when known (for the notice), else 0
     */
    public Boundary(ActivationSpill spill, NDManager manager, long expectedBytes) {
        this.spill = spill;
        this.manager = manager;
        this.expectedBytes = expectedBytes;
    }

    /** An empty boundary of the same size on the same spill (e.g. the layer's outputs). */
    public Boundary sibling() {
        return new Boundary(spill, manager, expectedBytes);
    }

    public ActivationSpill spill() {
        return spill;
    }

    public int size() {
        return slots.size();
    }

    /** Batch {@code i}'s shape, {@code [b, T, D]}, without reading it. */
    public Shape shape(int i) {
        return slots.get(i) instanceof NDArray a ? a.getShape() : ((ActivationSpill.Spilled) slots.get(i)).shape();
    }

    /** Tokens of batch {@code i}. */
    public long tokens(int i) {
        Shape s = shape(i);
        return s.get(0) * s.get(1);
    }

    /** Appends a batch, taken over: kept in memory if it fits the budget, else written out and closed. */
    public void add(NDArray a) {
        slots.add(null);
        put(slots.size() - 1, a);
    }

    /** Replaces batch {@code i} (freed) by {@code a} (taken over). */
    public void set(int i, NDArray a) {
        free(i);
        put(i, a);
    }

    /**
     * Keeps {@code a} in memory if it fits the budget and the whole boundary does (a boundary bigger than the budget
     * spills every batch: its batches are read one at a time anyway, and the few a budget could keep would cost their
     * memory to save a little reading — at a 7B shape 128 MiB, the margin between its GPTQ peak and 4 GiB).
     */
    private void put(int i, NDArray a) {
        long bytes = ActivationSpill.bytes(a.getShape());
        if (expectedBytes <= spill.budget() && spill.reserve(bytes)) {
            slots.set(i, a);
            return;
        }
        try {
            long over = Math.max(bytes, expectedBytes - spill.budget());
            slots.set(i, spill.write(a, over));
        } finally {
            a.close();
        }
    }

    /** Batch {@code i} to read: the kept array, or one read back for the caller, freed when the batch is closed. */
    public Batch open(int i) {
        Object s = slots.get(i);
        if (s instanceof NDArray a) return new Batch(a, false);
        return new Batch(((ActivationSpill.Spilled) s).read(manager), true);
    }

    /** Batch {@code i} taken out of the boundary (the caller closes it; the slot is left empty). */
    public NDArray take(int i) {
        Object s = slots.get(i);
        slots.set(i, null);
        if (s instanceof NDArray a) {
            spill.release(ActivationSpill.bytes(a.getShape()));
            return a;
        }
        ActivationSpill.Spilled f = (ActivationSpill.Spilled) s;
        try {
            return f.read(manager);
        } finally {
            f.free();
        }
    }

    /** Whether any batch is on disk. */
    public boolean spilled() {
        for (Object s : slots) if (s instanceof ActivationSpill.Spilled) return true;
        return false;
    }

    /** Frees batch {@code i} (its memory or its file); the slot is left empty. */
    public void free(int i) {
        Object s = slots.get(i);
        if (s instanceof NDArray a) {
            spill.release(ActivationSpill.bytes(a.getShape()));
            a.close();
        } else if (s instanceof ActivationSpill.Spilled f) {
            f.free();
        }
        slots.set(i, null);
    }

    /** Frees every batch (memory and files). */
    @Override
    public void close() {
        for (int i = 0; i < slots.size(); i++) free(i);
        slots.clear();
    }

    /** One batch being read: {@link #array} is valid until {@link #close}. */
    public static final class Batch implements AutoCloseable {
        private final NDArray array;
        private final boolean owned;

        private Batch(NDArray array, boolean owned) {
            this.array = array;
            this.owned = owned;
        }

        public NDArray array() {
            return array;
        }

        @Override
        public void close() {
            if (owned) array.close();
        }
    }
}
