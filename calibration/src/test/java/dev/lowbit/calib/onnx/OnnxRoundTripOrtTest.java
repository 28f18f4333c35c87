package dev.lowbit.calib.onnx;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lowbit.io.SharedData;
import dev.lowbit.io.onnx.OnnxModel;
import dev.lowbit.io.onnx.OnnxOpsetUpgrade;
import dev.lowbit.io.onnx.OnnxReader;
import dev.lowbit.io.onnx.OnnxTensor;
import dev.lowbit.io.onnx.OnnxTestData;
import dev.lowbit.io.onnx.OnnxWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The three shared ONNX models read, written by lowbit and run by ONNX Runtime: the written model reads back equal,
 * re-writing it gives the same bytes, and ORT gives bit-identical outputs for the original file and lowbit's copy on
 * the shipped test inputs (same graph, same weights, same kernels: no tolerance is needed). The opset-1 MNIST, which is
 * upgraded, is compared with the opset-8 copy of the same network and with its samples' labels.
 */
class OnnxRoundTripOrtTest {
    static final Path MNIST_OLD = SharedData.data("onnx/mnist/model.onnx");
    static final Path MNIST_ORT = SharedData.data("onnx/ort/mnist.onnx");
    static final Path VOICE = SharedData.data("onnx/ort/test_voice_commands/model.onnx");

    @Test
    void writtenModelsReadBackEqualAndRewriteToTheSameBytes(@TempDir Path dir) throws Exception {
        for (Path p : List.of(MNIST_OLD, MNIST_ORT, VOICE)) {
            OnnxModel m = OnnxReader.read(p);
            byte[] once = OnnxWriter.toBytes(m);
            OnnxModel back = OnnxReader.parse(once, "copy of " + p);
            assertEquals(m, back, p.toString());
            assertArrayEquals(once, OnnxWriter.toBytes(back), p + ": a second write changes bytes");
            // with every initializer external: same tensors back, data confined to the directory
            Path sub = Files.createDirectory(dir.resolve(p.getParent().getFileName() + "-" + p.getFileName()));
            OnnxWriter.write(m, sub.resolve("model.onnx"), "model.onnx.data", 0);
            OnnxModel ext = OnnxReader.read(sub.resolve("model.onnx"));
            assertEquals(m.graph().initializers(), ext.graph().initializers(), p.toString());
        }
    }

    @Test
    void ortRunsLowbitsCopyBitIdentically(@TempDir Path dir) throws Exception {
        for (Path p : List.of(MNIST_ORT, VOICE)) {
            OnnxModel m = OnnxReader.read(p);
            Path written = dir.resolve(p.getFileName() + "-ext");
            Files.createDirectory(written);
            OnnxWriter.write(m, written.resolve("model.onnx"), "weights.bin", 256);
            try (OrtRunner original = OrtRunner.of(p, 1); OrtRunner copy = OrtRunner.of(m, "copy", 1);
                 OrtRunner external = OrtRunner.of(written.resolve("model.onnx"), 1)) {
                for (OnnxTestData.Sample s : samples(p, original)) {
                    Map<String, OnnxTensor> feeds = OnnxFeeds.of(original, s);
                    Map<String, OnnxTensor> a = original.run(feeds, List.of());
                    assertEquals(a, copy.run(feeds, List.of()), p + " " + s.label());
                    assertEquals(a, external.run(feeds, List.of()), p + " " + s.label() + " (external data)");
                    for (Map.Entry<String, OnnxTensor> e : s.outputs().entrySet()) {
                        if (e.getValue().dataType() != dev.lowbit.io.onnx.OnnxDataType.FLOAT) continue; // MNIST: labels
                        // voice-commands ships ORT's own output: softmax probabilities, equal up to f32 rounding
                        float[] want = e.getValue().floats(), got = a.get(e.getKey()).floats();
                        for (int i = 0; i < want.length; i++) assertEquals(want[i], got[i], 1e-6, "shipped output " + i);
                    }
                }
            }
        }
    }

    @Test
    void opset1MnistIsUpgradedAndMatchesTheOpset8Copy() {
        OnnxModel old = OnnxReader.read(MNIST_OLD);
        OnnxModel up = OnnxOpsetUpgrade.upgrade(old, 21, MNIST_OLD.toString());
        assertEquals(21, up.opset(""));
        assertTrue(up.graph().nodes().stream().noneMatch(n -> n.opType().equals("Constant")));
        try (OrtRunner upgraded = OrtRunner.of(up, "upgraded", 1); OrtRunner ref = OrtRunner.of(MNIST_ORT, 1)) {
            for (OnnxTestData.Sample s : samples(MNIST_OLD, upgraded)) {
                Map<String, OnnxTensor> feeds = OnnxFeeds.of(upgraded, s);
                OnnxTensor a = upgraded.run(feeds, List.of()).values().iterator().next();
                OnnxTensor b = ref.run(feeds, List.of()).values().iterator().next();
                float[] x = a.floats(), y = b.floats();
                // the two CNTK exports hold the same weights; kernels may order sums differently: 1e-4 relative
                for (int i = 0; i < x.length; i++) assertEquals(y[i], x[i], 1e-4 * Math.max(1, Math.abs(y[i])), s.label() + " logit " + i);
                int label = label(s.outputs().values().iterator().next());
                assertEquals(label, OnnxFeeds.argmax(a)[0], s.label() + ": predicted class vs the sample's label");
            }
        }
    }

    /** The shipped samples: the zoo MNIST's .npz files serve both MNIST copies. */
    static List<OnnxTestData.Sample> samples(Path model, OrtRunner r) {
        Path data = model.equals(VOICE) ? VOICE.getParent() : MNIST_OLD.getParent();
        return OnnxTestData.load(data, r.inputNames(), r.outputNames());
    }

    /** The class of a one-hot int32 label. */
    static int label(OnnxTensor oneHot) {
        java.nio.ByteBuffer b = oneHot.data().asByteBuffer().order(java.nio.ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < oneHot.elementCount(); i++) if (b.getInt(4 * i) == 1) return i;
        throw new AssertionError("not one-hot");
    }
}
