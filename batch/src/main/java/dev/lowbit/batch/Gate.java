package dev.lowbit.batch;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Locale;
import java.util.Map;

/**
 * A CI gate on one metric of every job's row: {@code {metric: ppl_ratio, max: 1.02}} passes a job whose perplexity is
 * at most 2% above the baseline's. A job that failed, or lacks the metric, fails the gate.
 */
record Gate(String metric, boolean isMax, double limit, String source) {
    /** Metrics a gate may name, the row key each reads, and whether a bound on it is naturally max or min. */
    static final Map<String, String> METRICS = Map.of(
            "ppl_ratio", "ppl_ratio",
            "perplexity", "perplexity",
            "kl", "kl",
            "top1", "top1",
            "size_bytes", "size_bytes",
            "bits_per_weight", "bits_per_weight");

    String name() {
        return metric + (isMax ? " <= " : " >= ") + fmt(limit);
    }

    boolean passes(JsonNode row) {
        JsonNode v = row.get(METRICS.get(metric));
        if (!"ok".equals(row.path("status").asText()) || v == null || !v.isNumber()) return false;
        double x = v.doubleValue();
        return isMax ? x <= limit : x >= limit;
    }

    static String fmt(double d) {
        return d == Math.rint(d) && Math.abs(d) < 1e15 ? Long.toString((long) d) : String.format(Locale.ROOT, "%s", d);
    }
}
