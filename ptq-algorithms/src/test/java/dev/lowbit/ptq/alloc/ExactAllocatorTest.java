package dev.lowbit.ptq.alloc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The integer program against brute force: every assignment of small instances enumerated. */
class ExactAllocatorTest {

    /** The true optimum by enumerating every choice vector; {@code null} if nothing fits. */
    private static Allocation bruteForce(AllocationProblem p) {
        int n = p.items().size();
        int[] c = new int[n];
        Allocation best = null;
        while (true) {
            Allocation a = p.evaluate(c);
            if (a.bytes() <= p.budget() && (best == null || a.cost() < best.cost())) best = a;
            int i = 0;
            while (i < n && ++c[i] == p.items().get(i).options().size()) c[i++] = 0;
            if (i == n) return best;
        }
    }

    private static AllocationProblem random(Random rnd, int items, int options) {
        List<AllocationProblem.Item> list = new ArrayList<>();
        for (int i = 0; i < items; i++) {
            List<AllocationProblem.Option> o = new ArrayList<>();
            for (int c = 0; c < options; c++) {
                // sizes and costs drawn independently: dominated and non-convex options occur, as do ties in size
                o.add(new AllocationProblem.Option("t" + c, 100 + rnd.nextInt(900), rnd.nextDouble() * Math.pow(10, rnd.nextInt(4))));
            }
            list.add(new AllocationProblem.Item("item" + i, o));
        }
        return new AllocationProblem(list, rnd.nextInt(500), 0);
    }

    @Test
    void matchesBruteForceOnRandomInstances() {
        Random rnd = new Random(12);
        for (int trial = 0; trial < 60; trial++) {
            AllocationProblem p0 = random(rnd, 3 + rnd.nextInt(5), 2 + rnd.nextInt(4));
            long lo = p0.minBytes(), hi = p0.maxBytes();
            AllocationProblem p = p0.withBudget(lo + (long) (rnd.nextDouble() * (hi - lo)));
            Allocation truth = bruteForce(p);
            ExactAllocator.Result r = ExactAllocator.solve(p, 10);
            assertTrue(r.optimal(), "trial " + trial + ": not proven optimal");
            assertEquals(0.0, r.gap());
            assertTrue(r.allocation().bytes() <= p.budget(), "trial " + trial + ": over budget");
            // the scaled integer objective resolves 1e-12 of the cost spread per unit; 1e-9 relative is far above
            // rounding and far below any real difference between two allocations of these random costs
            assertEquals(truth.cost(), r.allocation().cost(), 1e-9 * Math.max(1, truth.cost()), "trial " + trial);
            assertTrue(r.lpBound() <= truth.cost() + 1e-9 * Math.max(1, truth.cost()), "trial " + trial + ": LP bound above the optimum");
        }
    }

    @Test
    void beatsTheLagrangianWhereTheOptimumIsOffTheHull() {
        // c's middle option (5 bytes, cost 5) lies above its hull (the segment 9 → 0 passes 4.5 at 5 bytes), so no
        // price λ selects it; under 15 bytes the optimum is a=10 B, b=0 B, c=5 B (cost 15) while the best front point
        // within 15 bytes is a=10 B only (cost 19).
        AllocationProblem p = new AllocationProblem(List.of(
                new AllocationProblem.Item("a", List.of(opt(0, 10), opt(10, 0))),
                new AllocationProblem.Item("b", List.of(opt(0, 10), opt(10, 1))),
                new AllocationProblem.Item("c", List.of(opt(0, 9), opt(5, 5), opt(10, 0)))), 0, 15);
        Allocation truth = bruteForce(p);
        ExactAllocator.Result r = ExactAllocator.solve(p, 10);
        assertEquals(truth.cost(), r.allocation().cost(), 1e-12);
        Allocation lagrange = LagrangianFront.of(p).bestWithin(15);
        assertTrue(lagrange.cost() > truth.cost(), "instance chosen so the hull misses the optimum: " + lagrange.cost() + " vs " + truth.cost());
        assertTrue(r.lpBound() < truth.cost());
    }

    @Test
    void everyFrontPointIsOptimalForItsOwnSize() {
        Random rnd = new Random(7);
        AllocationProblem p = random(rnd, 6, 4);
        for (Allocation a : LagrangianFront.of(p).points()) {
            Allocation truth = bruteForce(p.withBudget(a.bytes()));
            assertEquals(truth.cost(), a.cost(), 1e-9 * Math.max(1, truth.cost()));
        }
    }

    @Test
    void budgetBelowTheSmallestAllocationNamesTheRange() {
        AllocationProblem p = new AllocationProblem(List.of(
                new AllocationProblem.Item("a", List.of(opt(100, 1), opt(200, 0)))), 50, 149);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ExactAllocator.solve(p, 1));
        assertTrue(e.getMessage().contains("150 … 250"), e.getMessage());
        assertEquals(150, ExactAllocator.solve(p.withBudget(150), 1).allocation().bytes());
    }

    private static AllocationProblem.Option opt(long bytes, double cost) {
        return new AllocationProblem.Option(bytes + "B", bytes, cost);
    }
}
