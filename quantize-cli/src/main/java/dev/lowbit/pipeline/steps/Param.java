package dev.lowbit.pipeline.steps;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.BooleanNode;
import com.fasterxml.jackson.databind.node.DoubleNode;
import com.fasterxml.jackson.databind.node.IntNode;
import dev.lowbit.io.BadInputException;

/**
 * One parameter of a step: its recipe key, value kind, default and a one-line description (shown by
 * {@code lowbit quantize --list-steps}).
 *
 * @param name         the key in the recipe's step object, e.g. {@code group_size}
 * @param kind         the JSON kind it must have
 * @param defaultValue the value when the recipe leaves it out
 * @param description  one line
 */
public record Param(String name, Kind kind, JsonNode defaultValue, String description) {
    /** Value kinds a recipe may hold. */
    public enum Kind { INT, NUMBER, BOOL, STRING, NUMBER_OR_STRING }

    public static Param ofInt(String name, int dflt, String description) {
        return new Param(name, Kind.INT, IntNode.valueOf(dflt), description);
    }

    public static Param ofNumber(String name, double dflt, String description) {
        return new Param(name, Kind.NUMBER, DoubleNode.valueOf(dflt), description);
    }

    public static Param ofBool(String name, boolean dflt, String description) {
        return new Param(name, Kind.BOOL, BooleanNode.valueOf(dflt), description);
    }

    public static Param ofString(String name, String dflt, String description) {
        return new Param(name, Kind.STRING, com.fasterxml.jackson.databind.node.TextNode.valueOf(dflt), description);
    }

    /** A number or a word (e.g. SmoothQuant's {@code alpha}: 0.5 or {@code search}); the step checks the word. */
    public static Param ofNumberOrString(String name, double dflt, String description) {
        return new Param(name, Kind.NUMBER_OR_STRING, DoubleNode.valueOf(dflt), description);
    }

    /** Checks a recipe value's kind; {@code where} names the step in the message. */
    void check(String source, String where, JsonNode v) {
        boolean ok = switch (kind) {
            case INT -> v.isIntegralNumber() && v.canConvertToInt();
            case NUMBER -> v.isNumber();
            case BOOL -> v.isBoolean();
            case STRING -> v.isTextual();
            case NUMBER_OR_STRING -> v.isNumber() || v.isTextual();
        };
        if (!ok) {
            throw new BadInputException(source, where + ": '" + name + "' must be " + switch (kind) {
                case INT -> "an integer";
                case NUMBER -> "a number";
                case BOOL -> "true or false";
                case STRING -> "a string";
                case NUMBER_OR_STRING -> "a number or a word";
            } + ", got " + v);
        }
    }

    /** {@code name=default}, as {@code --list-steps} shows it. */
    @Override
    public String toString() {
        return name + "=" + defaultValue;
    }
}
