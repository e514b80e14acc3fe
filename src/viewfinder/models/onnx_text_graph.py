"""CLIP's text tower written as a fused ONNX graph from the model's weights, instead of torch's export.

torch's (dynamo) exporter writes the text tower as ~600 nodes (133 reshapes, 96 transposes, the slices of each
attention) whose attention ONNX Runtime cannot fuse. Here each residual block is nine nodes, mostly ONNX Runtime's
fused operators (com.microsoft), two of them broadcasting the start token's keys and values: the query-key-value
product, its split, the causal attention (MultiHeadAttention, unidirectional), its output projection and the
MLP's two products around its activation (BiasGelu, or QuickGelu after an Add); and two layer norms that add the
residual first (`_skip_norm`, eleven standard nodes each): the one before the MLP, and the next block's (or the
final one). ~400 nodes for 12 blocks. Every product is a plain MatMul, so onnx_quantize makes them int8 (the
attention output projections, named KEEP_FP32, in blocks or fp32: onnx_quantize says which).

Two exact savings, both from the causal mask. Every sequence starts with the start token, whose keys and values
are the same in every query: they are computed here once, from the weights, and each block attends to them as
past keys, so the graph runs on the tokens after it. And the output is read at the end token alone (the largest
id): the last block runs its query, output projection and MLP on that row only, attending to the keys up to it.
The positional embedding is sliced to the sequence length and the vector projected and L2-normalised, as
open_clip's `encode_text(normalize=True)` does for a CLIP whose text tower is causal and pooled at the end token
(which also makes trimming the padding exact). Other text towers are exported by torch
(`TextGraphUnsupportedError`).
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
from open_clip.transformer import Transformer

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

# Recorded in export.json: which graph an export's text tower is, so a later change to it can be told apart.
TEXT_GRAPH = "fused-2"  # 2: layer norms in standard operators


class TextGraphUnsupportedError(ViewfinderError):
    """The model's text tower has a part this graph does not write (torch's export is used instead)."""


def check_supported(model: torch.nn.Module) -> None:
    """Raises TextGraphUnsupportedError unless `model`'s text tower is one this graph writes exactly."""
    need = requirement(TextGraphUnsupportedError, "text tower")
    need(isinstance(model, CLIP), "is not open_clip's CLIP")
    need(model.text_pool_type == "argmax" and model.attn_mask is not None, "is not causal and pooled at the end")
    need(type(model.transformer) is Transformer, "is not open_clip's Transformer")
    need(type(model.token_embedding) is torch.nn.Embedding, "has another token embedding")
    projection = model.text_projection
    need(projection is None or isinstance(projection, torch.nn.Parameter | torch.nn.Linear), "has another projection")
    check_blocks(list(model.transformer.resblocks), need)
    check_norms([model.ln_final], need)


def _skip_norm(graph: Graph, value: str, skip: str, bias: str, norm: torch.nn.Module, name: str) -> tuple[str, str]:
    """(LayerNorm(value + skip + bias), value + skip + bias), in standard operators.

    ONNX Runtime's SkipLayerNormalization and LayerNormalization normalise a row of 512 in about 3 µs on one
    CPU thread; these eleven nodes do a sentence's rows in a third of that (the whole tower: 0.93-1.00x the CPU
    a sentence, BENCHMARKS.md). The square is a Mul: ONNX Runtime fuses the Pow form back into its own kernel.
    """
    gamma, beta = graph.weight(f"{name}.weight", norm.weight), graph.weight(f"{name}.bias", norm.bias)
    summed = graph.one("Add", [graph.one("Add", [value, skip]), bias])
    last_axis = graph.weight(f"{name}.axis", np.array([-1], np.int64))
    centred = graph.one("Sub", [summed, graph.one("ReduceMean", [summed, last_axis])])
    variance = graph.one("ReduceMean", [graph.one("Mul", [centred, centred]), last_axis])
    epsilon = graph.weight(f"{name}.eps", np.array([norm.eps], np.float32))
    deviation = graph.one("Sqrt", [graph.one("Add", [variance, epsilon])])
    normed = graph.one("Add", [graph.one("Mul", [graph.one("Div", [centred, deviation]), gamma]), beta])
    return normed, summed


