package dev.lowbit.io.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lowbit.io.BadInputException;
import dev.lowbit.io.SharedData;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hostile ONNX files: each is refused with one line naming the cause, fast, without allocating what a lying header
 * claims, and an external-data path that leaves the model's directory is never opened.
 */
class OnnxHostileInputTest {
    private static final Path MNIST = SharedData.data("onnx/ort/mnist.onnx");

    private static BadInputException rejects(Path file, String fragment) {
        BadInputException e = assertTimeoutPreemptively(Duration.ofSeconds(5),
                () -> assertThrows(BadInputException.class, () -> OnnxReader.read(file)));
        assertTrue(e.getMessage().contains(fragment), "message '" + e.getMessage() + "' should mention '" + fragment + "'");
        assertFalse(e.userMessage().contains("\n"), "one line");
        assertEquals(file.toString(), e.source());
        return e;
    }

    /** A one-node model y = MatMul(x, w) with initializer {@code w}. */
    static OnnxModel tiny(OnnxTensor w, List<OnnxNode> extraNodes) {
        List<OnnxNode> nodes = new ArrayList<>(List.of(new OnnxNode("mm", "MatMul", "", List.of("x", w.name()), List.of("y"), List.of())));
        nodes.addAll(extraNodes);
        OnnxGraph g = new OnnxGraph("g", nodes, List.of(w),
                List.of(new OnnxValueInfo("x", OnnxDataType.FLOAT, List.of(OnnxValueInfo.Dim.of(1), OnnxValueInfo.Dim.of(2)), "")),
                List.of(new OnnxValueInfo("y", OnnxDataType.FLOAT, null, "")), List.of(), "");
        return new OnnxModel(8, List.of(new OnnxModel.OpsetId("", 13)), "t", "", "", 0, "", g, List.of());
    }

    private static OnnxTensor w() {
        return OnnxTensor.ofFloats("w", new long[]{2, 2}, new float[]{1, 2, 3, 4});
    }

    @Test
    void truncatedProtobufAtEveryLength(@TempDir Path dir) throws Exception {
        byte[] full = Files.readAllBytes(MNIST);
        Path f = dir.resolve("t.onnx");
        // every prefix that cuts a record in the middle must fail (a cut on a record boundary may be a valid message)
        int failures = 0;
        for (int len : new int[]{1, 2, 3, 10, 100, 1000, 5000, full.length / 2, full.length - 1}) {
            Files.write(f, Arrays.copyOf(full, len));
            try {
                OnnxReader.read(f);
            } catch (BadInputException e) {
                assertFalse(e.userMessage().contains("\n"));
                failures++;
            }
        }
        assertEquals(9, failures);
        Files.write(f, Arrays.copyOf(full, full.length - 1));
        rejects(f, "runs past the end");
        Files.write(f, new byte[0]);
        rejects(f, "empty file");
    }

    @Test
    void lengthThatLiesAboutItsSizeIsRefusedWithoutAllocating(@TempDir Path dir) throws Exception {
        // field 7 (graph), LEN, length 2^62: must not allocate or read past the end
        byte[] b = {0x08, 0x08, 0x3a, (byte) 0x80, (byte) 0x80, (byte) 0x80, (byte) 0x80, (byte) 0x80, (byte) 0x80, (byte) 0x80, (byte) 0x80, 0x40};
        Path f = dir.resolve("lie.onnx");
        Files.write(f, b);
        rejects(f, "runs past the end of its message");
    }

    @Test
    void absurdDimsAndRawDataOfTheWrongSize(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("dims.onnx");
        OnnxTensor huge = new OnnxTensor("w", OnnxDataType.FLOAT, new long[]{1L << 40, 1L << 40}, java.lang.foreign.MemorySegment.ofArray(new byte[16]), "");
        Files.write(f, OnnxWriter.toBytes(tiny(huge, List.of())));
        rejects(f, "tensor 'w': dims [1099511627776, 1099511627776]");
        OnnxTensor lying = new OnnxTensor("w", OnnxDataType.FLOAT, new long[]{2, 3}, java.lang.foreign.MemorySegment.ofArray(new byte[16]), "");
        Files.write(f, OnnxWriter.toBytes(tiny(lying, List.of())));
        rejects(f, "raw_data holds 16 bytes");
        OnnxTensor negative = new OnnxTensor("w", OnnxDataType.FLOAT, new long[]{-1, -16}, java.lang.foreign.MemorySegment.ofArray(new byte[16]), "");
        Files.write(f, OnnxWriter.toBytes(tiny(negative, List.of())));
        rejects(f, "negative dimension");
    }

