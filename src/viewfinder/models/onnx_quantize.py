"""The int8 versions of exported towers, made from the fp32 files on first use and kept beside them.

The two towers are quantised differently, each the way that keeps its vectors closest to fp32 at its speed:

- the image tower (batches of images) by dynamic quantisation: int8 weights per output channel, and each
  activation tensor quantised as a whole when the batch runs. The weights are signed where the CPU multiplies
  u8 by s8 exactly (VNNI), unsigned elsewhere (`image_weights_signed`);
- the text tower (one short query) with 8-bit weights in blocks of TEXT_BLOCK input rows (ONNX Runtime's
  MatMulNBits), whose activations are quantised per block of TEXT_BLOCK values too. On the ViT-B/32
  architecture it holds the rankings dynamic quantisation does not (random weights: cosine to fp32 ≥ 0.9995
  against 0.9991, mean top-10 overlap 0.955-0.962 against 0.932-0.941; BENCHMARKS.md,
  `scripts/int8_text_quality.py`) at about its speed: blocks of 32 held them a little better, 1.2x slower.
  The token embedding and the attention output projections (Gather; Gemm in torch's export, KEEP_FP32 in the
  fused graph) stay fp32; the embedding is read a few rows per query.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from viewfinder.errors import ViewfinderError

TEXT_BLOCK = 128
# A product whose node's name starts so stays fp32 in the text tower's int8 version: the fused text graph
# (onnx_text_graph) names its attention output projections so. Quantised too, they lost the rankings
# (random:ViT-B-32: mean top-10 overlap 0.946 on the 100k vectors, under the 0.95 target; BENCHMARKS.md).
KEEP_FP32 = "fp32."
# accuracy_level 4: the product runs in int8 (activations quantised per block), 7x faster here than
# dequantising the weights to fp32 first.
INT8_COMPUTE = 4


class QuantizationError(ViewfinderError):
    """ONNX Runtime's quantiser cannot make an int8 version of this model's tower."""


def quantized_file(folder: Path, name: str, source: Path) -> Path:
    """The int8 version of an exported tower (`name`: image or text), made in `folder` on first use from the
    fp32 `source`.

    A failure is remembered beside the export, so later runs do not spend the time to fail again.
    """
    # The text tower's file is named after its method and block: files made another way before stay unused
    # rather than be taken for this one.
    stem = f"{name}.int8-b{TEXT_BLOCK}"
    if name == "image":
        stem = "image.int8-s8" if image_weights_signed() else "image.int8"
    target, failed = folder / f"{stem}.onnx", folder / f"{stem}.failed"
    if failed.is_file():
        raise QuantizationError(failed.read_text())
    if not target.is_file():
        staging = folder / f".{stem}.{os.getpid()}.onnx"
        previous = logging.root.manager.disable
        logging.disable(logging.WARNING)  # the quantisers' advice on pre-processing and opsets is not for us
        try:
            (dynamic_int8 if name == "image" else blockwise_int8)(source, staging)
        except Exception as error:  # the quantisers raise onnx's and their own errors on graphs they cannot handle
            reason = " ".join(str(error).split())[:300] or type(error).__name__
            staging.unlink(missing_ok=True)
            failed.write_text(f"ONNX Runtime cannot quantise the {name} tower of this model to int8 ({reason}).")
            raise QuantizationError(failed.read_text()) from error
        finally:
            logging.disable(previous)
        os.replace(staging, target)
    return target


def image_weights_signed(cpu_flags: Path = Path("/proc/cpuinfo")) -> bool:
    """Whether the image tower's int8 weights are signed here: on x86 CPUs with VNNI (AVX512-VNNI, AVX-VNNI).

    ONNX Runtime multiplies u8 activations by s8 weights with VNNI's 32-bit sums, exactly, and 2.1x faster
    than u8 by u8 on ViT-B-32-256 (BENCHMARKS.md, "Int8 image tower for indexing"). Without VNNI, AVX2 sums
    u8 x s8 pairs in 16 bits and saturates, which costs signed weights fidelity (cosine ≈ 0.99 against fp32),
    so the weights stay unsigned (≈ 0.9999) there, and where the flags cannot be read.
    """
    try:
        text = cpu_flags.read_text()
    except OSError:
        return False
    flags = {flag for line in text.splitlines() if line.startswith("flags") for flag in line.split()}
    return bool(flags & {"avx512_vnni", "avx_vnni"})


def dynamic_int8(source: Path, target: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # Per-channel scales keep CLIP's widely ranging projection columns accurate.
    weights = QuantType.QInt8 if image_weights_signed() else QuantType.QUInt8
    quantize_dynamic(source, target, weight_type=weights, per_channel=True, op_types_to_quantize=["MatMul", "Gemm"])


def blockwise_int8(source: Path, target: Path) -> None:
    import onnx

    # The quantiser's module configures the root logger when imported (basicConfig at INFO), which would print
    # every later INFO line of the process on stderr: the root logger is put back as it was.
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    root.handlers[:], root.level = handlers, level
    nodes = onnx.load(str(source), load_external_data=False).graph.node
    quantizer = MatMulNBitsQuantizer(
        str(source),
        bits=8,
        block_size=TEXT_BLOCK,
        accuracy_level=INT8_COMPUTE,
        nodes_to_exclude=[node.name for node in nodes if node.name.startswith(KEEP_FP32)],
        op_types_to_quantize=("MatMul",),
    )
    quantizer.process()
    onnx.save_model(quantizer.model.model, str(target))
