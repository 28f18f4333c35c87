package dev.lowbit.cli;

import dev.lowbit.pipeline.onnx.OnnxQuantize;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code lowbit quantize MODEL.onnx --format onnx --scheme qdq-int8|matmulnbits}: the flags that apply to an ONNX
 * model, each checked against the scheme (a flag that does not apply is refused, exit 2), then one pipeline call.
 */
final class OnnxQuantizeFlags {
    /** Every flag of {@code quantize} that an ONNX run may take; all others are refused. */
    private static final List<String> ONNX_FLAGS = List.of("--output", "--format", "--scheme", "--calib-inputs", "--calibrator",
            "--bits", "--group-size", "--sym", "--method", "--damp", "--threads", "--force", "--json", "--quiet", "--verbose");

    private OnnxQuantizeFlags() {
    }

    static int run(QuantizeCommand c) {
        if (!OnnxQuantize.isOnnx(c.model)) throw new Main.UsageException("--format onnx needs an ONNX model (MODEL.onnx), got " + c.model);
        if (!"onnx".equals(c.format) && c.typed("--format")) {
            throw new Main.UsageException("an ONNX model is written as ONNX: --format onnx (got --format " + c.format + ")");
        }
        List<String> others = new ArrayList<>();
        for (var opt : c.spec.options()) {
            String name = opt.longestName();
            if (!ONNX_FLAGS.contains(name) && !name.equals("--help") && !name.equals("--version")) others.add(name);
        }
        c.refuse(others, "%s does not apply to an ONNX model");
        String scheme = c.scheme;
        if (scheme == null) throw new Main.UsageException("an ONNX model needs --scheme qdq-int8 | matmulnbits");
        int threads = c.threads == null ? Runtime.getRuntime().availableProcessors() : c.threads;
        OnnxQuantize.Options o;
        switch (scheme) {
            case OnnxQuantize.QDQ_INT8 -> {
                c.refuse(List.of("--sym", "--method", "--damp"),
                        "%s does not apply to --scheme qdq-int8 (weights symmetric, activations asymmetric int8 per tensor)");
                int block = -1;
                if (c.typed("--group-size")) {
                    if (c.groupSize < 16 || Integer.bitCount(c.groupSize) != 1) {
                        throw new Main.UsageException("--scheme qdq-int8: --group-size is the weights' block_size (opset-21 blocked form), a power of 2 ≥ 16, got " + c.groupSize);
                    }
                    block = c.groupSize;
                }
                int bits = c.typed("--bits") ? c.bits : 8;
                if (bits != 8 && bits != 4) throw new Main.UsageException("--scheme qdq-int8: --bits sets the weights' bits, 8 or 4, got " + bits);
                if (bits == 4 && block < 0) throw new Main.UsageException("--scheme qdq-int8 --bits 4 needs --group-size N (int4 weights are blocked)");
                if (c.calibInputs == null) throw new Main.UsageException("--scheme qdq-int8 needs --calib-inputs DIR (activation ranges are calibrated on ONNX Runtime)");
                String cal = c.calibrator == null ? "minmax" : c.calibrator;
                if (!List.of("minmax", "percentile", "entropy").contains(cal)) {
                    throw new Main.UsageException("--calibrator must be minmax, percentile or entropy, got '" + cal + "'");
                }
                o = new OnnxQuantize.Options(scheme, cal, c.calibInputs, bits, block, true, null, 0, threads);
            }
            case OnnxQuantize.MATMULNBITS -> {
                c.refuse(List.of("--calibrator"), "%s applies to --scheme qdq-int8 only");
                String method = c.method == null ? "rtn" : c.method;
                if (!method.equals("rtn") && !method.equals("gptq")) throw new Main.UsageException("--scheme matmulnbits takes --method rtn or gptq, got '" + method + "'");
                if (method.equals("rtn")) c.refuse(List.of("--damp"), "%s applies to --method gptq only");
                if (method.equals("gptq") && c.calibInputs == null) throw new Main.UsageException("--method gptq needs --calib-inputs DIR (the Hessians are collected on ONNX Runtime)");
                if (c.calibInputs == null) throw new Main.UsageException("--scheme matmulnbits needs --calib-inputs DIR (rtn: the inputs the fp32 and quantized outputs are compared on)");
                if (c.bits != 4 && c.bits != 8) throw new Main.UsageException("--scheme matmulnbits takes --bits 4 or 8, got " + c.bits);
                if (c.groupSize < 16 || Integer.bitCount(c.groupSize) != 1) {
                    throw new Main.UsageException("--scheme matmulnbits: --group-size is MatMulNBits' block_size, a power of 2 ≥ 16 (32, 64, 128), got " + c.groupSize);
                }
                o = new OnnxQuantize.Options(scheme, null, c.calibInputs, c.bits, c.groupSize, c.sym, method, c.damp, threads);
            }
            default -> throw new Main.UsageException("--scheme for an ONNX model: qdq-int8 or matmulnbits, got '" + scheme + "'");
        }
        OnnxQuantize.Report r = OnnxQuantize.run(c.model, c.output, o, c.force, c.quiet ? m -> { } : m -> System.err.println("lowbit: " + m));
        if (c.json) System.out.println(r.toJson());
        else r.print(System.out);
        return 0;
    }
}
