package dev.lowbit.pipeline.quantize;

import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lowbit.calib.capture.ActivationSpill;
import dev.lowbit.calib.capture.Boundary;
import dev.lowbit.calib.model.LlamaRunner;
import dev.lowbit.io.BadInputException;
import dev.lowbit.pipeline.artifact.SafetensorsArtifactWriter;
import dev.lowbit.pipeline.output.SafeOutput;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Locale;

/**
 * {@code quantize --resume}: what a run needs to continue after {@code kill -9} from its last finished layer, kept in
 * the temp output's {@code .lowbit-resume/} (never in the committed output):
 * <pre>
 *   request.json      the recipe (with its resolved calibration path) and the model: a resumed run must be the same run
 *   layer-0000k.json  after layer k's shard is in place: the writer's accumulated state (counters, weight map)
 *   hidden-0000k.f32  calibrated runs: layer k's outputs (the next layer's inputs), f32, batch after batch
 * </pre>
 * Each file is written to a temp name and renamed, the layer's json last: a layer counts as finished only once its
 * journal entry exists, and a shard written after the last entry is deleted and redone. The continuation is the same
 * computation on the same inputs (the hidden states are stored exactly), so the output is byte-identical to an
 * uninterrupted run's.
 */
final class LayerJournal {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final Path output;
    private final Path dir;
    private final String request;

    LayerJournal(Path tempOutput, String request) {
        this.output = tempOutput;
        this.dir = tempOutput.resolve(SafeOutput.RESUME_DIR);
        this.request = request;
    }

    /** Starts a journal (fresh output) or reads an adopted one: the first layer still to do. */
    int open(boolean adopted, SafetensorsArtifactWriter writer, int layers) throws IOException {
        if (!adopted) {
            Files.createDirectories(dir);
            atomicWrite(dir.resolve("request.json"), request.getBytes(java.nio.charset.StandardCharsets.UTF_8));
            return 0;
        }
        Path req = dir.resolve("request.json");
        if (!Files.isRegularFile(req) || !Files.readString(req).equals(request)) {
            throw new BadInputException("--resume", "the interrupted run's output was for another model or recipe; run without --resume to start over");
        }
        int last = -1;
        while (last + 1 < layers && Files.isRegularFile(dir.resolve(entry(last + 1)))
                && Files.isRegularFile(output.resolve(writer.shardFile(last + 1)))) last++;
        // anything past the last journaled layer is redone: its shard, hidden states, temp files
        for (int k = last + 1; k < layers; k++) Files.deleteIfExists(output.resolve(writer.shardFile(k)));
        Files.deleteIfExists(output.resolve(writer.shardFile(-1)));
        try (var s = Files.list(output)) {
            for (Path p : s.toList()) if (p.getFileName().toString().startsWith(".") && !p.equals(dir)) Files.deleteIfExists(p);
        }
        try (var s = Files.list(dir)) {
            for (Path p : s.toList()) {
                String n = p.getFileName().toString();
                boolean keep = n.equals("request.json") || n.equals(hidden(last))
                        || (n.startsWith("layer-") && n.endsWith(".json") && layerOf(n) <= last);
                if (!keep) Files.deleteIfExists(p);
            }
        }
        if (last >= 0) writer.restore(JSON.readValue(dir.resolve(entry(last)).toFile(), SafetensorsArtifactWriter.State.class));
        return last + 1;
    }

    /** Layer {@code layer} is written: its outputs (calibrated runs, else null) and the writer's state, in that order. */
    void finished(int layer, SafetensorsArtifactWriter.State state, Boundary outputs) throws IOException {
        if (outputs != null) {
            Path tmp = dir.resolve("." + hidden(layer) + ".tmp");
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                    StandardOpenOption.WRITE)) {
                // batch after batch from the arrays' memory (a spilled batch read back one at a time)
                for (int i = 0; i < outputs.size(); i++) {
                    try (Boundary.Batch b = outputs.open(i)) {
                        ActivationSpill.write(ch, b.array());
                    }
                }
            }
            Files.move(tmp, dir.resolve(hidden(layer)), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        }
        atomicWrite(dir.resolve(entry(layer)), JSON.writeValueAsBytes(state));
        if (layer > 0) Files.deleteIfExists(dir.resolve(hidden(layer - 1)));
    }

    /**
     * Layer {@code layer}'s outputs as the capture held them: one {@code [b, T, D]} array per batch of windows, kept in
     * memory or spilled as {@code spill}'s budget decides.
     */
    Boundary hidden(int layer, LlamaRunner runner, int[][] windows, int batch, ActivationSpill spill) throws IOException {
        Path f = dir.resolve(hidden(layer));
        int d = runner.config().hiddenSize();
        int t = windows[0].length;
        long expected = (long) windows.length * t * d * Float.BYTES;
        if (!Files.isRegularFile(f) || Files.size(f) != expected) {
            throw new BadInputException("--resume", "the interrupted run's activations after layer " + (layer + 1)
                    + " are missing or incomplete; run without --resume to start over");
        }
        Boundary out = new Boundary(spill, runner.manager(), expected);
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ)) {
            for (int from = 0; from < windows.length; from += batch) {
                int b = Math.min(batch, windows.length - from);
                out.add(ActivationSpill.read(ch, runner.manager(), new Shape(b, t, d)));
            }
        } catch (IOException | RuntimeException e) {
            out.close();
            throw e;
        }
        return out;
    }

    private static String entry(int layer) {
        return String.format(Locale.ROOT, "layer-%05d.json", layer);
    }

    private static String hidden(int layer) {
        return String.format(Locale.ROOT, "hidden-%05d.f32", layer);
    }

    private static int layerOf(String entryName) {
        return Integer.parseInt(entryName.substring("layer-".length(), entryName.length() - ".json".length()));
    }

    private static void atomicWrite(Path target, byte[] bytes) throws IOException {
        Path tmp = target.resolveSibling("." + target.getFileName() + ".tmp");
        try (OutputStream o = Files.newOutputStream(tmp)) {
            o.write(bytes);
        }
        Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }
}
