package dev.lowbit.io.safetensors;

import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.CharBuffer;

/**
 * The two JSON spellings the reference tools write, reproduced byte for byte so that our files diff cleanly
 * against theirs: serde_json's compact form (safetensors headers) and Python's {@code json.dumps} with
 * {@code ensure_ascii=True} (transformers' {@code model.safetensors.index.json}).
 */
final class JsonText {
    private JsonText() {}

    /** serde_json string escaping: {@code "} and {@code \}, short escapes for \b \t \n \f \r, other controls as backslash-u00xx; the rest raw. */
    static void serdeString(StringBuilder out, String s) {
        out.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\b' -> out.append("\\b");
                case '\t' -> out.append("\\t");
                case '\n' -> out.append("\\n");
                case '\f' -> out.append("\\f");
                case '\r' -> out.append("\\r");
                default -> {
                    if (c < 0x20) hex(out, c);
                    else out.append(c);
                }
            }
        }
        out.append('"');
    }

    /** Python {@code json.dumps} string escaping with ensure_ascii: everything outside ' '..'~' becomes backslash-uxxxx (UTF-16 units). */
    static void pythonString(StringBuilder out, String s) {
        out.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\b' -> out.append("\\b");
                case '\t' -> out.append("\\t");
                case '\n' -> out.append("\\n");
                case '\f' -> out.append("\\f");
                case '\r' -> out.append("\\r");
                default -> {
                    if (c < 0x20 || c > 0x7e) hex(out, c);
                    else out.append(c);
                }
            }
        }
        out.append('"');
    }

    private static void hex(StringBuilder out, char c) {
        String h = Integer.toHexString(c);
        out.append("\\u");
        for (int k = h.length(); k < 4; k++) out.append('0');
        out.append(h);
    }

    /** Code point order (Python's {@code sorted} on str, Rust's {@code String::cmp} on UTF-8 bytes). */
    static int compareCodePoints(String a, String b) {
        int i = 0, j = 0;
        while (i < a.length() && j < b.length()) {
            int ca = a.codePointAt(i), cb = b.codePointAt(j);
            if (ca != cb) return Integer.compare(ca, cb);
            i += Character.charCount(ca);
            j += Character.charCount(cb);
        }
        return Integer.compare(a.length() - i, b.length() - j);
    }

    /** True when {@code s} encodes to UTF-8 without replacement (no unpaired surrogates). */
    static boolean isWellFormed(String s) {
        try {
            StandardCharsets.UTF_8.newEncoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .encode(CharBuffer.wrap(s));
            return true;
        } catch (CharacterCodingException e) {
            return false;
        }
    }
}
