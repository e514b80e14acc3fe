"""The int8 versions of exported towers, made from the fp32 files on first use and kept beside them.

Both towers are quantised dynamically, each the way that keeps its vectors closest to fp32 at its speed: int8
weights per output channel, and activations quantised when the tower runs. Where the CPU has VNNI
(`cpu_has_vnni`), which multiplies u8 activations by s8 weights exactly, the weights are signed.

- the image tower (batches of images): every product, each activation tensor quantised as a whole. Without
  VNNI its weights are signed in 7 bits (AVX2 sums two u8 x s8 products in 16 bits: 255 x 64 twice stays
  below the limit), which runs 0.84x the CPU time of unsigned weights (u8 x u8) there and indexes in 0.9x the
  time, at a cosine to fp32 of 0.9997 (BENCHMARKS.md, "Int8 image tower for indexing");
- the text tower (one short query, `text_int8`): its final projection kept fp32, and its attention output
  projections, which lose the rankings quantised dynamically, in 8-bit blocks of OUT_BLOCK input rows (ONNX
  Runtime's MatMulNBits, whose activations are quantised per block too), which hold them: a quarter of their
  bytes, read from memory on every query. Without VNNI its weights are unsigned: in 7 bits they lose the
  rankings (mean top-10 overlap 0.93). With VNNI it takes 0.71-0.76x the CPU time of the whole tower in 8-bit
  blocks for a sentence, 0.86-0.89x for a noun; without (AVX2, AMD EPYC), where those blocks run at 0.9x
  fp32's time, 0.59x and 0.75x; both at the same rankings (BENCHMARKS.md, "HTTP service"; each prompt measured
  alone, since dynamic quantisation scales the activations by the whole batch). The token embedding stays
  fp32 (a Gather, read a few rows per query).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from viewfinder.errors import ViewfinderError
from viewfinder.models.quiet_logging import quiet_logging

# A product whose node's name starts so is not quantised dynamically in the text tower's int8 version: the fused
# text graph (onnx_text_graph) names its attention output projections so. Quantised so too, they lost the
# rankings (random:ViT-B-32: mean top-10 overlap 0.946 on the 100k vectors, under the 0.95 target); in 8-bit
# blocks of OUT_BLOCK they hold them (0.960 / 0.956 on the two indexes, against 0.958 / 0.956 kept fp32;
# BENCHMARKS.md).
KEEP_FP32 = "fp32."
OUT_BLOCK = 32
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
    stem, make = int8_method(name)
    target, failed = folder / f"{stem}.onnx", folder / f"{stem}.failed"
    if failed.is_file():
        raise QuantizationError(failed.read_text())
    if not target.is_file():
        staging = folder / f".{stem}.{os.getpid()}.onnx"
        try:
            with quiet_logging():
                make(source, staging)
        except Exception as error:  # the quantisers raise onnx's and their own errors on graphs they cannot handle
            reason = " ".join(str(error).split())[:300] or type(error).__name__
            staging.unlink(missing_ok=True)
            failed.write_text(f"ONNX Runtime cannot quantise the {name} tower of this model to int8 ({reason}).")
            raise QuantizationError(failed.read_text()) from error
        os.replace(staging, target)
    return target


def int8_method(name: str) -> tuple[str, Callable[[Path, Path], None]]:
    """The file name (without .onnx) of a tower's int8 version on this CPU and what makes it from the fp32 file.

    Each file is named after its method (and the text blocks' size): a file made another way before, or on
    another CPU sharing the cache, stays unused rather than be taken for this one.
    """
    signed = cpu_has_vnni()
    if name == "image":
        return ("image.int8-s8" if signed else "image.int8-s7"), dynamic_int8
    return ("text.int8-s8o" if signed else "text.int8-u8o"), text_int8


def cpu_has_vnni(cpu_flags: Path = Path("/proc/cpuinfo")) -> bool:
    """Whether this is an x86 CPU with VNNI (AVX512-VNNI, AVX-VNNI), where int8 weights are signed in 8 bits.

    ONNX Runtime multiplies u8 activations by s8 weights with VNNI's 32-bit sums, exactly, and 2.1x faster
    than u8 by u8 on ViT-B-32-256 (BENCHMARKS.md, "Int8 image tower for indexing"). Without VNNI, AVX2 sums
    pairs of u8 x s8 products in 16 bits and saturates, which costs 8-bit signed weights fidelity (text tower:
    cosine 0.998 against fp32, rankings lost), so there the weights are 7-bit (image) or unsigned (text, u8 by
    u8, summed exactly in 32 bits), as where the flags cannot be read.
    """
    try:
        text = cpu_flags.read_text()
    except OSError:
        return False
    flags = {flag for line in text.splitlines() if line.startswith("flags") for flag in line.split()}
    return bool(flags & {"avx512_vnni", "avx_vnni"})


def dynamic_int8(source: Path, target: Path) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # Per-channel scales keep CLIP's widely ranging projection columns accurate; 7-bit weights without VNNI (see
    # cpu_has_vnni). The default tensor type lets the quantiser through graphs with ONNX Runtime's own operators
    # (the fused text graph), whose outputs shape inference cannot type.
    quantize_dynamic(
        source,
        target,
        weight_type=QuantType.QInt8,
        reduce_range=not cpu_has_vnni(),
        per_channel=True,
        op_types_to_quantize=["MatMul", "Gemm"],
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
    )


def text_int8(source: Path, target: Path) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    products = _products(source)
    # The final projection stays fp32: it runs on one row, and quantised it cost the rankings most after the
    # attention output projections (mean top-10 overlap on the 100k vectors 0.952 -> 0.955, BENCHMARKS.md).
    final = products[-1:]
    dynamic = target.with_name(target.stem + ".dynamic.onnx")
    try:
        # The fused graph's ONNX Runtime operators (com.microsoft) have no type inference in the quantiser:
        # their outputs are taken to be float, as they all are.
        quantize_dynamic(
            source,
            dynamic,
            weight_type=QuantType.QInt8 if cpu_has_vnni() else QuantType.QUInt8,
            per_channel=True,
            op_types_to_quantize=["MatMul"],  # torch's export's Gemms (its out projections) stay fp32
            nodes_to_exclude=[*_kept_fp32(products), *final],
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
        _in_blocks(dynamic, target, OUT_BLOCK, exclude=final)  # what is left: the out projections
    finally:
        dynamic.unlink(missing_ok=True)


def _kept_fp32(products: list[str]) -> list[str]:
    """Of a text tower's products (their node names), those that stay fp32 in every int8 version (KEEP_FP32)."""
    return [name for name in products if name.startswith(KEEP_FP32)]


def _products(source: Path) -> list[str]:
    """The names of a graph's MatMul nodes, in the graph's (topological) order: the output's last."""
    import onnx

    nodes = onnx.load(str(source), load_external_data=False).graph.node
    return [node.name for node in nodes if node.op_type == "MatMul"]


def _in_blocks(source: Path, target: Path, block: int, exclude: list[str]) -> None:
    """The graph's fp32 products (MatMul nodes) but `exclude` as 8-bit weights in blocks of `block` input rows."""
    import onnx
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    quantizer = MatMulNBitsQuantizer(
        str(source),
        bits=8,
        block_size=block,
        accuracy_level=INT8_COMPUTE,
        nodes_to_exclude=exclude,
        op_types_to_quantize=("MatMul",),
    )
    quantizer.process()
    onnx.save_model(quantizer.model.model, str(target))
