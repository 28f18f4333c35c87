package dev.lowbit.ptq.alloc;

import com.google.ortools.Loader;
import com.google.ortools.sat.BoolVar;
import com.google.ortools.sat.CpModel;
import com.google.ortools.sat.CpSolver;
import com.google.ortools.sat.CpSolverStatus;
import com.google.ortools.sat.LinearExpr;
import java.util.List;

/**
 * Solves an {@link AllocationProblem} exactly as a 0/1 integer program with OR-Tools' CP-SAT: one Boolean per
 * (item, option), {@code AddExactlyOne} per item, one linear size constraint, a linear objective.
 *
 * <p>CP-SAT takes integer coefficients only. Costs are made integral after two exact-preserving steps: each item's
 * smallest cost is subtracted (a constant, the same for every allocation), then everything is scaled so that the
 * largest total of the remainders is {@value #SCALE}; an allocation's rounded cost is within n/2 units of
 * {@value #SCALE}·(its true cost share), so the returned allocation is optimal for the true costs up to a relative
 * n·{@value #SCALE}⁻¹ (≈ 1e-10 here), which is what "proven optimal" means below. Sizes are exact bytes.
 *
 * <p>One search worker and a fixed seed: the same problem gives the same allocation. The Lagrangian front's best
 * feasible point is given as a hint, so the search starts from a good incumbent.
 */
public final class ExactAllocator {
    /** Integer range of the scaled objective. */
    static final double SCALE = 1e12;

    private ExactAllocator() {}

    /**
     * The solver's answer.
     *
     * @param allocation the best allocation found (the optimum when {@code optimal})
     * @param optimal    CP-SAT proved that no allocation within the budget has a lower (scaled) cost
     * @param bound      the solver's lower bound on the optimum, in true cost units
     * @param gap        (cost − bound) / cost, 0 when proven
     * @param seconds    the solver's wall time
     * @param lpBound    the Lagrangian / LP-relaxation bound, for comparison
     */
    public record Result(Allocation allocation, boolean optimal, double bound, double gap, double seconds, double lpBound) {}

    /**
     * Solves {@code p}.
     *
     * @throws IllegalArgumentException when no allocation fits the budget (the message gives the feasible range)
     */
    public static Result solve(AllocationProblem p, double timeLimitSeconds) {
        if (p.minBytes() > p.budget()) {
            throw new IllegalArgumentException("budget " + p.budget() + " bytes is below the smallest allocation, "
                    + p.minBytes() + " bytes (feasible range " + p.minBytes() + " … " + p.maxBytes() + ")");
        }
        Loader.loadNativeLibraries();
        List<AllocationProblem.Item> items = p.items();
        int n = items.size();
        double base = 0, spread = 0;
        double[] minCost = new double[n];
        for (int i = 0; i < n; i++) {
            double lo = Double.POSITIVE_INFINITY, hi = 0;
            for (AllocationProblem.Option o : items.get(i).options()) {
                lo = Math.min(lo, o.cost());
                hi = Math.max(hi, o.cost());
            }
            minCost[i] = lo;
            base += lo;
            spread += hi - lo;
        }
        double scale = spread > 0 ? SCALE / spread : 1;

        LagrangianFront front = LagrangianFront.of(p);
        Allocation hint = front.bestWithin(p.budget());

        CpModel model = new CpModel();
        BoolVar[][] x = new BoolVar[n][];
        int vars = 0;
        for (int i = 0; i < n; i++) vars += items.get(i).options().size();
        BoolVar[] all = new BoolVar[vars];
        long[] bytes = new long[vars], cost = new long[vars];
        int v = 0;
        for (int i = 0; i < n; i++) {
            List<AllocationProblem.Option> opts = items.get(i).options();
            x[i] = new BoolVar[opts.size()];
            for (int c = 0; c < opts.size(); c++) {
                x[i][c] = model.newBoolVar("x_" + i + "_" + c);
                all[v] = x[i][c];
                bytes[v] = opts.get(c).bytes();
                cost[v] = Math.round((opts.get(c).cost() - minCost[i]) * scale);
                v++;
                if (hint != null) model.addHint(x[i][c], hint.choiceOf(i) == c ? 1 : 0);
            }
            model.addExactlyOne(x[i]);
        }
        model.addLessOrEqual(LinearExpr.weightedSum(all, bytes), p.budget() - p.fixedBytes());
        model.minimize(LinearExpr.weightedSum(all, cost));

        CpSolver solver = new CpSolver();
        solver.getParameters().setNumWorkers(1).setRandomSeed(0).setMaxTimeInSeconds(timeLimitSeconds);
        CpSolverStatus status = solver.solve(model);
        if (status != CpSolverStatus.OPTIMAL && status != CpSolverStatus.FEASIBLE) {
            throw new IllegalStateException("CP-SAT found no allocation within " + timeLimitSeconds + " s: " + status);
        }
        int[] choice = new int[n];
        for (int i = 0; i < n; i++) {
            for (int c = 0; c < x[i].length; c++) if (solver.booleanValue(x[i][c])) choice[i] = c;
        }
        Allocation a = p.evaluate(choice);
        double bound = base + solver.bestObjectiveBound() / scale;
        boolean optimal = status == CpSolverStatus.OPTIMAL;
        double gap = optimal ? 0 : a.cost() > 0 ? Math.max(0, (a.cost() - bound) / a.cost()) : 0;
        return new Result(a, optimal, optimal ? a.cost() : bound, gap, solver.wallTime(), front.lowerBound(p.budget()));
    }
}
