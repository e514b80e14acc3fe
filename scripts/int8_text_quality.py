"""How much the int8 text tower (`--runtime onnx-int8`, auto) changes query vectors and rankings against fp32.

    PYTHONPATH=src python scripts/int8_text_quality.py [--model random:ViT-B-32] [--pictures 400] [--dynamic]

Prompts: the photo-search prompt bank (models/prompts.py), the shape world's bank, and typed queries made of
everyday subjects, places, times and styles ("a dog on the beach at sunset"): a few hundred searches as people
type them. For each prompt: the cosine of its int8 vector to its fp32 vector (the ONNX fp32 tower, itself
compared with open_clip's torch tower: fp32_to_torch_cosine_min). Rankings: the top 10 of each
prompt over two indexes, by its fp32 vector and by its int8 vector, compared as |top10 ∩ top10| / 10. The
indexes: the demo library's pictures (`viewfinder sample`), embedded by the model's fp32 image tower, and the
synthetic vectors `bench serve` searches (clustered unit vectors; they carry no meaning, only many near
neighbours). Ties: the share of prompts whose 10th and 11th fp32 scores differ by less than the largest
score change int8 makes to that prompt's top 11, where any quantiser may swap the two. "int8" is the tower this
CPU gets (dynamic int8 with signed weights with VNNI, unsigned without; its file is named). `--dynamic` measures
the same for the tower as the image tower's method makes it, for comparison. The
targets: cosine ≥ 0.995 for every prompt and a mean top-10 overlap ≥ 0.95 on each index ("meets").
Each prompt is encoded alone, as a search does: dynamic quantisation scales the activations of a whole batch at
once, so in a batch a prompt would get another vector than the one it is searched with.

With random weights this measures the quantiser on this architecture, not real CLIP weights, whose activations
have outliers; run it with `--model ViT-B-32:openai` where those weights exist.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from itertools import product
from pathlib import Path

import numpy as np

from viewfinder.models.prompts import PHOTO_PROMPTS, shapes_prompts

SUBJECTS = ("a dog", "my cat", "kids", "a red car", "an old bridge", "grandma", "a bicycle", "the boat", "a tent",
            "a birthday cake", "friends", "a horse", "the garden", "a castle", "a train")  # fmt: skip
SETTINGS = ("on the beach", "in the snow", "at night", "in Paris", "at sunset", "in the rain", "in the mountains",
            "at the lake", "in summer 2023", "near the old town", "in the kitchen", "last winter")  # fmt: skip
STYLES = ("", "black and white photo of ", "close-up of ", "blurry picture of ")
THRESHOLDS = {"cosine_min": 0.995, "top10_overlap_mean": 0.95}


def typed_queries(count: int, seed: int = 0) -> list[str]:
    """`count` typed searches: a style, a subject and a setting, drawn without repeats."""
    rng = np.random.default_rng(seed)
    combos = list(product(STYLES, SUBJECTS, SETTINGS))
    picked = rng.choice(len(combos), size=min(count, len(combos)), replace=False)
    return [f"{combos[i][0]}{combos[i][1]} {combos[i][2]}" for i in picked]


def prompt_set() -> list[str]:
    return list(dict.fromkeys([*PHOTO_PROMPTS, *shapes_prompts(), *typed_queries(200)]))


def top_k(queries: np.ndarray, index: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Indexes and scores of the top k rows of `index` for each query, best first."""
    scores = queries @ index.T
    top = np.argpartition(-scores, k, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, top, 1), axis=1)
    top = np.take_along_axis(top, order, 1)
    return top, np.take_along_axis(scores, top, 1)


def ranking_change(fp32: np.ndarray, int8: np.ndarray, index: np.ndarray, k: int = 10) -> dict[str, float]:
    """Top-k overlap of int8 queries against fp32 queries over `index`, and the share of near-ties."""
    fp32_top, fp32_scores = top_k(fp32, index, k + 1)
    int8_top, _ = top_k(int8, index, k)
    overlap = np.array([len(set(a[:k]) & set(b)) / k for a, b in zip(fp32_top, int8_top, strict=True)])
    # How far int8 moves the scores of the fp32 top k+1: a gap between 10th and 11th under that is a tie.
    moved = np.abs(np.take_along_axis((int8 - fp32) @ index.T, fp32_top, 1)).max(1) * 2
    ties = (fp32_scores[:, k - 1] - fp32_scores[:, k]) < moved
    return {
        "top10_overlap_mean": round(float(overlap.mean()), 4),
        "top10_overlap_min": round(float(overlap.min()), 2),
        "top10_exact_share": round(float((overlap == 1.0).mean()), 3),
        "near_tie_share": round(float(ties.mean()), 3),
    }


