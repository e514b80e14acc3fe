"""CLIP's vision transformer written as a fused ONNX graph from the model's weights, instead of torch's export.

torch's (dynamo) exporter writes open_clip's attention as reshapes, transposes and separate products that ONNX
Runtime cannot fuse (for ViT-B-32-256, 97 transposes: 6.6% of the int8 tower's time on a CPU without VNNI, where
the rest of a batch is mostly its products). Here each residual block is seven nodes: the query-key-value
product, its split, ONNX Runtime's MultiHeadAttention, the output projection, the MLP's two products around its
activation (BiasGelu, or QuickGelu after an Add), and a SkipLayerNormalization after each half that adds the
residual and the bias, then normalises for what comes next. The patches are one Conv and one transpose; the
class token (with its position added) is broadcast in front of them.

One exact saving: the vector is read at the class token alone (pooling "tok", and the final layer norm works
row by row, so it may come before or after the pooling), so the last block runs its output projection and MLP
on that row only, attending to every patch. Every product is a plain MatMul, so onnx_quantize makes them int8.
Other image towers (ResNets, attention pooling, layer scale) are exported by torch (`ImageGraphUnsupportedError`).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import TensorProto, helper
from open_clip.model import CLIP
from open_clip.transformer import Transformer, VisionTransformer

from viewfinder.errors import ViewfinderError
from viewfinder.models.onnx_graph import (
    MS,
    Graph,
    array_of,
    check_blocks,
    check_norms,
    requirement,
    save_if_exact,
)

# Recorded in export.json: which graph an export's image tower is, so a later change to it can be told apart.
IMAGE_GRAPH = "fused-1"


class ImageGraphUnsupportedError(ViewfinderError):
    """The model's image tower has a part this graph does not write (torch's export is used instead)."""


def check_supported(model: torch.nn.Module) -> None:
    """Raises ImageGraphUnsupportedError unless `model`'s image tower is one this graph writes exactly."""
    need = requirement(ImageGraphUnsupportedError, "image tower")
    need(isinstance(model, CLIP), "is not open_clip's CLIP")
    visual = model.visual
    need(type(visual) is VisionTransformer, "is not open_clip's VisionTransformer")
    need(type(visual.transformer) is Transformer, "is not open_clip's Transformer")
    need(visual.attn_pool is None and visual.pool_type == "tok", "is not pooled at the class token")
    need(type(visual.patch_dropout) is torch.nn.Identity, "drops patches")
    need(visual.conv1.bias is None and visual.conv1.padding == (0, 0), "has another patch embedding")
    need(isinstance(visual.proj, torch.nn.Parameter), "has another projection")
    need(visual.positional_embedding.dim() == 2, "has another positional embedding")
    check_blocks(list(visual.transformer.resblocks), need)
    check_norms([visual.ln_pre, visual.ln_post], need)


def _skip_norm(graph: Graph, value: str, skip: str, bias: str, norm: torch.nn.Module, name: str) -> tuple[str, str]:
    """(LayerNorm(value + skip + bias), value + skip + bias) in ONNX Runtime's kernel: an image batch has
    thousands of rows, which it normalises faster than standard operators (for a text query's few rows, the
    text graph writes them out, onnx_text_graph._skip_norm)."""
    gamma, beta = graph.weight(f"{name}.weight", norm.weight), graph.weight(f"{name}.bias", norm.bias)
    outputs = graph.node("SkipLayerNormalization", [value, skip, gamma, beta, bias], 4, MS, epsilon=float(norm.eps))
    return outputs[0], outputs[3]  # the normalised sum, and the sum


