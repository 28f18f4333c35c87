package dev.lowbit.io.export;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A deliberately small GGUF header parser for tests, independent of the production reader: metadata values with
 * their wire types, and tensor infos (name, dims, ggml type id) in file order.
 */
final class ExportGgufHeader {
    record Kv(int type, int elementType, Object value) {
    }

    record Info(String name, long[] dims, int type) {
    }

    final Map<String, Kv> kvs = new LinkedHashMap<>();
    final List<Info> tensors = new ArrayList<>();

    private final ByteBuffer b;

    private ExportGgufHeader(ByteBuffer b) {
        this.b = b;
    }

    static ExportGgufHeader read(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer b = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size()).order(ByteOrder.LITTLE_ENDIAN);
            ExportGgufHeader h = new ExportGgufHeader(b);
            h.parse();
            return h;
        }
    }

    private void parse() {
        if (b.getInt() != 0x46554747) throw new IllegalStateException("not GGUF");
        int version = b.getInt();
        if (version != 3 && version != 2) throw new IllegalStateException("version " + version);
        long nTensors = b.getLong();
        long nKv = b.getLong();
        for (long i = 0; i < nKv; i++) {
            String key = str();
            int t = b.getInt();
            if (t == 9) {
                int et = b.getInt();
                long n = b.getLong();
                List<Object> vals = new ArrayList<>();
                for (long j = 0; j < n; j++) vals.add(value(et));
                kvs.put(key, new Kv(9, et, vals));
            } else {
                kvs.put(key, new Kv(t, -1, value(t)));
            }
        }
        for (long i = 0; i < nTensors; i++) {
            String name = str();
            int nd = b.getInt();
            long[] dims = new long[nd];
            for (int d = 0; d < nd; d++) dims[d] = b.getLong();
            int type = b.getInt();
            b.getLong(); // offset
            tensors.add(new Info(name, dims, type));
        }
    }

    private String str() {
        int n = (int) b.getLong();
        byte[] s = new byte[n];
        b.get(s);
        return new String(s, StandardCharsets.UTF_8);
    }

    private Object value(int t) {
        return switch (t) {
            case 0 -> Byte.toUnsignedInt(b.get());
            case 1 -> (int) b.get();
            case 2 -> Short.toUnsignedInt(b.getShort());
            case 3 -> (int) b.getShort();
            case 4 -> Integer.toUnsignedLong(b.getInt());
            case 5 -> b.getInt();
            case 6 -> b.getFloat();
            case 7 -> b.get() != 0;
            case 8 -> str();
            case 10, 11 -> b.getLong();
            case 12 -> b.getDouble();
            default -> throw new IllegalStateException("value type " + t);
        };
    }
}
