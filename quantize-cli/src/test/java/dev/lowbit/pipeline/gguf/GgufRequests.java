package dev.lowbit.pipeline.gguf;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lowbit.io.export.LlamaFtype;
import dev.lowbit.pipeline.quantize.QuantizePipeline;
import dev.lowbit.pipeline.recipe.Output;
import dev.lowbit.pipeline.recipe.Recipe;
import dev.lowbit.pipeline.recipe.SchemeOverride;
import dev.lowbit.pipeline.recipe.Step;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** GGUF runs of the one pipeline as the tests state them: the flags of one {@code lowbit quantize --format gguf}. */
final class GgufRequests {
    private GgufRequests() {}

    /** One run: a {@code rtn} (or {@code gptq} with {@code gptq} set) recipe into a GGUF of mix {@code ftype}. */
    record Request(Path model, Path output, LlamaFtype ftype, Path imatrix, Path calib, int calibSamples,
                   int calibSeqlen, List<String> tensorTypes, boolean pure, boolean allowRequantize,
                   boolean force, int threads, GgufGptq.GptqOptions gptq) {
        Request(Path model, Path output, LlamaFtype ftype, Path imatrix, Path calib, int calibSamples,
                int calibSeqlen, List<String> tensorTypes, boolean pure, boolean allowRequantize,
                boolean force, int threads) {
            this(model, output, ftype, imatrix, calib, calibSamples, calibSeqlen, tensorTypes, pure, allowRequantize,
                    force, threads, null);
        }

        static Request convert(Path model, Path output, LlamaFtype ftype, boolean force, int threads) {
            return new Request(model, output, ftype, null, null, 0, 0, List.of(), false, false, force, threads);
        }

        Recipe recipe() {
            ObjectNode p = JsonNodeFactory.instance.objectNode();
            if (gptq != null) {
                p.put("damp_percent", gptq.damp()).put("block_size", gptq.blockSize()).put("desc_act", gptq.actOrder())
                        .put("search_importance", gptq.weightedSearch()).put("allow_rtn_fallback", gptq.allowRtnFallback());
            }
            List<SchemeOverride> overrides = new ArrayList<>();
            for (String t : tensorTypes) {
                int eq = t.lastIndexOf('=');
                overrides.add(SchemeOverride.ofType(t.substring(0, eq), t.substring(eq + 1)));
            }
            return new Recipe(List.of(new Step(gptq == null ? "rtn" : "gptq", List.of(), List.of(), p)), overrides,
                    calib == null ? null : new Recipe.Calibration(calib.toString(), calibSamples, calibSeqlen, false),
                    new Output(Output.GGUF, ftype.name(), pure, imatrix == null ? null : imatrix.toString(), allowRequantize), 0)
                    .validate("test");
        }
    }

    static GgufQuantizeReport run(Request r) {
        return QuantizePipeline.runGguf(r.model(), r.output(), r.recipe(), null, r.force(), r.threads(), QuantizePipeline.Listener.NONE);
    }
}