    @Test
    void unknownDataType(@TempDir Path dir) throws Exception {
        byte[] good = OnnxWriter.toBytes(tiny(w(), List.of()));
        // the initializer's data_type record is "10 01" (field 2, FLOAT): make it 99
        int at = indexOf(good, new byte[]{0x10, 0x01, 0x42, 0x01, 'w'});
        assertTrue(at > 0);
        good[at + 1] = 99;
        Path f = dir.resolve("dtype.onnx");
        Files.write(f, good);
        rejects(f, "tensor 'w': unknown data_type 99");
    }

    @Test
    void cyclesAndUndefinedValues(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("cycle.onnx");
        List<OnnxNode> cycle = List.of(new OnnxNode("a", "Relu", "", List.of("q"), List.of("p"), List.of()),
                new OnnxNode("b", "Relu", "", List.of("p"), List.of("q"), List.of()));
        Files.write(f, OnnxWriter.toBytes(tiny(w(), cycle)));
        rejects(f, "cycle");
        List<OnnxNode> self = List.of(new OnnxNode("s", "Relu", "", List.of("r"), List.of("r"), List.of()));
        Files.write(f, OnnxWriter.toBytes(tiny(w(), self)));
        rejects(f, "reads its own output");
        List<OnnxNode> undefined = List.of(new OnnxNode("u", "Relu", "", List.of("nowhere"), List.of("z"), List.of()));
        Files.write(f, OnnxWriter.toBytes(tiny(w(), undefined)));
        rejects(f, "reads 'nowhere', which nothing defines");
        List<OnnxNode> twice = List.of(new OnnxNode("d", "Relu", "", List.of("y"), List.of("y"), List.of()));
        Files.write(f, OnnxWriter.toBytes(tiny(w(), twice)));
        rejects(f, "defined twice");
    }

    @Test
    void externalDataOutsideTheDirectoryIsNeverOpened(@TempDir Path dir) throws Exception {
        Path model = Files.createDirectories(dir.resolve("m"));
        Path secret = dir.resolve("secret.bin");
        Files.write(secret, new byte[64]);
        for (String location : List.of("../secret.bin", secret.toString(), "sub/../../secret.bin")) {
            Path f = model.resolve("x.onnx");
            Files.write(f, external(location, 0, 16));
            BadInputException e = rejects(f, "'" + location + "'");
            assertTrue(e.getMessage().contains("model's directory"), e.getMessage());
        }
        // a link inside the directory that points outside it: refused on its real path, never mapped
        Files.createSymbolicLink(model.resolve("link.bin"), secret);
        Path f = model.resolve("x.onnx");
        Files.write(f, external("link.bin", 0, 16));
        rejects(f, "leads outside the model's directory");
    }

    @Test
    void externalDataPastTheEndOfItsFile(@TempDir Path dir) throws Exception {
        Files.write(dir.resolve("w.bin"), new byte[20]);
        Path f = dir.resolve("x.onnx");
        Files.write(f, external("w.bin", 8, 16));
        rejects(f, "runs past the end of 'w.bin' (20 bytes)");
        Files.write(f, external("w.bin", Long.MAX_VALUE, 16));
        rejects(f, "runs past the end");
        Files.write(f, external("missing.bin", 0, 16));
        rejects(f, "does not exist");
        Files.write(f, external("w.bin", 4, 16));
        assertEquals(16, OnnxReader.read(f).graph().initializers().getFirst().data().byteSize());
    }

    @Test
    void randomByteFlipsGiveAModelOrOneLineNeverAnotherException(@TempDir Path dir) throws Exception {
        // a seeded mutation fuzz in CI: 400 copies of a real model with 1–8 bytes changed each
        byte[] full = Files.readAllBytes(SharedData.data("onnx/ort/test_voice_commands/model.onnx"));
        java.util.Random rnd = new java.util.Random(Long.getLong("onnx.fuzz.seed", 14));
        Path f = dir.resolve("m.onnx");
        for (int i = 0, copies = Integer.getInteger("onnx.fuzz.n", 400); i < copies; i++) {
            byte[] b = full.clone();
            for (int k = 0, n = 1 + rnd.nextInt(8); k < n; k++) b[rnd.nextInt(b.length)] = (byte) rnd.nextInt(256);
            Files.write(f, b);
            try {
                OnnxModel m = OnnxReader.read(f);
                OnnxWriter.toBytes(m); // what parses can be written back
            } catch (BadInputException e) {
                assertFalse(e.userMessage().contains("\n"), e.userMessage());
            }
        }
    }

