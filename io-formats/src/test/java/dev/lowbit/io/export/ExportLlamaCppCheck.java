package dev.lowbit.io.export;

import dev.lowbit.io.ggml.GgmlType;
import dev.lowbit.io.safetensors.ShardedSafetensors;
import dev.lowbit.io.tensor.TensorSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

import java.io.BufferedOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Writes tiny-llama-code as an exact F32 GGUF from an export {@link GgufExportPlanner.Spec}, for checking the
 * metadata, names and q/k permutation in llama.cpp itself ({@code llama-perplexity}, {@code llama-quantize}). Not a
 * production writer (that is the GGUF module's job): F32 only, a throwaway serializer kept in test code.
 * Runs only with {@code -Dlowbit.export.gguf=/path/out.gguf}.
 */
class ExportLlamaCppCheck {

    @Test
    @EnabledIfSystemProperty(named = "lowbit.export.gguf", matches = ".+")
    void writeTinyLlamaCodeF32() throws IOException {
        Path out = Path.of(System.getProperty("lowbit.export.gguf"));
        GgufExportPlanner.Spec spec = GgufExportPlanner.plan(ExportPlannerTest.TINY, QuantMix.Options.of(LlamaFtype.ALL_F32));
        ExportPlan plan = spec.plan();
        ModelHyperparameters hp = spec.hyperparameters();
        try (TensorSource src = ShardedSafetensors.open(ExportPlannerTest.TINY);
             OutputStream os = new BufferedOutputStream(Files.newOutputStream(out), 1 << 20)) {
            LeOut w = new LeOut(os);
            w.bytes("GGUF".getBytes(StandardCharsets.US_ASCII));
            w.u32(3);
            w.u64(plan.tensors().size());
            w.u64(spec.metadata().size());
            for (Map.Entry<String, GgufValue> e : spec.metadata().entrySet()) {
                w.str(e.getKey());
                w.value(e.getValue());
            }
            long offset = 0;
            for (PlannedTensor t : plan.tensors()) {
                assertEquals(GgmlType.F32, t.type());
                w.str(t.name());
                long[] d = t.dims();
                w.u32(d.length);
                for (long x : d) w.u64(x);
                w.u32(t.type().id());
                w.u64(offset);
                offset += pad(t.byteSize());
            }
            w.zeros(pad(w.written) - w.written);
            for (PlannedTensor t : plan.tensors()) {
                TensorNames.Mapping m = spec.tensors().get(t.name());
                float[] v;
                if (m == null) {
                    v = spec.ropeFreqs();
                } else {
                    v = src.tensor(m.hfName()).toFloatArray();
                    long[] d = m.ggufDims();
                    int rows = (int) (d.length > 1 ? d[1] : d[0]), cols = d.length > 1 ? (int) d[0] : 1;
                    switch (m.rows()) {
                        case PERMUTE_Q -> v = RotaryPermutation.permuteRows(v, rows, cols, hp.headCount());
                        case PERMUTE_K -> v = RotaryPermutation.permuteRows(v, rows, cols, hp.headCountKv());
                        case AS_IS -> { }
                    }
                }
                ByteBuffer bb = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
                bb.asFloatBuffer().put(v);
                w.bytes(bb.array());
                w.zeros(pad(w.written) - w.written);
            }
        }
    }

    /**
     * Compares our plan with what {@code llama-quantize} made of that F32 file: run
     * {@code llama-quantize tiny-f32.gguf tiny-<MIX>.gguf <MIX>} for Q4_K_M, Q3_K_M and Q2_K into one directory and pass
     * it as {@code -Dlowbit.export.quantized=<dir>}. Same names, same order, same types, same {@code general.file_type}.
     */
    @Test
    @EnabledIfSystemProperty(named = "lowbit.export.quantized", matches = ".+")
    void plansMatchLlamaQuantize() throws IOException {
        Path dir = Path.of(System.getProperty("lowbit.export.quantized"));
        for (LlamaFtype f : java.util.List.of(LlamaFtype.Q4_K_M, LlamaFtype.Q3_K_M, LlamaFtype.Q2_K)) {
            ExportGgufHeader ref = ExportGgufHeader.read(dir.resolve("tiny-" + f.name() + ".gguf"));
            ExportPlan plan = GgufExportPlanner.plan(ExportPlannerTest.TINY, QuantMix.Options.of(f)).plan();
            assertEquals(ref.tensors.stream().map(i -> i.name() + " " + GgmlType.byId(i.type())).toList(),
                    plan.tensors().stream().map(t -> t.name() + " " + t.type()).toList(), f.name());
            assertEquals((long) f.id(), ref.kvs.get("general.file_type").value());
        }
    }

    static long pad(long n) {
        return (n + 31) / 32 * 32;
    }

    /** Little-endian primitive writer counting bytes. */
    static final class LeOut {
        final DataOutputStream d;
        long written;

        LeOut(OutputStream os) {
            d = new DataOutputStream(os);
        }

        void bytes(byte[] b) throws IOException {
            d.write(b);
            written += b.length;
        }

        void u32(long v) throws IOException {
            d.writeInt(Integer.reverseBytes((int) v));
            written += 4;
        }

        void u64(long v) throws IOException {
            d.writeLong(Long.reverseBytes(v));
            written += 8;
        }

        void f32(float v) throws IOException {
            u32(Float.floatToRawIntBits(v) & 0xFFFF_FFFFL);
        }

        void str(String s) throws IOException {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            u64(b.length);
            bytes(b);
        }

        void zeros(long n) throws IOException {
            bytes(new byte[(int) n]);
        }

        void value(GgufValue v) throws IOException {
            u32(v.type().id());
            switch (v) {
                case GgufValue.U32 x -> u32(x.value());
                case GgufValue.F32 x -> f32(x.value());
                case GgufValue.Bool x -> bytes(new byte[] {(byte) (x.value() ? 1 : 0)});
                case GgufValue.Str x -> str(x.value());
                case GgufValue.StrArray x -> {
                    u32(GgufValue.Type.STRING.id());
                    u64(x.values().size());
                    for (String s : x.values()) str(s);
                }
                case GgufValue.I32Array x -> {
                    u32(GgufValue.Type.INT32.id());
                    u64(x.values().length);
                    for (int i : x.values()) u32(i & 0xFFFF_FFFFL);
                }
                case GgufValue.F32Array x -> {
                    u32(GgufValue.Type.FLOAT32.id());
                    u64(x.values().length);
                    for (float f : x.values()) f32(f);
                }
            }
        }
    }
}
