package dev.lowbit.calib.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import dev.lowbit.calib.capture.ActivationSpill;
import dev.lowbit.io.SharedData;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

/**
 * A staged pass must give, bit for bit, what running the layer again from its input gives ({@link LlamaRunner#runLayer}
 * with the weights of that moment): GPTQ's true-sequential schedule on tiny-llama-code's layer 2, each stage's Linears
 * replaced by a rounded copy (as a quantizer does) once the stage's input was seen, run both ways on separate runners:
 * every Linear input the hooks see and the layer's output must have the same bits. Two batch shapes: 4 windows of 64
 * (every pass whole, as the pipeline's batches of 8 × 512) and 48 windows of 128 (attention in passes of 32 + 16
 * windows, the MLP's 6,144 rows in chunks of 5,461 + 683: the kept state is split the same way); and a pass that does
 * not keep down_proj's input (the output computes it again). Parked: the kept state is written to spill files after
 * every stage (budget 0) and read back by the next, and the layer input is handed in again each time as a fresh copy (a
 * spilled input read back). A kept state used
 * after the weights it came from changed, a chunk kept at the wrong offset, or a stage that skipped part of its
 * computation would change bits.
 */
class StagedLayerTest {
    private static final int LAYER = 2;

    @ParameterizedTest
    @CsvSource({"4, 64, true, false", "48, 128, true, false", "4, 64, false, false", "4, 64, true, true"})
    void sequentialStagesEqualRunningTheLayerAgain(int windows, int tokens, boolean keepHidden, boolean parked) throws java.io.IOException {
        float[] x = input(windows, tokens, 41);
        java.nio.file.Path dir = java.nio.file.Files.createTempDirectory("staged-spill");
        try (ActivationSpill spill = new ActivationSpill(0, dir, m -> {});
             LlamaRunner again = LlamaRunner.open(SharedData.tinyLlama(), 2);
             LlamaRunner staged = LlamaRunner.open(SharedData.tinyLlama(), 2);
             NDArray in1 = again.manager().create(x, new Shape(windows, tokens, 512));
             NDArray in2 = staged.manager().create(x, new Shape(windows, tokens, 512))) {
            List<float[]> seenAgain = new ArrayList<>(), seenStaged = new ArrayList<>();
            float[] outAgain, outStaged;
            try (StagedLayer pass = new StagedLayer(staged, LAYER, in2, keepHidden)) {
                for (LinearInput stage : LinearInput.values()) {
                    assertEquals(null, again.runLayer(LAYER, in1, recorder(stage, seenAgain), stage));
                    if (parked) {
                        try (NDArray copy = staged.manager().create(x, new Shape(windows, tokens, 512))) {
                            pass.input(copy).advance(stage, recorder(stage, seenStaged));
                        }
                        pass.park(spill, 0);
                    } else {
                        pass.advance(stage, recorder(stage, seenStaged));
                    }
                    for (Linear l : stage.readers()) {
                        again.setLinearWeight(LAYER, l, rounded(again.linearWeight(LAYER, l)));
                        staged.setLinearWeight(LAYER, l, rounded(staged.linearWeight(LAYER, l)));
                    }
                }
                try (NDArray a = again.runLayer(LAYER, in1, LinearHook.NONE); NDArray b = pass.input(in2).output()) {
                    outAgain = a.toFloatArray();
                    outStaged = b.toFloatArray();
                }
            }
            if (parked) {
                assertTrue(spill.spilledBytes() > 0, "the state was written");
                try (java.util.stream.Stream<java.nio.file.Path> left = java.nio.file.Files.list(spill.directory())) {
                    assertEquals(0, left.count(), "the output frees the parked files");
                }
            }
            assertEquals(seenAgain.size(), seenStaged.size(), "inputs seen");
            assertTrue(seenAgain.size() >= 4);
            for (int i = 0; i < seenAgain.size(); i++) assertArrayEquals(seenAgain.get(i), seenStaged.get(i), 0f, "input " + i);
            assertBits(outAgain, outStaged);
        } finally {
            assertFalse(java.nio.file.Files.exists(dir) && java.nio.file.Files.list(dir).findAny().isPresent(), "spill directory removed");
            java.nio.file.Files.deleteIfExists(dir);
        }
    }

    /**
     * A state kept past a change of the weights it came from is not used: after the {down} stage kept down_proj's input,
     * q_proj is replaced; the output must be the layer run again with the new q_proj (which differs from the output the
     * stale state would give).
     */
    @Test
    void stateKeptBeforeAnEarlierWeightChangedIsComputedAgain() {
        float[] x = input(4, 64, 43);
        try (LlamaRunner r = LlamaRunner.open(SharedData.tinyLlama(), 2);
             NDArray in = r.manager().create(x, new Shape(4, 64, 512))) {
            float[] before;
            try (NDArray a = r.runLayer(LAYER, in, LinearHook.NONE)) {
                before = a.toFloatArray();
            }
            try (StagedLayer pass = new StagedLayer(r, LAYER, in)) {
                pass.advance(LinearInput.DOWN, LinearHook.NONE);
                r.setLinearWeight(LAYER, Linear.Q, rounded(r.linearWeight(LAYER, Linear.Q)));
                float[] want, got;
                try (NDArray a = r.runLayer(LAYER, in, LinearHook.NONE); NDArray b = pass.output()) {
                    want = a.toFloatArray();
                    got = b.toFloatArray();
                }
                assertFalse(java.util.Arrays.equals(before, want), "rounding q_proj must change the output");
                assertBits(want, got);
            }
        }
    }

    /** A hook that copies the inputs of {@code stage} (it keeps no array, so row chunks are fine). */
    private static LinearHook recorder(LinearInput stage, List<float[]> seen) {
        return new LinearHook() {
            @Override
            public void onInput(int layer, LinearInput input, NDArray a) {
                if (input == stage) seen.add(a.toFloatArray());
            }

            @Override
            public boolean acceptsRowChunks() {
                return true;
            }
        };
    }

    /** Weights on a grid of 1/64: a stand-in for a quantizer's dequantized output. */
    private static float[] rounded(float[] w) {
        float[] r = new float[w.length];
        for (int i = 0; i < w.length; i++) r[i] = Math.round(w[i] * 64) / 64f;
        return r;
    }

    private static float[] input(int windows, int tokens, long seed) {
        float[] x = new float[windows * tokens * 512];
        SplittableRandom rnd = new SplittableRandom(seed);
        for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
        return x;
    }

    /** Same bits (NaN included): the same operations on the same inputs. */
    private static void assertBits(float[] want, float[] got) {
        assertEquals(want.length, got.length);
        for (int i = 0; i < want.length; i++) {
            if (Float.floatToRawIntBits(want[i]) != Float.floatToRawIntBits(got[i])) {
                throw new AssertionError("element " + i + ": " + want[i] + " vs " + got[i]);
            }
        }
    }
}
