package dev.lowbit.pipeline.output;

import dev.lowbit.io.BadInputException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * Where an output may go, decided before anything is written. The rules, applied to real paths (every symbolic link
 * resolved) so that a link or a {@code ..} cannot smuggle a forbidden path past them:
 * <ul>
 *   <li>never {@code /}, the current directory or the home directory, nor a directory that contains one of them;</li>
 *   <li>never an input (model, calibration text, importance matrix, recipe…), a directory that contains one, or a
 *       path inside an input directory;</li>
 *   <li>never a device, FIFO, socket or other file that is neither a regular file nor a directory, even with
 *       {@code --force} (checked without following links, and before anything opens it, so a FIFO cannot block);</li>
 *   <li>an existing output is replaced only with {@code --force}, and only when lowbit wrote it: a directory holding a
 *       {@code lowbit-manifest.json} that says so, or a file with such a manifest beside it ({@code OUT.lowbit-manifest.json}).</li>
 * </ul>
 * Every refusal is one line naming the output as the user typed it.
 *
 * @param given    the path as the user typed it (for messages)
 * @param real     the same path with every existing component's links resolved
 * @param kind     a directory output or a single-file output
 * @param existing whether {@code real} exists now (then it is a lowbit output of the right kind and --force was given)
 */
record OutputTarget(String given, Path real, Kind kind, boolean existing) {

    /** What the command writes. */
    enum Kind { DIRECTORY, FILE }

    /** One input of the command, named as the user knows it ({@code MODEL}, {@code --calib} …). */
    record Input(String label, Path path) {}

    /** Resolves {@code out} and applies every rule; throws a one-line {@link BadInputException} on a refusal. */
    static OutputTarget check(Path out, Kind kind, boolean force, List<Input> inputs) {
        String given = out.toString();
        if (given.isEmpty()) throw new BadInputException("-o", "the output path is empty");
        Path real = realPath(out, given);
        if (real.getParent() == null) throw new BadInputException(given, "refusing to write over the root directory");
        refuseProtected(real, given);
        for (Input in : inputs) refuseInput(real, given, in);
        if (kind == Kind.FILE) {
            Path sidecar = Manifest.sidecarOf(real);
            if (Files.exists(sidecar, LinkOption.NOFOLLOW_LINKS) && !Manifest.isLowbitManifest(sidecar)) {
                throw new BadInputException(given, "its manifest path " + sidecar.getFileName()
                        + " holds something lowbit did not write; refusing to replace it");
            }
        }
        BasicFileAttributes attrs = attributes(real, given);
        if (attrs == null) return new OutputTarget(given, real, kind, false);
        if (!attrs.isRegularFile() && !attrs.isDirectory()) {
            throw new BadInputException(given, "is " + FileKinds.describe(real) + ", not an output lowbit wrote; refusing to write over it");
        }
        if (!force) {
            throw new BadInputException(given, "already exists (pass --force to replace an output lowbit wrote)");
        }
        switch (kind) {
            case DIRECTORY -> {
                if (!attrs.isDirectory()) throw new BadInputException(given, "is a file, not an output directory lowbit wrote; refusing to replace it");
                Path manifest = real.resolve(Manifest.FILE_NAME);
                if (!Manifest.isLowbitManifest(manifest)) {
                    throw new BadInputException(given, "is not an output lowbit wrote (no " + Manifest.FILE_NAME
                            + " from lowbit in it); --force replaces only lowbit outputs: remove it yourself or choose another -o");
                }
                List<String> extra = extraFiles(real, Manifest.listedFiles(manifest).orElse(null));
                if (!extra.isEmpty()) {
                    throw new BadInputException(given, "holds files lowbit did not write (" + String.join(", ", extra)
                            + "); --force would delete them: move them out first");
                }
            }
            case FILE -> {
                if (!attrs.isRegularFile()) throw new BadInputException(given, "is a directory, not a file lowbit wrote; refusing to replace it");
                if (!Manifest.isLowbitManifest(Manifest.sidecarOf(real))) {
                    throw new BadInputException(given, "was not written by lowbit (no " + Manifest.sidecarOf(real).getFileName()
                            + " beside it); --force replaces only lowbit outputs: remove it yourself or choose another -o");
                }
            }
        }
        return new OutputTarget(given, real, kind, true);
    }

