package dev.lowbit.io.onnx;

import dev.lowbit.io.BadInputException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;

/**
 * Inputs (and expected outputs) for an ONNX model, as ONNX and ONNX Runtime test data store them: a directory of
 * {@code test_data_set_N/} folders holding {@code input_K.pb} / {@code output_K.pb} ({@code TensorProto} files), or
 * {@code .npz} archives (NumPy, one {@code .npy} per array: {@code inputs} / {@code outputs}, or arrays named after the
 * model's inputs). One sample = one map from name to tensor; a .pb tensor without a name takes the K-th name given.
 */
public final class OnnxTestData {
    /** One sample: inputs by name, and expected outputs by name (possibly empty). */
    public record Sample(String label, Map<String, OnnxTensor> inputs, Map<String, OnnxTensor> outputs) {
    }

    private static final Pattern PB = Pattern.compile("(input|output)_(\\d+)\\.pb");
    private static final long MAX_NPY_BYTES = 1L << 30;

    private OnnxTestData() {
    }

    /**
     * The samples under {@code path}: a {@code .npz}, a {@code test_data_set} directory, or a directory of such
     * directories / {@code .npz} files (sorted by name). {@code inputNames} / {@code outputNames} are the model's.
     */
    public static List<Sample> load(Path path, List<String> inputNames, List<String> outputNames) {
        List<Sample> samples = new ArrayList<>();
        if (Files.isRegularFile(path)) {
            samples.add(npz(path, inputNames, outputNames));
            return samples;
        }
        if (!Files.isDirectory(path)) throw new BadInputException(path, "no such file or directory");
        List<Path> entries;
        try (Stream<Path> s = Files.list(path)) {
            entries = s.sorted().toList();
        } catch (IOException e) {
            throw new BadInputException(path, "cannot list: " + e.getMessage());
        }
        if (entries.stream().anyMatch(p -> PB.matcher(p.getFileName().toString()).matches())) {
            samples.add(pbSet(path, inputNames, outputNames));
            return samples;
        }
        for (Path p : entries) {
            String n = p.getFileName().toString();
            if (Files.isDirectory(p)) samples.add(pbSet(p, inputNames, outputNames));
            else if (n.endsWith(".npz")) samples.add(npz(p, inputNames, outputNames));
        }
        if (samples.isEmpty()) throw new BadInputException(path, "no test_data_set_N directories, input_K.pb or .npz files");
        return samples;
    }

    private static Sample pbSet(Path dir, List<String> inputNames, List<String> outputNames) {
        Map<String, OnnxTensor> in = new LinkedHashMap<>(), out = new LinkedHashMap<>();
        List<Path> files;
        try (Stream<Path> s = Files.list(dir)) {
            files = s.sorted().toList();
        } catch (IOException e) {
            throw new BadInputException(dir, "cannot list: " + e.getMessage());
        }
        for (Path f : files) {
            Matcher m = PB.matcher(f.getFileName().toString());
            if (!m.matches()) continue;
            boolean input = m.group(1).equals("input");
            int k = Integer.parseInt(m.group(2));
            List<String> names = input ? inputNames : outputNames;
            OnnxTensor t = OnnxReader.readTensor(f);
            String name = !t.name().isEmpty() ? t.name() : k < names.size() ? names.get(k) : null;
            if (name == null) throw new BadInputException(f, "unnamed tensor and the model has no " + m.group(1) + " " + k);
            (input ? in : out).put(name, t.with(name, t.dims()));
        }
        if (in.isEmpty()) throw new BadInputException(dir, "no input_K.pb files");
        return new Sample(dir.getFileName().toString(), in, out);
    }