def _start_keys_values(model: CLIP, start_id: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each block's key and value of the start token at position 0, [1, heads, 1, head width] each."""
    keys_values = []
    with torch.no_grad():
        x = model.token_embedding(torch.tensor([[start_id]])) + model.positional_embedding[:1]
        for block in model.transformer.resblocks:
            attention = block.attn
            qkv = F.linear(block.ln_1(x), attention.in_proj_weight, attention.in_proj_bias)
            heads = attention.num_heads
            _, key, value = (array_of(part.reshape(1, heads, 1, -1)) for part in qkv.chunk(3, dim=-1))
            keys_values.append((key, value))
            x = block(x, attn_mask=model.attn_mask[:1, :1])
    return keys_values


def build_text_graph(model: CLIP, start_id: int) -> onnx.ModelProto:
    """The fused graph of `model`'s text tower: int64 tokens [batch, tokens] in (any length up to the context,
    each sequence starting with the start token `start_id`), unit vectors [batch, dim] out. Raises
    TextGraphUnsupportedError for a tower it does not write."""
    check_supported(model)
    graph = Graph()
    blocks = list(model.transformer.resblocks)
    one = graph.weight("one", np.array([1], np.int64))
    after = graph.one("Slice", ["tokens", one, graph.weight("all", np.array([np.iinfo(np.int64).max])), one])
    length = graph.one("Shape", ["tokens"], start=1, end=2)
    positions = graph.one("Slice", [graph.weight("positional_embedding", model.positional_embedding), one, length])
    embedded = graph.one("Gather", [graph.weight("token_embedding", model.token_embedding.weight), after])
    no_bias = graph.weight("no_bias", np.zeros(model.positional_embedding.shape[1], np.float32))
    normed, residual = _skip_norm(graph, embedded, positions, no_bias, blocks[0].ln_1, "resblocks.0.ln_1")
    # The start token's keys and values, [1, heads, 1, head width], broadcast to the batch.
    batch = graph.one("Shape", ["tokens"], start=0, end=1)
    batch_shape = graph.one("Concat", [batch, graph.weight("ones", np.array([1, 1, 1], np.int64))], axis=0)
    start = _start_keys_values(model, start_id)
    # The end token's row in the tokens after the start token, and how many keys it attends to (itself included).
    end_rows = graph.one("ArgMax", [after], axis=1, keepdims=0)
    end_rows = graph.one("Unsqueeze", [end_rows, graph.weight("row_axes", np.array([1, 2], np.int64))])
    end = graph.one("ArgMax", ["tokens"], axis=1, keepdims=0)
    keys = graph.one("Cast", [graph.one("Add", [end, one])], to=TensorProto.INT32)
    for number, block in enumerate(blocks):
        name, attention, mlp = f"resblocks.{number}", block.attn, block.mlp
        qkv = graph.one("MatMul", [normed, graph.weight(f"{name}.attn.in_proj", attention.in_proj_weight.T)])
        query, key, value = graph.node("Split", [qkv], 3, axis=-1, num_outputs=3)
        qkv_bias = graph.weight(f"{name}.attn.in_proj_bias", attention.in_proj_bias)
        past = [
            graph.one("Expand", [graph.weight(f"{name}.attn.start_{kind}", array), batch_shape])
            for kind, array in zip(("key", "value"), start[number], strict=True)
        ]
        if number < len(blocks) - 1:
            inputs, causal = [query, key, value, qkv_bias, "", "", *past], 1
        else:  # the end token's row alone, attending to the keys up to it
            query = graph.one("GatherND", [query, end_rows], batch_dims=1)
            residual = graph.one("GatherND", [residual, end_rows], batch_dims=1)
            inputs, causal = [query, key, value, qkv_bias, keys, "", *past], 0
        # Three outputs: ONNX Runtime's CPU kernel reads the past keys only when it writes the present ones too.
        heads = attention.num_heads
        attended = graph.node("MultiHeadAttention", inputs, 3, MS, num_heads=heads, unidirectional=causal)[0]
        projected = graph.product(attended, attention.out_proj, f"{name}.attn.out_proj", int8=False)
        out_bias = graph.weight(f"{name}.attn.out_proj_bias", attention.out_proj.bias)
        normed, residual = _skip_norm(graph, projected, residual, out_bias, block.ln_2, f"{name}.ln_2")
        hidden = graph.mlp(normed, block, name)
        proj_bias = graph.weight(f"{name}.mlp.c_proj_bias", mlp.c_proj.bias)
        if number < len(blocks) - 1:
            following, following_name = blocks[number + 1].ln_1, f"resblocks.{number + 1}.ln_1"
        else:
            following, following_name = model.ln_final, "ln_final"
        normed, residual = _skip_norm(graph, hidden, residual, proj_bias, following, following_name)
    pooled = graph.one("Flatten", [normed], axis=2)  # [batch, 1, width] -> [batch, width]
    projection = model.text_projection
    if isinstance(projection, torch.nn.Linear):
        pooled = graph.product(pooled, projection, "text_projection")
        if projection.bias is not None:
            pooled = graph.one("Add", [pooled, graph.weight("text_projection_bias", projection.bias)])
    elif projection is not None:
        pooled = graph.one("MatMul", [pooled, graph.weight("text_projection", projection)])
    graph.nodes.append(helper.make_node("LpNormalization", [pooled], ["vector"], name="normalize", axis=-1, p=2))
    if isinstance(projection, torch.nn.Linear):
        dim = projection.out_features
    else:
        dim = model.ln_final.weight.shape[0] if projection is None else projection.shape[1]
    tokens = helper.make_tensor_value_info("tokens", TensorProto.INT64, ["batch", "tokens"])
    return graph.model("clip_text", tokens, dim)


def write_text_graph(model: CLIP, start_id: int, tokens: torch.Tensor, path: Path, external: bool) -> bool:
    """Writes the fused text graph of `model` to `path` (its weights in `path`.data when `external`) when the
    model's text tower is one it writes and it gives torch's vectors for `tokens` (onnx_graph.save_if_exact);
    False, with nothing written, otherwise."""
    try:
        graph = build_text_graph(model, start_id)
    except TextGraphUnsupportedError as error:
        logging.getLogger(__name__).info("%s Exporting it with torch.", error)
        return False
    with torch.no_grad():
        theirs = F.normalize(model.encode_text(tokens), dim=-1).numpy()
    return save_if_exact(graph, path, external, {"tokens": tokens.numpy().astype(np.int64)}, theirs, "text")
