package dev.lowbit.calib.eval;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import dev.lowbit.calib.data.TextDataset;
import dev.lowbit.calib.data.TokenWindows;
import dev.lowbit.calib.model.LinearHook;
import dev.lowbit.calib.model.LlamaConfig;
import dev.lowbit.calib.model.LlamaRunner;
import dev.lowbit.calib.tokenize.ModelTokenizer;
import dev.lowbit.io.BadInputException;
import dev.lowbit.io.model.ModelSource;
import java.util.OptionalInt;

/**
 * Perplexity (and, against a baseline, KL / top-1 / max |Δlogit|) of a model on a text file:
 * tokenize the whole file, cut windows of {@code ctx} tokens from token 0, run them {@code batch} at a time
 * through the model and score the positions the {@link Protocol} selects. All arithmetic is f32 inside the
 * model; NLL and KL sums are accumulated in f64.
 */
public final class Evaluator {
    /** Told how many windows there are, then after each batch. */
    public interface Progress {
        Progress NONE = new Progress() {};

        default void start(int windows) {}

        default void advance(int windows) {}
    }

    private Evaluator() {}

    public static EvalResult evaluate(EvalRequest req, Progress progress) {
        long t0 = System.nanoTime();
        // validate the models before the (slower) tokenization: config problems are the likeliest bad input. A
        // directory's config.json is read before its weights are mapped and scanned; a .gguf is checked, once, as it opens.
        LlamaConfig config = ModelSource.isGguf(req.model()) ? null : LlamaConfig.fromJson(req.model());
        if (req.baseline() != null && !ModelSource.isGguf(req.baseline())) LlamaConfig.fromJson(req.baseline());
        if (config != null) requireWindowBudget(config, req);
        try (ModelSource model = ModelSource.open(req.model());
             ModelSource baseline = req.baseline() == null ? null : ModelSource.open(req.baseline())) {
            if (config == null) requireWindowBudget(LlamaConfig.of(model), req);
            return evaluate(req, model, baseline, progress, t0);
        }
    }

    /** Window sizes bounded before anything is allocated (max_position_embeddings, this machine's memory). */
    private static void requireWindowBudget(LlamaConfig config, EvalRequest req) {
        dev.lowbit.calib.data.WindowBudget.require(config, req.model().toString(), req.ctx(), req.batch(), req.batch(), "--ctx");
    }

