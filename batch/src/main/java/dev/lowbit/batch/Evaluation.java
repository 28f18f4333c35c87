package dev.lowbit.batch;

import java.io.Serializable;

/** How every artifact of a sweep is evaluated: {@code lowbit evaluate ARTIFACT --data data --baseline MODEL ...}. */
record Evaluation(String data, int ctx, int maxWindows, String protocol) implements Serializable {
    /** What an earlier evaluation must match to be reused. */
    String key() {
        return data + "|" + ctx + "|" + maxWindows + "|" + protocol;
    }
}