    /**
     * The absolute path with links resolved in every component that exists: the deepest existing ancestor goes
     * through {@link Path#toRealPath}, the rest (not there yet, so holding no links) is appended and normalised.
     */
    static Path realPath(Path p, String given) {
        Path abs = p.toAbsolutePath();
        Path existing = abs;
        while (existing != null && !Files.exists(existing, LinkOption.NOFOLLOW_LINKS)) existing = existing.getParent();
        if (existing == null) return abs.normalize();
        try {
            Path r = existing.toRealPath().resolve(existing.relativize(abs)).normalize();
            // "x/../link" exists only once normalised: resolve what it names too
            return !r.equals(existing) && Files.exists(r, LinkOption.NOFOLLOW_LINKS) ? r.toRealPath() : r;
        } catch (NoSuchFileException e) {
            throw new BadInputException(given, "is a symbolic link to nothing (" + e.getFile() + ")");
        } catch (IOException e) {
            throw new BadInputException(given, "cannot resolve: " + WriteFailure.reason(e));
        }
    }

    private static void refuseProtected(Path real, String given) {
        Path cwd = realPath(Path.of(""), ".");
        if (cwd.startsWith(real)) {
            throw new BadInputException(given, cwd.equals(real) ? "is the current directory; choose a new directory for the output"
                    : "contains the current directory; choose a new directory for the output");
        }
        String home = System.getProperty("user.home");
        if (home != null && !home.isEmpty() && Files.isDirectory(Path.of(home))) {
            Path h = realPath(Path.of(home), home);
            if (h.startsWith(real)) {
                throw new BadInputException(given, h.equals(real) ? "is the home directory; choose a new directory for the output"
                        : "contains the home directory; choose a new directory for the output");
            }
        }
    }

    /** Refuses an output that is, contains or lies inside the input — or anything an input directory links to. */
    private static void refuseInput(Path real, String given, Input in) {
        if (in.path() == null || !Files.exists(in.path(), LinkOption.NOFOLLOW_LINKS)) return;
        List<Path> reals = new ArrayList<>();
        Path top = realPath(in.path(), in.path().toString());
        reals.add(top);
        if (Files.isDirectory(top)) {
            // a Hugging Face cache snapshot is a directory of links into ../../blobs: those files are inputs too
            try (Stream<Path> s = Files.list(top)) {
                for (Path f : s.toList()) {
                    if (Files.isSymbolicLink(f)) {
                        try {
                            reals.add(f.toRealPath());
                        } catch (IOException dangling) {
                            // a dangling link is not data the output could destroy
                        }
                    }
                }
            } catch (IOException e) {
                // unreadable input directory: the command reports it when it reads the input
            }
        }
        String what = in.label() + " (" + in.path() + ")";
        for (Path r : reals) {
            if (r.equals(real)) throw new BadInputException(given, "is the input " + what + "; choose another output");
            if (r.startsWith(real)) throw new BadInputException(given, "contains the input " + what + "; choose another output");
        }
        if (real.startsWith(top)) throw new BadInputException(given, "lies inside the input " + what + "; choose another output");
    }

    /** Entries of {@code dir} that its manifest does not list (at most three named); none when it lists nothing. */
    private static List<String> extraFiles(Path dir, java.util.Set<String> listed) {
        if (listed == null) return List.of();
        List<String> extra = new ArrayList<>();
        try (Stream<Path> s = Files.list(dir)) {
            for (Path p : s.sorted().toList()) {
                String name = p.getFileName().toString();
                if (!listed.contains(name) || !Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) extra.add(name);
            }
        } catch (IOException e) {
            return List.of("(unreadable: " + WriteFailure.reason(e) + ")");
        }
        return extra.size() <= 3 ? extra : List.of(extra.get(0), extra.get(1), extra.get(2), "and " + (extra.size() - 3) + " more");
    }

    private static BasicFileAttributes attributes(Path p, String given) {
        try {
            return Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        } catch (NoSuchFileException e) {
            return null;
        } catch (IOException e) {
            throw new BadInputException(given, "cannot read: " + WriteFailure.reason(e));
        }
    }
}