def build_image_graph(model: CLIP) -> onnx.ModelProto:
    """The fused graph of `model`'s image tower: float pixels [batch, 3, side, side] in (the model's input size),
    unit vectors [batch, dim] out. Raises ImageGraphUnsupportedError for a tower it does not write."""
    check_supported(model)
    visual, graph = model.visual, Graph()
    blocks = list(visual.transformer.resblocks)
    width = visual.class_embedding.shape[0]
    conv = visual.conv1
    patches = graph.one("Conv", ["pixels", graph.weight("conv1.weight", conv.weight)],
                        kernel_shape=list(conv.kernel_size), strides=list(conv.stride))  # fmt: skip
    patches = graph.one("Reshape", [patches, graph.weight("patch_rows", np.array([0, width, -1], np.int64))])
    patches = graph.one("Transpose", [patches], perm=[0, 2, 1])  # [batch, patches, width]
    positions = array_of(visual.positional_embedding)
    patches = graph.one("Add", [patches, graph.weight("patch_positions", positions[1:])])
    batch = graph.one("Shape", ["pixels"], start=0, end=1)
    class_shape = graph.one("Concat", [batch, graph.weight("class_rows", np.array([1, width], np.int64))], axis=0)
    class_token = graph.weight("class_token", (array_of(visual.class_embedding) + positions[0])[None, None])
    tokens = graph.one("Concat", [graph.one("Expand", [class_token, class_shape]), patches], axis=1)
    ln_pre = visual.ln_pre
    pre = [graph.weight("ln_pre.weight", ln_pre.weight), graph.weight("ln_pre.bias", ln_pre.bias)]
    residual = graph.one("LayerNormalization", [tokens, *pre], axis=-1, epsilon=float(ln_pre.eps))
    ln_1 = blocks[0].ln_1
    first = [graph.weight("resblocks.0.ln_1.weight", ln_1.weight), graph.weight("resblocks.0.ln_1.bias", ln_1.bias)]
    normed = graph.one("LayerNormalization", [residual, *first], axis=-1, epsilon=float(ln_1.eps))
    # Slice's starts, ends and axes for the class token's row: [0, 1) of axis 1.
    bounds = (("row_0", 0), ("row_1", 1), ("axis_1", 1))
    class_row = [graph.weight(name, np.array([at], np.int64)) for name, at in bounds]
    for number, block in enumerate(blocks):
        name, attention = f"resblocks.{number}", block.attn
        qkv = graph.one("MatMul", [normed, graph.weight(f"{name}.attn.in_proj", attention.in_proj_weight.T)])
        query, key, value = graph.node("Split", [qkv], 3, axis=-1, num_outputs=3)
        if number == len(blocks) - 1:  # the class token's row alone, attending to every patch
            query = graph.one("Slice", [query, *class_row])
            residual = graph.one("Slice", [residual, *class_row])
        qkv_bias = graph.weight(f"{name}.attn.in_proj_bias", attention.in_proj_bias)
        heads = attention.num_heads
        attended = graph.one("MultiHeadAttention", [query, key, value, qkv_bias], MS, num_heads=heads)
        projected = graph.product(attended, attention.out_proj, f"{name}.attn.out_proj")
        out_bias = graph.weight(f"{name}.attn.out_proj_bias", attention.out_proj.bias)
        normed, residual = _skip_norm(graph, projected, residual, out_bias, block.ln_2, f"{name}.ln_2")
        hidden = graph.mlp(normed, block, name)
        proj_bias = graph.weight(f"{name}.mlp.c_proj_bias", block.mlp.c_proj.bias)
        if number < len(blocks) - 1:
            following, following_name = blocks[number + 1].ln_1, f"resblocks.{number + 1}.ln_1"
        else:
            following, following_name = visual.ln_post, "ln_post"
        normed, residual = _skip_norm(graph, hidden, residual, proj_bias, following, following_name)
    pooled = graph.one("Flatten", [normed], axis=2)  # [batch, 1, width] -> [batch, width]
    pooled = graph.one("MatMul", [pooled, graph.weight("proj", visual.proj)])
    graph.nodes.append(helper.make_node("LpNormalization", [pooled], ["vector"], name="normalize", axis=-1, p=2))
    side = list(visual.image_size) if isinstance(visual.image_size, tuple) else [visual.image_size] * 2
    pixels = helper.make_tensor_value_info("pixels", TensorProto.FLOAT, ["batch", 3, *side])
    return graph.model("clip_image", pixels, int(visual.proj.shape[1]))


def write_image_graph(model: CLIP, pixels: torch.Tensor, path: Path, external: bool) -> bool:
    """Writes the fused image graph of `model` to `path` (its weights in `path`.data when `external`) when the
    model's image tower is one it writes and it gives torch's vectors for `pixels` (onnx_graph.save_if_exact);
    False, with nothing written, otherwise."""
    try:
        graph = build_image_graph(model)
    except ImageGraphUnsupportedError as error:
        logging.getLogger(__name__).info("%s Exporting it with torch.", error)
        return False
    with torch.no_grad():
        theirs = F.normalize(model.encode_image(pixels), dim=-1).numpy()
    return save_if_exact(graph, path, external, {"pixels": pixels.numpy()}, theirs, "image")