def picture_vectors(embedder, count: int) -> np.ndarray:
    """The fp32 image vectors of a generated demo library of `count` pictures."""
    from viewfinder.app.library import make_sample
    from viewfinder.images.decode import decode_image

    with tempfile.TemporaryDirectory() as folder:
        make_sample(Path(folder), count, seed=0)
        files = sorted(p for p in Path(folder).rglob("*") if p.suffix.lower() in {".jpg", ".jpeg", ".png"})
        pixels = np.stack([decode_image(path, embedder.preprocess).pixels for path in files])
    return np.concatenate([embedder.encode_images(pixels[i : i + 32]) for i in range(0, len(pixels), 32)])


def encode(encode_texts, prompts: list[str]) -> np.ndarray:
    """The prompts' vectors, each encoded alone."""
    return np.concatenate([encode_texts([prompt]) for prompt in prompts])


def other_tower(fp32_model, folder: Path, quantise):
    """What encodes texts with the text tower as `quantise` (an onnx_quantize method) makes it."""
    import onnxruntime as ort

    from viewfinder.models.onnx_runtime import run_tower

    target = folder / f"text.{quantise.__name__}.onnx"
    quantise(fp32_model.folder / "text.onnx", target)
    session = ort.InferenceSession(str(target), providers=["CPUExecutionProvider"])
    return lambda texts: run_tower(session, fp32_model.tokenizer(texts, trim=True))


def torch_vectors(spec, prompts: list[str]) -> np.ndarray:
    """The prompts' vectors by open_clip's own text tower (torch, fp32): what the ONNX fp32 tower must equal."""
    import torch

    from viewfinder.models.torch_runtime import create_model

    model, tokenizer = create_model(spec, "cpu")
    with torch.no_grad():
        return np.concatenate(
            [
                model.encode_text(tokenizer(prompts[i : i + 64]), normalize=True).numpy()
                for i in range(0, len(prompts), 64)
            ]
        )


def measure(fp32: np.ndarray, int8: np.ndarray, indexes: dict[str, np.ndarray]) -> dict:
    cosine = (fp32 * int8).sum(1)
    report: dict = {
        "cosine_min": round(float(cosine.min()), 5),
        "cosine_p1": round(float(np.percentile(cosine, 1)), 5),
        "cosine_median": round(float(np.median(cosine)), 5),
    }
    report.update({name: ranking_change(fp32, int8, index) for name, index in indexes.items()})
    report["meets"] = cosine.min() >= THRESHOLDS["cosine_min"] and all(
        report[name]["top10_overlap_mean"] >= THRESHOLDS["top10_overlap_mean"] for name in indexes
    )
    return report


def main() -> None:
    from viewfinder.bench.vectors import clustered_vectors
    from viewfinder.models.onnx_quantize import dynamic_int8, int8_method
    from viewfinder.models.onnx_runtime import OnnxEmbedder
    from viewfinder.models.registry import resolve_model

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="random:ViT-B-32")
    parser.add_argument("--pictures", type=int, default=400, help="demo library pictures to index (400)")
    parser.add_argument("--vectors", type=int, default=100_000, help="synthetic vectors to index (100000)")
    parser.add_argument("--dynamic", action="store_true", help="also measure the image tower's dynamic int8")
    args = parser.parse_args()
    spec = resolve_model(args.model)
    fp32_model, int8_model = OnnxEmbedder(spec), OnnxEmbedder(spec, int8=True)
    prompts = prompt_set()
    fp32 = encode(fp32_model.encode_texts, prompts)
    indexes = {
        "pictures": picture_vectors(fp32_model, args.pictures),
        "synthetic": clustered_vectors(args.vectors, fp32.shape[1], 0),
    }
    between = fp32 @ fp32.T
    meta = json.loads((fp32_model.folder / "export.json").read_text())
    report = {
        "model": args.model,
        "text_graph": meta.get("text_graph", "torch"),
        # The ONNX fp32 tower against open_clip's: the reference the int8 tower is measured against.
        "fp32_to_torch_cosine_min": round(float((fp32 * torch_vectors(spec, prompts)).sum(1).min()), 6),
        "prompts": len(prompts),
        "indexes": {name: len(index) for name, index in indexes.items()},
        # How alike the fp32 vectors of different prompts are: near 1, rankings hang on small differences.
        "fp32_prompt_to_prompt_cosine_median": round(float(np.median(between[np.triu_indices(len(prompts), 1)])), 4),
        "int8_file": int8_method("text")[0],
        "int8": measure(fp32, encode(int8_model.encode_texts, prompts), indexes),
    }
    if args.dynamic:
        with tempfile.TemporaryDirectory() as folder:
            tower = other_tower(fp32_model, Path(folder), dynamic_int8)
            report["dynamic_int8"] = measure(fp32, encode(tower, prompts), indexes)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
