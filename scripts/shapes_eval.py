"""Held-out evaluation of `test:shapes`: pictures drawn by code the model never trained on.

Five libraries, none from a training renderer: `shapeworld.heldout` (signed-distance shapes, its own
colour shades and backgrounds), `shapeworld.sketch` (hand-drawn outlines, crayon fill, paper),
`shapeworld.mosaic` (shapes laid in tiles or beads on a grid), `shapeworld.tabletop` (cut-out pieces lit on
a table, photographed at a slant; written apart from the training recipe, the fully held-out one) and the web
tests' 36 pictures (flat Pillow shapes on light backgrounds).
Used by scripts/train_shapes.py for the model card; run alone to measure a weights file:

    PYTHONPATH=src python scripts/shapes_eval.py [WEIGHTS]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import open_clip
import torch
from PIL import Image

from viewfinder.models.registry import MODEL_CONFIG_DIR, SHAPES_ARCH, SHAPES_WEIGHTS

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "worlds"))  # the shape world, not in the package
from shapeworld import heldout, mosaic, sketch, tabletop
from shapeworld.captions import LANGUAGES, query

MODEL_NAME = SHAPES_ARCH
HELD_OUT_SEED = 20_240_611  # the training script draws no picture from the held-out renderer at all
SKETCH_SEED = 20_261_206  # the hand-drawn library's; none of these renderers is drawn from in training
MOSAIC_SEED = 20_261_207  # the tiled library's
TABLETOP_SEED = 20_261_208  # the photographed pieces' library
PER_PAIR = 5  # held-out library pictures per (colour, shape) pair: 240 in each of the four renderers
TOP = 10  # results the negative check looks at
K = 5  # precision@K


def load_shipped(path: Path):
    """The model exactly as Viewfinder loads `test:shapes`: registered config plus the weights file."""
    open_clip.add_model_config(MODEL_CONFIG_DIR)
    model, _, preprocess = open_clip.create_model_and_transforms(MODEL_NAME, pretrained=str(path))
    model.eval()
    return model, preprocess, open_clip.get_tokenizer(MODEL_NAME)


@dataclass
class Embedder:
    """Normalised image and text embeddings from the shipped model, as numpy arrays."""

    model: torch.nn.Module
    preprocess: object
    tokenizer: object

    @torch.no_grad()
    def images(self, images: list[Image.Image]) -> np.ndarray:
        batches = [
            self.model.encode_image(torch.stack([self.preprocess(im) for im in images[i : i + 256]]), normalize=True)
            for i in range(0, len(images), 256)
        ]
        return torch.cat(batches).numpy()

    @torch.no_grad()
    def texts(self, texts: list[str]) -> np.ndarray:
        return self.model.encode_text(self.tokenizer(texts), normalize=True).numpy()


def _unit(vector: np.ndarray) -> np.ndarray:
    return vector / np.linalg.norm(vector)


def _precision(order: np.ndarray, labels: list, pair: tuple[str, str], relevant: int) -> float:
    """Share of the top min(K, relevant) results showing the pair: precision@K where the library holds fewer
    than K such pictures is measured against what the top could hold at best."""
    top = min(K, relevant)
    return float(np.mean([labels[i] == pair for i in order[:top]]))


def library_metrics(embed: Embedder, gallery: np.ndarray, labels: list, queries: np.ndarray | None) -> dict:
    """Text→image, image→image and negative-query figures over every (colour, shape) pair of one library.

    `queries` holds one fresh picture per pair (in `pairs` order) for image→image; None means each library
    picture queries the others.
    """
    pairs = sorted(set(labels), key=labels.index)
    counts = {pair: labels.count(pair) for pair in pairs}
    texts = embed.texts([query("en", c, s) for c, s in pairs])
    text_p = [_precision(np.argsort(-(gallery @ t)), labels, p, counts[p]) for p, t in zip(pairs, texts, strict=True)]
    if queries is None:
        scores = gallery @ gallery.T
        np.fill_diagonal(scores, -np.inf)
        image_p = [
            _precision(np.argsort(-row), labels, labels[i], counts[labels[i]] - 1) for i, row in enumerate(scores)
        ]
    else:
        image_p = [
            _precision(np.argsort(-(gallery @ q)), labels, p, counts[p]) for p, q in zip(pairs, queries, strict=True)
        ]
    words = [*dict.fromkeys(c for c, _ in pairs), *dict.fromkeys(s for _, s in pairs)]
    vectors = dict(zip(words, embed.texts(words), strict=True))
    excluded, on_shape = [], []
    for colour, shape in pairs:
        order = np.argsort(-(gallery @ _unit(_unit(vectors[shape]) - _unit(vectors[colour]))))[:TOP]
        excluded.append(all(labels[i] != (colour, shape) for i in order))
        on_shape.append(np.mean([labels[i][1] == shape for i in order]))
    recall = {}
    for language in LANGUAGES:
        queries_l = embed.texts([query(language, c, s) for c, s in pairs])
        recall[language] = float(
            np.mean([labels[int(np.argmax(gallery @ q))] == p for p, q in zip(pairs, queries_l, strict=True)])
        )
    return {
        "pairs": len(pairs),
        "text_to_image_p_at_5": float(np.mean(text_p)),
        "image_to_image_p_at_5": float(np.mean(image_p)),
        "negative_excluded_rate": float(np.mean(excluded)),
        "negative_shape_precision": float(np.mean(on_shape)),
        **{f"recall_at_1_{language}": value for language, value in recall.items()},
    }


def renderer_metrics(embed: Embedder, renderer, workdir: Path, seed: int) -> dict:
    """Metrics on one renderer's library (`heldout`, `sketch`, `mosaic` or `tabletop`), read back from JPEG files;
    image queries are fresh pictures of each pair from the same renderer."""
    library = renderer.write_library(workdir, PER_PAIR, seed=seed)
    gallery = embed.images([Image.open(path).convert("RGB") for path in library])
    rng = np.random.default_rng(seed + 1)
    fresh = embed.images([renderer.render(c, s, rng) for c, s in renderer.PAIRS])
    return library_metrics(embed, gallery, list(library.values()), fresh)


def evaluate(embed: Embedder, workdir: Path) -> dict[str, dict]:
    """Metrics on the four held-out renderers' libraries and on the web tests' library."""
    web = heldout.web_pictures()
    web_gallery = embed.images([image for _, _, image in web])
    return {
        "heldout": renderer_metrics(embed, heldout, workdir / "heldout", HELD_OUT_SEED),
        "sketch": renderer_metrics(embed, sketch, workdir / "sketch", SKETCH_SEED),
        "mosaic": renderer_metrics(embed, mosaic, workdir / "mosaic", MOSAIC_SEED),
        "tabletop": renderer_metrics(embed, tabletop, workdir / "tabletop", TABLETOP_SEED),
        "web": library_metrics(embed, web_gallery, [(c, s) for c, s, _ in web], None),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("weights", type=Path, nargs="?", default=SHAPES_WEIGHTS)
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        results = evaluate(Embedder(*load_shipped(args.weights)), Path(tmp))
    for library, metrics in results.items():
        for name, value in metrics.items():
            print(f"{library:8s} {name:28s} {value:.3f}")


if __name__ == "__main__":
    sys.exit(main())
