package dev.lowbit.calib.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import dev.lowbit.io.SharedData;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Forward passes too big for one go run in chunks; each must give what the unchunked pass gives.
 *
 * <p>An MLP input too big for one pass ({@link LlamaRunner#MLP_CHUNK_FLOATS}: tiny-llama-code's 1536-wide intermediates
 * over 11,000 rows, chunks of 5,461, 5,461 and 78) runs a chunk of rows at a time: each output row must be what the MLP
 * gives that row in a small, unchunked input. Rows at the start, on both sides of the chunk boundary and at the end
 * are checked; a chunk written at the wrong offset, a lost last chunk or a row range off by one would not match.
 * A layer over 9 windows of 512 under a hook that takes no row chunks (8 heads: 9 · 8 · 512² >
 * {@link LlamaRunner#ATTENTION_CHUNK_FLOATS}: scores in chunks of 8 and 1 window) must give each window what the
 * layer gives that window alone.
 */
class ForwardChunksTest {
    @Test
    void chunkedRowsEqualTheUnchunkedMlp() {
        int rows = 11_000, d = 512;
        assertTrue((long) rows * 1536 > LlamaRunner.MLP_CHUNK_FLOATS, "the input must be chunked");
        float[] x = new float[rows * d];
        SplittableRandom rnd = new SplittableRandom(21);
        for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
        try (LlamaRunner r = LlamaRunner.open(SharedData.tinyLlama(), 2);
             NDArray m = r.manager().create(x, new Shape(rows, d));
             NDArray out = r.mlp(1, m)) {
            assertEquals(new Shape(rows, d), out.getShape());
            for (int from : new int[] {0, 10_890, 10_968}) {
                int to = from + 32;
                try (NDArray part = m.get(new NDIndex("{}:{}", from, to));
                     NDArray want = r.mlp(1, part);
                     NDArray got = out.get(new NDIndex("{}:{}", from, to))) {
                    float[] a = want.toFloatArray(), b = got.toFloatArray();
                    double scale = 0;
                    for (float v : a) scale = Math.max(scale, Math.abs(v));
                    for (int i = 0; i < a.length; i++) {
                        // the same f32 operations per row; only the GEMM's blocking over rows may differ: 1e-5 of the
                        // largest output (f32 sums of 1536 products carry ~1e-6 relative rounding)
                        assertEquals(a[i], b[i], 1e-5 * scale, "row " + (from + i / d) + " column " + i % d);
                    }
                }
            }
        }
    }

    @Test
    void chunkedWindowsEqualUnchunkedAttention() {
        int windows = 9, t = 512, d = 512;
        assertTrue((long) windows * 8 * t * t > LlamaRunner.ATTENTION_CHUNK_FLOATS, "the scores must be chunked");
        float[] x = new float[windows * t * d];
        SplittableRandom rnd = new SplittableRandom(23);
        for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
        try (LlamaRunner r = LlamaRunner.open(SharedData.tinyLlama(), 2);
             NDArray in = r.manager().create(x, new Shape(windows, t, d));
             // a hook that does not accept row chunks (as one that keeps its arrays) keeps the windows in one pass:
             // only the scores are chunked
             NDArray out = r.runLayer(2, in, (l, input, a) -> {}, null)) {
            assertEquals(new Shape(windows, t, d), out.getShape());
            for (int w : new int[] {0, 7, 8}) {
                try (NDArray one = in.get(new NDIndex("{}:{}", w, w + 1));
                     NDArray want = r.runLayer(2, one, (l, input, a) -> {}, null);
                     NDArray got = out.get(new NDIndex("{}:{}", w, w + 1))) {
                    float[] a = want.toFloatArray(), b = got.toFloatArray();
                    double scale = 0;
                    for (float v : a) scale = Math.max(scale, Math.abs(v));
                    // the same per-window operations; only batched GEMMs' blocking may differ: 1e-5 of the largest output
                    for (int i = 0; i < a.length; i++) assertEquals(a[i], b[i], 1e-5 * scale, "window " + w + " element " + i);
                }
            }
        }
    }

    /**
     * The attention block over more windows than {@link LlamaRunner#ATTENTION_INPUT_CHUNK_FLOATS} allows in one pass
     * (tiny-llama-code: 8 windows of 512 per pass; 70 windows of 128 → passes of 32 + 32 + 6) must give each window what that window alone gives.
     */
    @Test
    void windowChunksEqualUnchunkedAttentionBlocks() {
        int windows = 70, t = 128, d = 512;
        assertTrue((long) windows * t * d > LlamaRunner.ATTENTION_INPUT_CHUNK_FLOATS, "the input must be chunked");
        float[] x = new float[windows * t * d];
        SplittableRandom rnd = new SplittableRandom(29);
        for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
        try (LlamaRunner r = LlamaRunner.open(SharedData.tinyLlama(), 2);
             NDArray in = r.manager().create(x, new Shape(windows, t, d));
             NDArray out = r.attention(3, in)) {
            assertEquals(new Shape((long) windows * t, d), out.getShape());
            for (int w : new int[] {0, 31, 32, 64, 69}) {
                try (NDArray one = in.get(new NDIndex("{}:{}", w, w + 1));
                     NDArray want = r.attention(3, one);
                     NDArray got = out.get(new NDIndex("{}:{}", (long) w * t, (long) (w + 1) * t))) {
                    float[] a = want.toFloatArray(), b = got.toFloatArray();
                    double scale = 0;
                    for (float v : a) scale = Math.max(scale, Math.abs(v));
                    // the same per-window operations; only the GEMMs' blocking over rows may differ: 1e-5 of the largest output
                    for (int i = 0; i < a.length; i++) assertEquals(a[i], b[i], 1e-5 * scale, "window " + w + " element " + i);
                }
            }
        }
    }

    /**
     * An observing hook (which accumulates over rows) lets the runner chunk a big batch: 90 windows of 128 (attention
     * in passes of 32 windows, the MLP's 11,520 rows in chunks of 5,461) through layer 2 must give every Linear input
     * the max |x| per channel and the token count that the same windows give 30 at a time (unchunked), with the layer
     * run to its end and stopped at down_proj's input. A chunk the hook missed or saw twice changes the token count; a
     * wrong chunk offset changes the maxima.
     */
    @Test
    void observingHooksSeeEveryChunk() {
        int windows = 90, t = 128, d = 512;
        float[] x = new float[windows * t * d];
        SplittableRandom rnd = new SplittableRandom(31);
        for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
        try (LlamaRunner r = LlamaRunner.open(SharedData.tinyLlama(), 2);
             NDArray in = r.manager().create(x, new Shape(windows, t, d))) {
            Architecture arch = r.config().architecture();
            for (LinearInput until : new LinearInput[] {null, LinearInput.DOWN}) {
                var chunked = new dev.lowbit.calib.observe.ModuleObservers<>(dev.lowbit.ptq.observe.MaxAbsObserver::new);
                var single = new dev.lowbit.calib.observe.ModuleObservers<>(dev.lowbit.ptq.observe.MaxAbsObserver::new);
                var all = java.util.EnumSet.allOf(LinearInput.class);
                var hook = new dev.lowbit.calib.observe.ObservingHook(arch, all, java.util.List.of(chunked));
                assertTrue(hook.acceptsRowChunks());
                try (NDArray out = r.runLayer(2, in, hook, until)) {
                    assertEquals(until == null, out != null);
                }
                var oneHook = new dev.lowbit.calib.observe.ObservingHook(arch, all, java.util.List.of(single));
                for (int w = 0; w < windows; w += 30) { // 30 windows: 1.97 M input values, 3840 × 1536 MLP values: one pass each
                    try (NDArray part = in.get(new NDIndex("{}:{}", w, w + 30)); NDArray out = r.runLayer(2, part, oneHook, until)) {
                        assertEquals(until == null, out != null);
                    }
                }
                for (Linear l : Linear.values()) {
                    String key = dev.lowbit.calib.observe.ObservingHook.key(arch, 2, l);
                    assertEquals((long) windows * t, chunked.get(key).tokens(), key);
                    float[] a = single.get(key).maxAbs(), b = chunked.get(key).maxAbs();
                    // maxima of the same per-row values; only the GEMMs' blocking over rows may differ (1e-5 relative)
                    for (int c = 0; c < a.length; c++) assertEquals(a[c], b[c], 1e-5 * Math.abs(a[c]) + 1e-6, key + " channel " + c);
                }
            }
        }
    }
}
