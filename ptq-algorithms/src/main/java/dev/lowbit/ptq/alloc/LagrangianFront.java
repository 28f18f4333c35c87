package dev.lowbit.ptq.alloc;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The Lagrangian relaxation of an {@link AllocationProblem}: for a price λ ≥ 0 on bytes every item independently takes
 * argmin_c cost[i][c] + λ·bytes[i][c]. As λ falls from ∞ to 0 the items step, one breakpoint at a time, along the
 * lower convex hull of their own (bytes, cost) points; the allocations met on the way are the convex Pareto front of
 * the whole problem (each optimal for its own total size, HAWQ-V3's and AutoQuantize's "λ sweep").
 *
 * <p>Between two consecutive front points the linear interpolation at the budget is the optimum of the LP relaxation
 * (x ∈ [0,1]) of the multiple-choice knapsack, hence a lower bound on the integer optimum:
 * {@link #lowerBound(long)}. Points of the integer problem that lie above the hull (not reachable by any λ) are what
 * the exact solver adds.
 */
public final class LagrangianFront {
    private final AllocationProblem problem;
    private final List<Allocation> front;

    private LagrangianFront(AllocationProblem problem, List<Allocation> front) {
        this.problem = problem;
        this.front = List.copyOf(front);
    }

    /** Builds the front of the problem's items (its budget is not used). */
    public static LagrangianFront of(AllocationProblem p) {
        int n = p.items().size();
        int[][] hulls = new int[n][];
        for (int i = 0; i < n; i++) hulls[i] = lowerHull(p.items().get(i).options());
        // every hull step of every item, with the price at which it pays: Δcost saved per byte added
        record Step(int item, int to, double slope) {}
        List<Step> steps = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            List<AllocationProblem.Option> o = p.items().get(i).options();
            for (int k = 1; k < hulls[i].length; k++) {
                AllocationProblem.Option a = o.get(hulls[i][k - 1]), b = o.get(hulls[i][k]);
                steps.add(new Step(i, k, (a.cost() - b.cost()) / (b.bytes() - a.bytes())));
            }
        }
        // highest price first; within one item the slopes of a convex hull fall, so its steps stay in order
        steps.sort((x, y) -> x.slope() != y.slope() ? Double.compare(y.slope(), x.slope())
                : x.item() != y.item() ? Integer.compare(x.item(), y.item()) : Integer.compare(x.to(), y.to()));
        int[] at = new int[n];
        int[] choice = new int[n];
        for (int i = 0; i < n; i++) choice[i] = hulls[i][0];
        List<Allocation> front = new ArrayList<>();
        front.add(p.evaluate(choice));
        for (Step s : steps) {
            at[s.item()] = s.to();
            choice[s.item()] = hulls[s.item()][s.to()];
            front.add(p.evaluate(choice));
        }
        return new LagrangianFront(p, front);
    }

    /**
     * Indices of the options on the item's lower convex hull, by increasing bytes (decreasing cost): the cheapest
     * option of the smallest size first, then only options that lower the cost at a falling price per byte.
     */
    static int[] lowerHull(List<AllocationProblem.Option> options) {
        Integer[] idx = new Integer[options.size()];
        for (int i = 0; i < idx.length; i++) idx[i] = i;
        Arrays.sort(idx, (a, b) -> {
            AllocationProblem.Option x = options.get(a), y = options.get(b);
            if (x.bytes() != y.bytes()) return Long.compare(x.bytes(), y.bytes());
            if (x.cost() != y.cost()) return Double.compare(x.cost(), y.cost());
            return Integer.compare(a, b);
        });
        List<Integer> hull = new ArrayList<>();
        for (int k : idx) {
            AllocationProblem.Option c = options.get(k);
            if (!hull.isEmpty()) {
                AllocationProblem.Option last = options.get(hull.getLast());
                if (c.bytes() == last.bytes() || c.cost() >= last.cost()) continue; // same size or no better: dominated
            }
            // pop while the last point lies on or above the segment from the one before it to c
            while (hull.size() >= 2) {
                AllocationProblem.Option a = options.get(hull.get(hull.size() - 2)), b = options.get(hull.getLast());
                double cross = (b.bytes() - a.bytes()) * (c.cost() - a.cost()) - (b.cost() - a.cost()) * (double) (c.bytes() - a.bytes());
                if (cross <= 0) hull.removeLast();
                else break;
            }
            hull.add(k);
        }
        return hull.stream().mapToInt(Integer::intValue).toArray();
    }

    /** The front, by increasing bytes and decreasing cost; the first point is the smallest allocation. */
    public List<Allocation> points() {
        return front;
    }

    /** The front point of least cost whose size is within {@code budget}, or {@code null} if none fits. */
    public Allocation bestWithin(long budget) {
        Allocation best = null;
        for (Allocation a : front) if (a.bytes() <= budget) best = a;
        return best;
    }

    /**
     * A lower bound on the integer optimum under {@code budget}: the LP relaxation's optimum, the front interpolated at
     * the budget. {@code +∞} when even the smallest allocation does not fit.
     */
    public double lowerBound(long budget) {
        if (front.getFirst().bytes() > budget) return Double.POSITIVE_INFINITY;
        for (int k = 1; k < front.size(); k++) {
            Allocation a = front.get(k - 1), b = front.get(k);
            if (b.bytes() > budget) {
                double t = (double) (budget - a.bytes()) / (b.bytes() - a.bytes());
                return a.cost() + t * (b.cost() - a.cost());
            }
        }
        return front.getLast().cost();
    }

    public AllocationProblem problem() {
        return problem;
    }
}
