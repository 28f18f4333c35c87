package dev.lowbit.calib.eval;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Figures of one evaluation. Perplexity = exp(mean NLL) over all scored positions. With a baseline:
 * {@code kl} = mean over positions of KL(p_baseline ‖ p_model) = Σ_v p_b(v)·(log p_b(v) − log p_m(v)),
 * {@code top1Agreement} = fraction of positions whose argmax logits agree, {@code maxAbsDeltaLogit} = max |z_m − z_b|.
 *
 * @param tokens       tokens in the tokenized file
 * @param scored       predicted (scored) positions
 * @param seconds      wall time of the whole evaluation (tokenize, load, forward)
 * @param forwardSeconds wall time of the forward + scoring loop alone (a model whose layers stay resident is decoded before it)
 * @param kl           NaN without a baseline (as are the other comparisons)
 * @param baselinePerplexity the baseline's perplexity on the same scored positions
 */
public record EvalResult(double perplexity, long tokens, int windows, long scored, double seconds,
                         double forwardSeconds, double kl,
                         double top1Agreement, double maxAbsDeltaLogit, double baselinePerplexity) {
    public boolean hasBaseline() {
        return !Double.isNaN(kl);
    }

    /** Tokens pushed through the model per second of the whole run (windows × ctx / seconds). */
    public double tokensPerSecond(int ctx) {
        return windows * (double) ctx / seconds;
    }

    /** Tokens pushed through the model per second of forward + scoring (windows × ctx / forwardSeconds). */
    public double forwardTokensPerSecond(int ctx) {
        return windows * (double) ctx / forwardSeconds;
    }

    public String toJson(int ctx) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("perplexity", perplexity);
        m.put("tokens", tokens);
        m.put("windows", windows);
        m.put("scored_tokens", scored);
        m.put("seconds", seconds);
        m.put("tokens_per_second", tokensPerSecond(ctx));
        m.put("forward_seconds", forwardSeconds);
        m.put("forward_tokens_per_second", forwardTokensPerSecond(ctx));
        if (hasBaseline()) {
            m.put("baseline_perplexity", baselinePerplexity);
            m.put("perplexity_ratio", perplexity / baselinePerplexity);
            m.put("kl", kl);
            m.put("top1_agreement", top1Agreement);
            m.put("max_abs_delta_logit", maxAbsDeltaLogit);
        }
        try {
            return new ObjectMapper().writeValueAsString(m);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
