package dev.lowbit.pipeline.gguf;

import dev.lowbit.io.BadInputException;
import dev.lowbit.io.export.LlamaFtype;
import dev.lowbit.pipeline.recipe.Recipe;
import dev.lowbit.pipeline.recipe.SchemeOverride;
import dev.lowbit.pipeline.recipe.Step;
import java.util.ArrayList;
import java.util.List;

/**
 * What a checked {@link Recipe} with output format {@code gguf} asks of the GGUF target and of its quantizer: the
 * mix ({@code type}), {@code pure}, {@code allow_requantize} and type overrides as llama-quantize's
 * {@code --tensor-type REGEX=TYPE}, in order; GPTQ's settings when the quantizer step is {@code gptq} (calibration text
 * then feeds its Hessians; with {@code rtn} it feeds an importance matrix).
 */
public final class GgufRecipes {
    private GgufRecipes() {}

    /** The file's mix and type overrides. */
    public static GgufArtifactWriter.Target target(Recipe recipe) {
        if (!recipe.output().isGguf()) throw new IllegalArgumentException("not a gguf recipe: " + recipe.output().format());
        LlamaFtype ftype;
        try {
            ftype = LlamaFtype.parse(recipe.output().type());
        } catch (IllegalArgumentException e) {
            throw new BadInputException("--type", e.getMessage());
        }
        List<String> tensorTypes = new ArrayList<>();
        for (SchemeOverride o : recipe.overrides()) tensorTypes.add(o.asTensorType());
        return new GgufArtifactWriter.Target(ftype, recipe.output().pure(), tensorTypes, recipe.output().allowRequantize());
    }

    /** GPTQ onto each Linear's GGUF type, or {@code null} for the type's own rounding ({@code rtn}). */
    public static GgufGptq.GptqOptions gptq(Recipe recipe) {
        Step last = recipe.steps().getLast();
        return switch (last.type()) {
            case "rtn" -> null;
            case "gptq" -> gptqOptions(last);
            default -> throw new BadInputException("--method " + last.type(), "format gguf is quantized by rtn (the GGUF type's own rounding) or gptq");
        };
    }

    /** GPTQ onto each Linear's GGUF type, from a resolved {@code gptq} step's parameters. */
    private static GgufGptq.GptqOptions gptqOptions(Step s) {
        var p = s.params();
        if (!p.get("true_sequential").booleanValue()) {
            throw new BadInputException("step 'gptq'", "format gguf quantizes stage by stage; true_sequential false is not supported");
        }
        return new GgufGptq.GptqOptions(p.get("damp_percent").doubleValue(), p.get("block_size").intValue(),
                p.get("desc_act").booleanValue(), p.get("search_importance").booleanValue(),
                p.get("allow_rtn_fallback").booleanValue());
    }
}
