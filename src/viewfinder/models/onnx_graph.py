"""What the fused ONNX graphs of CLIP's towers (onnx_text_graph, onnx_image_graph) share: a graph being written
from a model's weights, the residual blocks they both write, and the check that a written graph gives torch's
vectors before an export keeps it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import helper, numpy_helper
from open_clip.transformer import LayerNorm, LayerNormFp32, QuickGELU, ResidualAttentionBlock

from viewfinder.errors import ViewfinderError
from viewfinder.models.onnx_quantize import KEEP_FP32

MS = "com.microsoft"
# The standard operators beside ONNX Runtime's: Shape's start and end need 15, Split's num_outputs 18.
STANDARD_OPSET = 18
# ONNX Runtime reads IR versions up to 13 (1.31); opset 18 needs 8. The installed onnx would write its newest.
IR_VERSION = 8
# How close a graph must come to torch's vectors when it is written, or torch's export is used instead.
MIN_COSINE = 0.9999
LAYER_NORMS = (LayerNorm, LayerNormFp32, torch.nn.LayerNorm)

Need = Callable[[bool, str], None]


def requirement(error: type[ViewfinderError], tower: str) -> Need:
    """A check's `need`: raises `error`, naming what `tower` has that its graph does not write, unless the
    condition holds."""

    def need(condition: bool, what: str) -> None:
        if not condition:
            raise error(f"The {tower} {what}.")

    return need


def array_of(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().to(torch.float32).cpu().numpy()


def activation_of(module: torch.nn.Module) -> str | None:
    """The fused operator of an MLP activation: QuickGelu (x·σ(1.702x), after the bias) or BiasGelu (exact GELU)."""
    if type(module) is QuickGELU:
        return "QuickGelu"
    if type(module) is torch.nn.GELU and module.approximate == "none":
        return "BiasGelu"
    return None


def check_blocks(blocks: list[torch.nn.Module], need: Need) -> None:
    """Calls `need` on each part of open_clip's residual blocks that the graphs write exactly."""
    for block in blocks:
        need(type(block) is ResidualAttentionBlock, "has another residual block")
        need(not hasattr(block, "ln_1_kv"), "has cross-attention")
        need(type(block.ls_1) is torch.nn.Identity and type(block.ls_2) is torch.nn.Identity, "has layer scale")
        attention = block.attn
        need(attention.in_proj_weight is not None and attention.in_proj_bias is not None, "has split projections")
        need(attention.bias_k is None and not attention.add_zero_attn, "has extra attention keys")
        need(attention.out_proj.bias is not None, "has no output projection bias")
        need(activation_of(block.mlp.gelu) is not None, f"uses the activation {type(block.mlp.gelu).__name__}")
        need(block.mlp.c_fc.bias is not None and block.mlp.c_proj.bias is not None, "has an MLP without biases")
        check_norms([block.ln_1, block.ln_2], need)


def check_norms(norms: list[torch.nn.Module], need: Need) -> None:
    need(all(type(norm) in LAYER_NORMS and norm.weight is not None and norm.bias is not None for norm in norms),
         "has another norm")  # fmt: skip


class Graph:
    """Nodes and weights being written, with fresh names for the values between them."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.weights: list[onnx.TensorProto] = []

    def weight(self, name: str, value: np.ndarray | torch.Tensor) -> str:
        array = array_of(value) if isinstance(value, torch.Tensor) else value
        self.weights.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def node(
        self, op: str, inputs: list[str], outputs: int = 1, domain: str = "", name: str = "", **attributes
    ) -> list[str]:
        index = len(self.nodes)
        names = [f"{op}_{index}_{output}" for output in range(outputs)]
        node = helper.make_node(op, inputs, names, name=name or f"{op}_{index}", domain=domain, **attributes)
        self.nodes.append(node)
        return names

    def one(self, op: str, inputs: list[str], domain: str = "", **attributes) -> str:
        return self.node(op, inputs, 1, domain, **attributes)[0]

    def product(self, value: str, linear: torch.nn.Linear, name: str, int8: bool = True) -> str:
        """value @ linear's weight, as a MatMul (its bias is added by the next node) that onnx_quantize makes
        int8 unless told otherwise."""
        node_name = name if int8 else f"{KEEP_FP32}{name}"
        return self.node("MatMul", [value, self.weight(name, linear.weight.T)], name=node_name)[0]

    def mlp(self, value: str, block: ResidualAttentionBlock, name: str) -> str:
        """A block's MLP on `value`, but the bias of its second product (the next node adds it)."""
        mlp = block.mlp
        hidden = self.product(value, mlp.c_fc, f"{name}.mlp.c_fc")
        fc_bias = self.weight(f"{name}.mlp.c_fc_bias", mlp.c_fc.bias)
        if activation_of(mlp.gelu) == "QuickGelu":
            hidden = self.one("QuickGelu", [self.one("Add", [hidden, fc_bias])], MS, alpha=1.702)
        else:
            hidden = self.one("BiasGelu", [hidden, fc_bias], MS)
        return self.product(hidden, mlp.c_proj, f"{name}.mlp.c_proj")

    def model(self, name: str, given: onnx.ValueInfoProto, dim: int) -> onnx.ModelProto:
        """The graph as a model from `given` to unit vectors of `dim` (its last node writes "vector")."""
        vector = helper.make_tensor_value_info("vector", onnx.TensorProto.FLOAT, ["batch", dim])
        body = helper.make_graph(self.nodes, name, [given], [vector], self.weights)
        opsets = [helper.make_opsetid("", STANDARD_OPSET), helper.make_opsetid(MS, 1)]
        return helper.make_model(body, opset_imports=opsets, producer_name="viewfinder", ir_version=IR_VERSION)


def save_if_exact(
    graph: onnx.ModelProto, path: Path, external: bool, inputs: dict[str, np.ndarray], expected: np.ndarray, tower: str
) -> bool:
    """Saves `graph` to `path` (its weights in `path`.data when `external`) and keeps it when ONNX Runtime runs
    it on `inputs` to the unit vectors `expected` (cosine ≥ MIN_COSINE); False, with nothing left, otherwise."""
    import onnxruntime as ort

    if external:
        onnx.save_model(graph, str(path), save_as_external_data=True, location=f"{path.name}.data")
    else:
        onnx.save_model(graph, str(path))
    try:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        ours = session.run(None, inputs)[0]
        cosine = float((ours * expected).sum(axis=1).min())
    except Exception as error:  # ONNX Runtime's own errors (an operator or shape this version does not take)
        cosine, reason = float("nan"), " ".join(str(error).split())[:200]
    else:
        reason = f"cosine {cosine:.5f} to torch's vectors"
    if cosine >= MIN_COSINE:
        return True
    logging.getLogger(__name__).warning(
        "The fused %s graph does not run as torch's (%s); exporting with torch.", tower, reason
    )
    path.unlink()
    Path(f"{path}.data").unlink(missing_ok=True)
    return False
