package dev.lowbit.io.onnx;

import dev.lowbit.io.BadInputException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Structural checks of a model before anything runs it: an IR version and a default-domain opset lowbit knows,
 * every node's domain imported, each value defined once (graph inputs, initializers, node outputs), every node input
 * and graph output defined, and no cycle. Subgraphs (If / Loop / Scan bodies) may read the enclosing scopes' values.
 */
public final class OnnxGraphCheck {
    /** IR versions ONNX Runtime 1.2x loads (3 = ONNX 1.0 … 11 = ONNX 1.18/1.19). */
    public static final long MIN_IR = 3, MAX_IR = 12;

    private OnnxGraphCheck() {
    }

    public static void check(OnnxModel model, String source) {
        if (model.irVersion() < MIN_IR || model.irVersion() > MAX_IR) {
            throw new BadInputException(source, "ir_version " + model.irVersion() + " is not supported (" + MIN_IR + ".." + MAX_IR + ")");
        }
        Set<String> domains = new HashSet<>();
        for (OnnxModel.OpsetId o : model.opsetImports()) {
            if (!domains.add(o.domain())) throw new BadInputException(source, "opset domain '" + o.domain() + "' imported twice");
        }
        if (!domains.contains("")) throw new BadInputException(source, "no default-domain opset_import");
        graph(model.graph(), Set.of(), domains, source, "graph");
    }

    /** Checks {@code g}; {@code outer} holds the names visible from enclosing graphs. Returns nothing; throws on fault. */
    private static void graph(OnnxGraph g, Set<String> outer, Set<String> domains, String source, String where) {
        Set<String> defined = new HashSet<>();
        for (OnnxTensor t : g.initializers()) {
            if (t.name().isEmpty()) throw new BadInputException(source, where + ": an initializer has no name");
            if (!defined.add(t.name())) throw new BadInputException(source, where + ": initializer '" + t.name() + "' defined twice");
        }
        Set<String> inputNames = new HashSet<>();
        for (OnnxValueInfo v : g.inputs()) {
            if (!inputNames.add(v.name())) throw new BadInputException(source, where + ": input '" + v.name() + "' listed twice");
            defined.add(v.name()); // IR < 4 lists initializers among the inputs too
        }
        Map<String, Integer> producer = new HashMap<>();
        List<OnnxNode> nodes = g.nodes();
        for (int n = 0; n < nodes.size(); n++) {
            OnnxNode node = nodes.get(n);
            String d = node.isDefaultDomain() ? "" : node.domain();
            if (!domains.contains(d)) throw new BadInputException(source, where + ": node " + node.label() + " uses domain '" + d + "', which is not imported");
            for (String o : node.outputs()) {
                if (o.isEmpty()) continue;
                if (defined.contains(o) || producer.containsKey(o)) {
                    throw new BadInputException(source, where + ": value '" + o + "' is defined twice (output of " + node.label() + ")");
                }
                producer.put(o, n);
            }
        }
        // every input defined; Kahn's algorithm over the node dependency graph finds cycles
        int[] pending = new int[nodes.size()];
        List<List<Integer>> users = new ArrayList<>();
        for (int n = 0; n < nodes.size(); n++) users.add(new ArrayList<>());
        for (int n = 0; n < nodes.size(); n++) {
            OnnxNode node = nodes.get(n);
            Set<String> reads = new HashSet<>(node.inputs());
            Set<String> visible = new HashSet<>(outer);
            visible.addAll(defined);
            visible.addAll(producer.keySet());
            for (OnnxAttribute a : node.attributes()) {
                List<OnnxGraph> subs = new ArrayList<>(a.graphs());
                if (a.g() != null) subs.add(a.g());
                for (OnnxGraph sub : subs) {
                    graph(sub, visible, domains, source, where + " / " + node.label() + "." + a.name());
                    reads.addAll(freeNames(sub));
                }
            }
            for (String in : reads) {
                if (in.isEmpty()) continue;
                Integer p = producer.get(in);
                if (p != null) {
                    if (p == n) throw new BadInputException(source, where + ": cycle: node " + node.label() + " reads its own output '" + in + "'");
                    pending[n]++;
                    users.get(p).add(n);
                } else if (!defined.contains(in) && !outer.contains(in)) {
                    if (node.inputs().contains(in)) {
                        throw new BadInputException(source, where + ": node " + node.label() + " reads '" + in + "', which nothing defines");
                    }
                }
            }
        }
        ArrayDeque<Integer> ready = new ArrayDeque<>();
        for (int n = 0; n < nodes.size(); n++) if (pending[n] == 0) ready.add(n);
        int done = 0;
        while (!ready.isEmpty()) {
            int n = ready.poll();
            done++;
            for (int u : users.get(n)) if (--pending[u] == 0) ready.add(u);
        }
        if (done != nodes.size()) {
            for (int n = 0; n < nodes.size(); n++) {
                if (pending[n] > 0) throw new BadInputException(source, where + ": the graph has a cycle through node " + nodes.get(n).label());
            }
        }
        for (OnnxValueInfo o : g.outputs()) {
            if (!producer.containsKey(o.name()) && !defined.contains(o.name()) && !outer.contains(o.name())) {
                throw new BadInputException(source, where + ": output '" + o.name() + "' is not produced by any node");
            }
        }
    }

    /** Names a subgraph reads that it does not define itself (they come from the enclosing scope). */
    private static Set<String> freeNames(OnnxGraph g) {
        Set<String> defined = new HashSet<>();
        g.initializers().forEach(t -> defined.add(t.name()));
        g.inputs().forEach(v -> defined.add(v.name()));
        for (OnnxNode n : g.nodes()) defined.addAll(n.outputs());
        Set<String> free = new HashSet<>();
        for (OnnxNode n : g.nodes()) {
            for (String in : n.inputs()) if (!in.isEmpty() && !defined.contains(in)) free.add(in);
            for (OnnxAttribute a : n.attributes()) {
                if (a.g() != null) for (String s : freeNames(a.g())) if (!defined.contains(s)) free.add(s);
                for (OnnxGraph sub : a.graphs()) for (String s : freeNames(sub)) if (!defined.contains(s)) free.add(s);
            }
        }
        return free;
    }

    /** The nodes of {@code g} in a topological order (stable: the file's order where it already is one). */
    public static List<OnnxNode> topological(OnnxGraph g) {
        Map<String, Integer> producer = new HashMap<>();
        List<OnnxNode> nodes = g.nodes();
        for (int n = 0; n < nodes.size(); n++) for (String o : nodes.get(n).outputs()) if (!o.isEmpty()) producer.put(o, n);
        int[] pending = new int[nodes.size()];
        List<List<Integer>> users = new ArrayList<>();
        for (int n = 0; n < nodes.size(); n++) users.add(new ArrayList<>());
        for (int n = 0; n < nodes.size(); n++) {
            for (String in : new HashSet<>(nodes.get(n).inputs())) {
                Integer p = producer.get(in);
                if (p != null && p != n) {
                    pending[n]++;
                    users.get(p).add(n);
                }
            }
        }
        java.util.PriorityQueue<Integer> ready = new java.util.PriorityQueue<>();
        for (int n = 0; n < nodes.size(); n++) if (pending[n] == 0) ready.add(n);
        List<OnnxNode> order = new ArrayList<>();
        while (!ready.isEmpty()) {
            int n = ready.poll();
            order.add(nodes.get(n));
            for (int u : users.get(n)) if (--pending[u] == 0) ready.add(u);
        }
        if (order.size() != nodes.size()) throw new IllegalStateException("graph has a cycle");
        return order;
    }
}