    private static EvalResult evaluate(EvalRequest req, ModelSource modelSource, ModelSource baselineSource, Progress progress,
                                       long t0) {
        int[] tokens;
        OptionalInt bos;
        try (ModelTokenizer tokenizer = ModelTokenizer.open(modelSource)) {
            tokens = tokenizer.encode(TextDataset.read(req.data()));
            bos = tokenizer.bosToken();
        }
        int[][] windows = TokenWindows.first(tokens, req.ctx(), req.maxWindows(), req.data().toString());
        if (req.protocol() == Protocol.LLAMACPP && bos.isPresent()) {
            for (int[] w : windows) w[0] = bos.getAsInt();
        }
        int first = req.protocol().firstScored(req.ctx());
        Sums sums = new Sums();
        long tForward;
        try (LlamaRunner model = LlamaRunner.open(modelSource, req.threads());
             LlamaRunner baseline = baselineSource == null ? null : LlamaRunner.open(baselineSource, req.threads())) {
            if (baseline != null && baseline.config().vocabSize() != model.config().vocabSize()) {
                throw new BadInputException(baselineSource.path().toString(), "vocabulary size " + baseline.config().vocabSize()
                        + " differs from the model's " + model.config().vocabSize());
            }
            if (req.activations() != null) model.setActivations(activations(model, modelSource, req.activations()));
            // a model whose layers stay resident is decoded to f32 before the forward's clock starts, as the PyTorch
            // baseline (scripts/bench_evaluate_torch.py) loads its weights before timing; a streamed one decodes each
            // layer as it runs, inside the forward, as it must
            if (model.residentLayers()) model.prepareConcurrentRuns(req.ctx());
            if (baseline != null && baseline.residentLayers()) baseline.prepareConcurrentRuns(req.ctx());
            progress.start(windows.length);
            tForward = System.nanoTime();
            int batches = (windows.length + req.batch() - 1) / req.batch();
            int threads = req.threads() > 0 ? req.threads() : Runtime.getRuntime().availableProcessors();
            int workers = Math.min(batches, threads);
            if (workers > 1 && model.residentLayers() && (baseline == null || baseline.residentLayers())) {
                scoreSideBySide(model, baseline, windows, req.batch(), first, workers, Math.max(1, threads / workers), sums, progress);
            } else {
                for (int from = 0; from < windows.length; from += req.batch()) {
                    int[][] batch = java.util.Arrays.copyOfRange(windows, from, Math.min(windows.length, from + req.batch()));
                    score(model, baseline, batch, first).addTo(sums);
                    progress.advance(batch.length);
                }
            }
            tForward = System.nanoTime() - tForward;
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        boolean cmp = baselineSource != null;
        return new EvalResult(Math.exp(sums.nll / sums.count), tokens.length, windows.length, sums.count, seconds,
                tForward / 1e9,
                cmp ? sums.kl / sums.count : Double.NaN, cmp ? (double) sums.agree / sums.count : Double.NaN,
                cmp ? sums.maxAbsDelta : Double.NaN, cmp ? Math.exp(sums.nllBaseline / sums.count) : Double.NaN);
    }

    /**
     * The requested activation quantizer; a static one gets each selected input's scale from the calibration windows
     * (max |x| over them / qmax, the fp model's inputs, q/k/v and gate/up sharing theirs).
     */
    private static dev.lowbit.calib.model.ActivationQuantizer activations(LlamaRunner model, ModelSource source, ActivationRequest a) {
        if (model.activations() != dev.lowbit.calib.model.ActivationQuantizer.NONE) {
            throw new BadInputException(source.path().toString(), "the checkpoint declares its own input_activations; evaluate it without --activations");
        }
        dev.lowbit.calib.model.ScaledActivations q;
        if (a.scheme().dynamic()) {
            q = dev.lowbit.calib.model.ScaledActivations.dynamic(a.scheme()).withClip(a.clip());
        } else {
            int[][] calib = dev.lowbit.calib.data.CalibrationSet.first(source, a.calib(), a.calibSeqlen(), a.calibWindows());
            int layers = model.config().numLayers();
            float[][] max = new float[layers][dev.lowbit.calib.model.LinearInput.values().length];
            for (int from = 0; from < calib.length; from += 4) {
                NDArray h = model.embed(java.util.Arrays.copyOfRange(calib, from, Math.min(calib.length, from + 4)));
                for (int l = 0; l < layers; l++) {
                    NDArray next = model.runLayer(l, h, (layer, in, x) -> max[layer][in.ordinal()] =
                            Math.max(max[layer][in.ordinal()], x.abs().max().getFloat()));
                    h.close();
                    h = next;
                }
                h.close();
            }
            int qmax = a.scheme().qmax();
            q = new dev.lowbit.calib.model.ScaledActivations(a.scheme(), (layer, in) -> max[layer][in.ordinal()] / qmax).withClip(a.clip());
        }
        if (a.layers() != null) {
            for (int l : a.layers()) {
                if (l < 0 || l >= model.config().numLayers()) {
                    throw new BadInputException(source.path().toString(), "activation layer " + l + " is not a decoder layer (0.." + (model.config().numLayers() - 1) + ")");
                }
            }
        }
        return q.onlyWhere((layer, in) -> a.inputs().contains(in) && (a.layers() == null || a.layers().contains(layer)));
    }

    private static final class Sums {
        double nll;
        double nllBaseline;
        long count;
        double kl;
        long agree;
        double maxAbsDelta;
    }

    /** Runs all layers of {@code runner} on {@code windows}: logits {@code [B, T, V]}. */
    public static NDArray logits(LlamaRunner runner, int[][] windows) {
        return logits(runner, windows, 0, windows[0].length);
    }

    /**
     * Runs all layers on {@code windows} and applies the head to positions {@code from..to−1} only
     * (the scored rows): logits {@code [B, to−from, V]}.
     */
    public static NDArray logits(LlamaRunner runner, int[][] windows, int from, int to) {
        NDArray h = lastHidden(runner, windows);
        NDArray rows = from == 0 && to == windows[0].length ? h : h.get(new NDIndex(":, {}:{}, :", from, to));
        NDArray logits = runner.finalLogits(rows);
        if (rows != h) rows.close();
        h.close();
        NDArray out = logits.reshape(windows.length, to - from, runner.config().vocabSize());
        if (out != logits) logits.close();
        return out;
    }

    /**
     * Scores the batches on {@code workers} threads of their own, each running whole batches with {@code intraOp}
     * PyTorch threads (one, unless there are more threads than batches): on a small model (resident layers) two
     * batches side by side keep both cores busier than one batch whose every op is split over two threads and joined
     * again (a forward is ~100 ops per layer, many of them small). Each batch's figures are kept and added up in batch
     * order afterwards, so the sums are those of the sequential loop (given the same logits; one intra-op thread may
     * round GEMM sums differently from two, within float noise). Activations: one batch per worker in flight.
     */
    private static void scoreSideBySide(LlamaRunner model, LlamaRunner baseline, int[][] windows, int batchSize, int first,
                                        int workers, int intraOp, Sums sums, Progress progress) {
        int t = windows[0].length;
        model.prepareConcurrentRuns(t);
        if (baseline != null) {
            baseline.prepareConcurrentRuns(t);
        }
        int batches = (windows.length + batchSize - 1) / batchSize;
        BatchSums[] results = new BatchSums[batches];
        java.util.concurrent.atomic.AtomicInteger next = new java.util.concurrent.atomic.AtomicInteger();
        java.util.concurrent.atomic.AtomicReference<Throwable> failure = new java.util.concurrent.atomic.AtomicReference<>();
        int before = dev.lowbit.calib.model.DjlEngine.intraOpThreads();
        dev.lowbit.calib.model.DjlEngine.setIntraOpThreads(intraOp); // read by each worker at its first op
        try {
            Thread[] threads = new Thread[workers];
            for (int i = 0; i < workers; i++) {
                threads[i] = Thread.ofPlatform().name("lowbit-evaluate-" + i).unstarted(() -> {
                    for (int j; failure.get() == null && (j = next.getAndIncrement()) < batches; ) {
                        int from = j * batchSize;
                        int[][] batch = java.util.Arrays.copyOfRange(windows, from, Math.min(windows.length, from + batchSize));
                        try {
                            results[j] = score(model, baseline, batch, first);
                        } catch (Throwable e) {
                            failure.compareAndSet(null, e);
                            return;
                        }
                        synchronized (progress) {
                            progress.advance(batch.length);
                        }
                    }
                });
                threads[i].start();
            }
            for (Thread th : threads) th.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while scoring", e);
        } finally {
            dev.lowbit.calib.model.DjlEngine.setIntraOpThreads(before);
        }
        Throwable e = failure.get();
        if (e instanceof RuntimeException r) throw r;
        if (e instanceof Error err) throw err;
        if (e != null) throw new IllegalStateException(e);
        for (BatchSums r : results) r.addTo(sums);
    }

    /**
     * The scored log-probabilities of a batch without a baseline: the head, log-softmax and pick one window at a time
     * on the batch's last hidden states. The same rows through the same ops as a whole-batch head; a window's logits
     * and log-probabilities ([T−1, V]: 16 MiB for tiny-llama-code) stay below glibc's mmap threshold (32 MiB), where
     * the batch's (67 MiB each at 4 × 512) were mapped and page-faulted afresh for every batch.
     */
    private static BatchSums scoreWindowByWindow(LlamaRunner model, int[][] batch, int first, long[] targets) {
        int b = batch.length;
        int t = batch[0].length;
        int s = t - 1 - first;
        float[] picked = new float[b * s];
        try (NDScope scope = new NDScope()) {
            NDArray h = lastHidden(model, batch);
            for (int w = 0; w < b; w++) {
                int window = w;
                try (NDScope perWindow = new NDScope()) {
                    NDArray z = model.finalLogits(h.get(new NDIndex("{}:{}, {}:{}, :", window, window + 1, first, t - 1)));
                    long t0 = dev.lowbit.calib.model.ForwardProfile.start();
                    NDArray logp = z.logSoftmax(1);
                    z.close();
                    NDArray target = model.manager().create(java.util.Arrays.copyOfRange(targets, window * s, (window + 1) * s), new Shape(s, 1));
                    System.arraycopy(logp.gather(target, 1).toFloatArray(), 0, picked, window * s, s);
                    dev.lowbit.calib.model.ForwardProfile.stop(dev.lowbit.calib.model.ForwardProfile.Op.SCORE, t0);
                }
            }
        }
        return new BatchSums(picked, null, null, null, 0);
    }

    /** One batch's scored log-probabilities (and, against a baseline, its KL terms and agreements). */
    private record BatchSums(float[] picked, float[] pickedBaseline, float[] kl, float[] same, double maxAbsDelta) {
        /** Adds this batch to {@code sums} in the order the sequential loop always did. */
        void addTo(Sums sums) {
            for (float lp : picked) sums.nll -= lp;
            sums.count += picked.length;
            if (pickedBaseline == null) return;
            for (float lp : pickedBaseline) sums.nllBaseline -= lp;
            for (float k : kl) sums.kl += k;
            for (float a : same) sums.agree += (long) a;
            sums.maxAbsDelta = Math.max(sums.maxAbsDelta, maxAbsDelta);
        }
    }

    /** The last decoder layer's output {@code [B, T, D]} on {@code windows}. */
    private static NDArray lastHidden(LlamaRunner runner, int[][] windows) {
        NDArray h = runner.embed(windows);
        for (int l = 0; l < runner.config().numLayers(); l++) {
            NDArray next = runner.runLayer(l, h, LinearHook.NONE);
            h.close();
            h = next;
        }
        return h;
    }

    private static BatchSums score(LlamaRunner model, LlamaRunner baseline, int[][] batch, int first) {
        int b = batch.length;
        int t = batch[0].length;
        int s = t - 1 - first;
        long[] targets = new long[b * s];
        for (int w = 0; w < b; w++) for (int j = 0; j < s; j++) targets[w * s + j] = batch[w][first + j + 1];
        if (baseline == null) return scoreWindowByWindow(model, batch, first, targets);
        try (NDScope scope = new NDScope()) {
            NDArray z = logits(model, batch, first, t - 1);
            long t0 = dev.lowbit.calib.model.ForwardProfile.start();
            NDArray logp = z.logSoftmax(2);
            NDArray target = model.manager().create(targets, new Shape(b, s, 1));
            float[] picked = logp.gather(target, 2).toFloatArray();
            dev.lowbit.calib.model.ForwardProfile.stop(dev.lowbit.calib.model.ForwardProfile.Op.SCORE, t0);
            NDArray zb = logits(baseline, batch, first, t - 1);
            NDArray logpb = zb.logSoftmax(2);
            float[] pickedBaseline = logpb.gather(target, 2).toFloatArray();
            float[] kl = logpb.exp().mul(logpb.sub(logp)).sum(new int[] {2}).toFloatArray();
            float[] same = z.argMax(2).eq(zb.argMax(2)).toType(ai.djl.ndarray.types.DataType.FLOAT32, false).toFloatArray();
            return new BatchSums(picked, pickedBaseline, kl, same, z.sub(zb).abs().max().getFloat());
        }
    }
}
