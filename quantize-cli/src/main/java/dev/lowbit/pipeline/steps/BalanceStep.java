package dev.lowbit.pipeline.steps;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lowbit.io.BadInputException;
import dev.lowbit.pipeline.recipe.Output;
import dev.lowbit.pipeline.recipe.Step;
import dev.lowbit.ptq.transform.WeightTransform;
import java.util.List;

/**
 * A transform step that balances whole mappings of the architecture table (awq, smooth): no targets/ignore, its
 * parameters resolved against {@link #params()}, a fresh transform per run with notices on stderr. Subclasses check
 * their parameters and build the transform.
 */
abstract class BalanceStep implements StepType {
    private final String name;
    private final String description;
    private final List<Param> params;

    BalanceStep(String name, String description, List<Param> params) {
        this.name = name;
        this.description = description;
        this.params = params;
    }

    @Override
    public final String name() {
        return name;
    }

    @Override
    public final Role role() {
        return Role.TRANSFORM;
    }

    @Override
    public final String description() {
        return description;
    }

    @Override
    public final List<Param> params() {
        return params;
    }

    /**
     * The transform for the resolved parameters {@code p} (every parameter present; the step may remove those that do
     * not apply to the configuration chosen, so that the recipe written next to the output replays: see
     * {@link SmoothStep}); {@code given} holds the parameters the user set. Throws {@link BadInputException} naming
     * {@code source} and {@code where} for a value out of range or a parameter that does not apply. Called once per
     * configure.
     */
    abstract java.util.function.Supplier<WeightTransform> transform(String source, String where, ObjectNode p, ObjectNode given,
                                                                   Output output);

    @Override
    public final Configured configure(String source, Step step, Output output) {
        String where = "step '" + name + "'";
        if (!step.targets().isEmpty() || !step.ignore().isEmpty()) {
            throw new BadInputException(source, where + ": targets/ignore are not supported (" + name + " balances whole mappings)");
        }
        ObjectNode p = StepRegistry.resolve(source, where, step.params(), params, params, "");
        java.util.function.Supplier<WeightTransform> build = transform(source, where, p, step.params(), output);
        Step resolved = step.withParams(p);
        return new TransformStep() {
            @Override
            public Step step() {
                return resolved;
            }

            @Override
            public WeightTransform transform() {
                return build.get();
            }
        };
    }

    /** Transform notices (a skipped mapping, per-layer timings): one line each on stderr. */
    static void notice(String message) {
        System.err.println("lowbit: " + message);
    }
}
