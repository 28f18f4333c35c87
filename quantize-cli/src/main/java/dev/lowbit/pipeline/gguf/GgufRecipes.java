package dev.lowbit.pipeline.gguf;

import dev.lowbit.io.BadInputException;
import dev.lowbit.io.export.LlamaFtype;
import dev.lowbit.pipeline.recipe.Recipe;
import dev.lowbit.pipeline.recipe.SchemeOverride;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A checked {@link Recipe} with output format {@code gguf} as a {@link GgufQuantizePipeline.Request}: the output's mix
 * ({@code type}), {@code pure}, {@code imatrix} and {@code allow_requantize}; type overrides as llama-quantize's
 * {@code --tensor-type REGEX=TYPE}, in order; calibration text for the importance matrix.
 */
public final class GgufRecipes {
    private GgufRecipes() {}

    public static GgufQuantizePipeline.Request request(Path model, Path output, Recipe recipe, boolean force, int threads) {
        if (!recipe.output().isGguf()) throw new IllegalArgumentException("not a gguf recipe: " + recipe.output().format());
        String step = recipe.steps().getLast().type();
        if (!"rtn".equals(step)) {
            throw new BadInputException("--method " + step, "format gguf is quantized with the GGUF type's own rounding (rtn) for now");
        }
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
                tensorTypes, recipe.output().pure(), recipe.output().allowRequantize(), force, threads);
    }
}
