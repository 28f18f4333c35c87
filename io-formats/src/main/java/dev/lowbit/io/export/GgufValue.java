package dev.lowbit.io.export;

import java.util.List;

/**
 * A GGUF metadata value with its exact wire type. llama.cpp checks types strictly ("key has wrong type"), so export
 * code chooses the type here, once, and the writer copies it: counts and token ids are {@link U32}, rope base and
 * norm epsilon {@link F32}, token types an {@link I32Array}.
 */
public sealed interface GgufValue {

    /** GGUF value type ids ({@code gguf_type}). */
    enum Type {
        UINT8(0), INT8(1), UINT16(2), INT16(3), UINT32(4), INT32(5), FLOAT32(6), BOOL(7), STRING(8), ARRAY(9),
        UINT64(10), INT64(11), FLOAT64(12);

        private final int id;

        Type(int id) {
            this.id = id;
        }

        /** The u32 written before the value. */
        public int id() {
            return id;
        }
    }

    /** The value's wire type. */
    Type type();

    /** For arrays, the element type; otherwise {@code null}. */
    default Type elementType() {
        return null;
    }

    /** An unsigned 32-bit integer, held in a long in [0, 2^32). */
    record U32(long value) implements GgufValue {
        public U32 {
            if (value < 0 || value > 0xFFFF_FFFFL) throw new IllegalArgumentException("u32 out of range: " + value);
        }

        public Type type() {
            return Type.UINT32;
        }
    }

    record F32(float value) implements GgufValue {
        public Type type() {
            return Type.FLOAT32;
        }
    }

    record Bool(boolean value) implements GgufValue {
        public Type type() {
            return Type.BOOL;
        }
    }

    record Str(String value) implements GgufValue {
        public Type type() {
            return Type.STRING;
        }
    }

    record StrArray(List<String> values) implements GgufValue {
        public StrArray {
            values = List.copyOf(values);
        }

        public Type type() {
            return Type.ARRAY;
        }

        @Override
        public Type elementType() {
            return Type.STRING;
        }
    }

    /** An i32 array; the array is not copied, treat it as read-only. */
    record I32Array(int[] values) implements GgufValue {
        public Type type() {
            return Type.ARRAY;
        }

        @Override
        public Type elementType() {
            return Type.INT32;
        }
    }

    /** An f32 array; the array is not copied, treat it as read-only. */
    record F32Array(float[] values) implements GgufValue {
        public Type type() {
            return Type.ARRAY;
        }

        @Override
        public Type elementType() {
            return Type.FLOAT32;
        }
    }
}