    @Test
    void hostileTestData(@TempDir Path dir) throws Exception {
        Path npz = dir.resolve("x.npz");
        // a zip whose entry is not .npy, a .npy with a bad magic, a truncated .npy, a Fortran-order .npy
        writeZip(npz, "inputs.txt", new byte[4]);
        assertOneLine(() -> OnnxTestData.load(npz, List.of("x"), List.of("y")), "is not a .npy array");
        writeZip(npz, "inputs.npy", "NOTNUMPY".getBytes());
        assertOneLine(() -> OnnxTestData.load(npz, List.of("x"), List.of("y")), "bad magic");
        writeZip(npz, "inputs.npy", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1000000, 1000000), }", 16));
        assertOneLine(() -> OnnxTestData.load(npz, List.of("x"), List.of("y")), "too large");
        writeZip(npz, "inputs.npy", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 8));
        assertOneLine(() -> OnnxTestData.load(npz, List.of("x"), List.of("y")), "truncated");
        writeZip(npz, "inputs.npy", npy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", 24));
        assertOneLine(() -> OnnxTestData.load(npz, List.of("x"), List.of("y")), "Fortran");
        // a .pb tensor that is truncated
        Path set = Files.createDirectory(dir.resolve("test_data_set_0"));
        byte[] pb = Files.readAllBytes(SharedData.data("onnx/ort/test_voice_commands/test_data_set_0/input_0.pb"));
        Files.write(set.resolve("input_0.pb"), Arrays.copyOf(pb, pb.length - 3));
        assertOneLine(() -> OnnxTestData.load(set, List.of("input_1"), List.of()), "input_0.pb");
    }

    private static void assertOneLine(org.junit.jupiter.api.function.Executable e, String fragment) {
        BadInputException x = assertThrows(BadInputException.class, e);
        assertTrue(x.userMessage().contains(fragment), x.userMessage());
        assertFalse(x.userMessage().contains("\n"));
    }

    private static byte[] npy(String header, int dataBytes) {
        byte[] h = header.getBytes(java.nio.charset.StandardCharsets.ISO_8859_1);
        byte[] b = new byte[10 + h.length + dataBytes];
        b[0] = (byte) 0x93;
        System.arraycopy("NUMPY".getBytes(), 0, b, 1, 5);
        b[6] = 1;
        b[8] = (byte) h.length;
        System.arraycopy(h, 0, b, 10, h.length);
        return b;
    }

    private static void writeZip(Path f, String entry, byte[] data) throws Exception {
        try (var z = new java.util.zip.ZipOutputStream(Files.newOutputStream(f))) {
            z.putNextEntry(new java.util.zip.ZipEntry(entry));
            z.write(data);
            z.closeEntry();
        }
    }

    /** The tiny model with {@code w} (2×2 f32 = 16 bytes) stored externally at {@code location}. */
    private static byte[] external(String location, long offset, long length) {
        return fixLengths(null, location, offset, length);
    }

    /** Rebuilds the model bytes with the given external-data entries (the simplest honest way: through the writer's format). */
    private static byte[] fixLengths(byte[] ignored, String location, long offset, long length) {
        ProtoWriter tensor = new ProtoWriter();
        tensor.packedVarints(1, new long[]{2, 2});
        tensor.varintField(2, 1);
        tensor.stringField(8, "w");
        tensor.messageField(13, x -> { x.stringField(1, "location"); x.stringField(2, location); });
        tensor.messageField(13, x -> { x.stringField(1, "offset"); x.stringField(2, Long.toString(offset)); });
        tensor.messageField(13, x -> { x.stringField(1, "length"); x.stringField(2, Long.toString(length)); });
        tensor.varintField(14, 1);
        byte[] t = tensor.toByteArray();
        byte[] base = OnnxWriter.toBytes(tiny(OnnxTensor.ofFloats("w", new long[]{2, 2}, new float[4]), List.of()));
        // splice: the model with its graph's initializer replaced by the external one
        OnnxModel m = OnnxReader.parse(base, "base");
        ProtoWriter model = new ProtoWriter();
        model.varintField(1, m.irVersion());
        model.messageField(7, g -> {
            for (OnnxNode n : m.graph().nodes()) g.bytesField(1, nodeBytes(n));
            g.bytesField(5, t);
            g.bytesField(11, valueInfoBytes(m.graph().inputs().getFirst()));
            g.bytesField(12, valueInfoBytes(m.graph().outputs().getFirst()));
        });
        model.messageField(8, o -> o.varintField(2, 13));
        return model.toByteArray();
    }

    private static byte[] nodeBytes(OnnxNode n) {
        ProtoWriter w = new ProtoWriter();
        for (String s : n.inputs()) w.stringField(1, s);
        for (String s : n.outputs()) w.stringField(2, s);
        w.stringField(4, n.opType());
        return w.toByteArray();
    }

    private static byte[] valueInfoBytes(OnnxValueInfo v) {
        ProtoWriter w = new ProtoWriter();
        w.stringField(1, v.name());
        w.messageField(2, t -> t.messageField(1, tt -> tt.varintField(1, 1)));
        return w.toByteArray();
    }

    private static int indexOf(byte[] hay, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= hay.length; i++) {
            for (int j = 0; j < needle.length; j++) if (hay[i + j] != needle[j]) continue outer;
            return i;
        }
        return -1;
    }
}
