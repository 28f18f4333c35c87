package dev.lowbit.pipeline.gguf;

import dev.lowbit.io.BadInputException;
import dev.lowbit.io.export.LlamaFtype;
import dev.lowbit.pipeline.recipe.Recipe;
import dev.lowbit.pipeline.recipe.SchemeOverride;
import dev.lowbit.pipeline.recipe.Step;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A checked {@link Recipe} with output format {@code gguf} as a {@link GgufQuantizePipeline.Request}: the output's mix
 * ({@code type}), {@code pure}, {@code imatrix} and {@code allow_requantize}; type overrides as llama-quantize's
 * {@code --tensor-type REGEX=TYPE}, in order; calibration text for the importance matrix, or for GPTQ's Hessians when
 * the quantizer step is {@code gptq}.
 */
public final class GgufRecipes {
    private GgufRecipes() {}

    public static GgufQuantizePipeline.Request request(Path model, Path output, Recipe recipe, boolean force, int threads) {
        if (!recipe.output().isGguf()) throw new IllegalArgumentException("not a gguf recipe: " + recipe.output().format());
        Step last = recipe.steps().getLast();
        GgufQuantizePipeline.GptqOptions gptq = switch (last.type()) {
            case "rtn" -> null;
            case "gptq" -> gptqOptions(last);
            default -> throw new BadInputException("--method " + last.type(), "format gguf is quantized by rtn (the GGUF type's own rounding) or gptq");
        };
        LlamaFtype ftype;
        try {
            ftype = LlamaFtype.parse(recipe.output().type());
        } catch (IllegalArgumentException e) {
            throw new BadInputException("--type", e.getMessage());
        }
        List<String> tensorTypes = new ArrayList<>();
        for (SchemeOverride o : recipe.overrides()) tensorTypes.add(o.asTensorType());
        Recipe.Calibration c = recipe.calibration();
        return new GgufQuantizePipeline.Request(model, output, ftype,
                recipe.output().imatrix() == null ? null : Path.of(recipe.output().imatrix()),
                c == null ? null : Path.of(c.data()), c == null ? 128 : c.samples(), c == null ? 512 : c.seqlen(),
                tensorTypes, recipe.output().pure(), recipe.output().allowRequantize(), force, threads, gptq);
    }

    /** GPTQ onto each Linear's GGUF type, from a resolved {@code gptq} step's parameters. */
    private static GgufQuantizePipeline.GptqOptions gptqOptions(Step s) {
        var p = s.params();
        if (!p.get("true_sequential").booleanValue()) {
            throw new BadInputException("step 'gptq'", "format gguf quantizes stage by stage; true_sequential false is not supported");
        }
        return new GgufQuantizePipeline.GptqOptions(p.get("damp_percent").doubleValue(), p.get("block_size").intValue(),
                p.get("desc_act").booleanValue(), p.get("search_importance").booleanValue(),
                p.get("allow_rtn_fallback").booleanValue());
    }
}
