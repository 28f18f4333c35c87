package dev.lowbit.io;

/**
 * Text from a file made safe to print on a terminal: control characters become visible escapes, so a hostile tensor
 * name or metadata string can neither move the cursor, clear the screen, recolour the output nor start a new line
 * that forges a {@code lowbit:} message. C0 controls, DEL and C1 controls print as {@code \xNN} ({@code \n} and
 * {@code \t} as themselves, {@code \e} as {@code \x1b}); Unicode line/paragraph separators and bidirectional
 * overrides, which reorder or break what the reader sees, print as a backslash, {@code u} and {@code {NNNN}}. Everything else is unchanged.
 * JSON output never goes through this: JSON has its own exact escaping.
 */
public final class TerminalText {
    private TerminalText() {}

    public static String escape(String s) {
        if (s == null) return "null";
        StringBuilder out = null;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            String rep = replacement(c);
            if (rep == null) {
                if (out != null) out.append(c);
                continue;
            }
            if (out == null) out = new StringBuilder(s.length() + 16).append(s, 0, i);
            out.append(rep);
        }
        return out == null ? s : out.toString();
    }

    private static String replacement(char c) {
        if (c == '\n') return "\\n";
        if (c == '\t') return "\\t";
        if (c == '\r') return "\\r";
        if (c < 0x20 || c == 0x7f || (c >= 0x80 && c <= 0x9f)) return String.format("\\x%02x", (int) c);
        if (c == '\u2028' || c == '\u2029' || (c >= '\u202a' && c <= '\u202e') || (c >= '\u2066' && c <= '\u2069')
                || c == '\u200e' || c == '\u200f' || c == '\u061c') {
            return String.format("\\u{%04x}", (int) c);
        }
        return null;
    }
}