    private static Sample npz(Path file, List<String> inputNames, List<String> outputNames) {
        Map<String, OnnxTensor> arrays = new LinkedHashMap<>();
        try (ZipInputStream z = new ZipInputStream(Files.newInputStream(file))) {
            for (ZipEntry e; (e = z.getNextEntry()) != null; ) {
                String n = e.getName();
                if (!n.endsWith(".npy")) throw new BadInputException(file, "entry '" + n + "' is not a .npy array");
                String key = n.substring(0, n.length() - 4);
                arrays.put(key, npy(z, file + ":" + n, key));
            }
        } catch (IOException e) {
            throw new BadInputException(file, "not a readable .npz (zip) archive: " + e.getMessage());
        }
        Map<String, OnnxTensor> in = new LinkedHashMap<>(), out = new LinkedHashMap<>();
        for (Map.Entry<String, OnnxTensor> e : arrays.entrySet()) {
            String k = e.getKey();
            if (inputNames.contains(k)) in.put(k, e.getValue());
            else if (outputNames.contains(k)) out.put(k, e.getValue());
            else if (k.equals("inputs") && inputNames.size() == 1) in.put(inputNames.getFirst(), e.getValue().with(inputNames.getFirst(), e.getValue().dims()));
            else if (k.equals("outputs") && outputNames.size() == 1) out.put(outputNames.getFirst(), e.getValue().with(outputNames.getFirst(), e.getValue().dims()));
            else throw new BadInputException(file, "array '" + k + "' names no input or output of the model " + inputNames);
        }
        if (in.isEmpty()) throw new BadInputException(file, "no input arrays");
        return new Sample(file.getFileName().toString(), in, out);
    }

    /** One {@code .npy} array (format 1.0–3.0, C order, little-endian numeric dtypes). */
    static OnnxTensor npy(InputStream in, String source, String name) throws IOException {
        byte[] magic = in.readNBytes(8);
        if (magic.length < 8 || (magic[0] & 0xff) != 0x93 || !new String(magic, 1, 5, StandardCharsets.ISO_8859_1).equals("NUMPY")) {
            throw new BadInputException(source, "not a .npy array (bad magic)");
        }
        int major = magic[6];
        byte[] lenBytes = in.readNBytes(major == 1 ? 2 : 4);
        long headerLen = 0;
        for (int i = lenBytes.length - 1; i >= 0; i--) headerLen = (headerLen << 8) | (lenBytes[i] & 0xff);
        if (headerLen > 65536) throw new BadInputException(source, ".npy header of " + headerLen + " bytes");
        String header = new String(in.readNBytes((int) headerLen), StandardCharsets.ISO_8859_1);
        Matcher descr = Pattern.compile("'descr':\\s*'([<>|=]?)([a-z])(\\d+)'").matcher(header);
        Matcher order = Pattern.compile("'fortran_order':\\s*(True|False)").matcher(header);
        Matcher shape = Pattern.compile("'shape':\\s*\\(([^)]*)\\)").matcher(header);
        if (!descr.find() || !order.find() || !shape.find()) throw new BadInputException(source, ".npy header unreadable: " + header.strip());
        if (order.group(1).equals("True")) throw new BadInputException(source, "Fortran-order .npy arrays are not supported");
        if (descr.group(1).equals(">")) throw new BadInputException(source, "big-endian .npy arrays are not supported");
        OnnxDataType type = switch (descr.group(2) + descr.group(3)) {
            case "f4" -> OnnxDataType.FLOAT;
            case "f8" -> OnnxDataType.DOUBLE;
            case "f2" -> OnnxDataType.FLOAT16;
            case "i1" -> OnnxDataType.INT8;
            case "u1" -> OnnxDataType.UINT8;
            case "i2" -> OnnxDataType.INT16;
            case "i4" -> OnnxDataType.INT32;
            case "i8" -> OnnxDataType.INT64;
            case "b1" -> OnnxDataType.BOOL;
            default -> throw new BadInputException(source, ".npy dtype '" + descr.group(2) + descr.group(3) + "' is not supported");
        };
        List<Long> dims = new ArrayList<>();
        for (String d : shape.group(1).split(",")) {
            if (d.isBlank()) continue;
            try {
                long v = Long.parseLong(d.strip());
                if (v < 0) throw new NumberFormatException();
                dims.add(v);
            } catch (NumberFormatException e) {
                throw new BadInputException(source, ".npy shape '" + shape.group(1) + "' is not a tuple of sizes");
            }
        }
        long[] d = dims.stream().mapToLong(Long::longValue).toArray();
        long bytes;
        try {
            bytes = type.byteSizeOf(OnnxTensor.elementCount(d));
        } catch (ArithmeticException e) {
            throw new BadInputException(source, ".npy shape overflows");
        }
        if (bytes > MAX_NPY_BYTES) throw new BadInputException(source, ".npy array of " + bytes + " bytes is too large");
        byte[] data = in.readNBytes((int) bytes);
        if (data.length != bytes) throw new BadInputException(source, ".npy data truncated: " + data.length + " of " + bytes + " bytes");
        return OnnxTensor.ofBytes(name, type, d, data);
    }
}
