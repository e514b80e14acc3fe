"""Train the `test:shapes` model (also named `test:shapes-multilingual`): a tiny open_clip CLIP on pictures of
coloured shapes, captioned in English, French, German and Spanish.

Run from the repository root (CPU, deterministic for a seed, about 30 minutes on two idle cores):

    PYTHONPATH=src python scripts/train_shapes.py

The pictures and captions come from the shape world in worlds/shapeworld/ (not shipped in the package), which
this script puts on the import path itself.

Writes src/viewfinder/models/weights/shapes-multilingual.safetensors (fp16) and docs/model-card-shapes.md
with metrics measured on the shipped file, loaded the way Viewfinder loads it, on pictures from renderers the
training never used (scripts/shapes_eval.py).
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import open_clip
import torch
from open_clip.transform import PreprocessCfg, image_transform_v2
from safetensors.torch import save_file

from viewfinder.images import synthetic
from viewfinder.images.synthetic import COLOURS, SHAPES, ShapeObject
from viewfinder.models.registry import MODEL_CONFIG_DIR, SHAPES_ARCH, SHAPES_WEIGHTS

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "worlds"))  # the shape world, not in the package
sys.path.insert(0, str(Path(__file__).parent))  # shapes_eval, beside this script
import shapes_eval

from shapeworld import captions, varied

MODEL_NAME = SHAPES_ARCH
CONFIG_DIR = MODEL_CONFIG_DIR
REPO = Path(__file__).resolve().parents[1]
CHUNK = 250  # pictures per generation task; each chunk has its own seed, so workers do not change the data
SAMPLE_SHARE = 0.15  # pictures in the sample library's own style (the demo's `viewfinder sample`)
# Caption languages, English most often: it is the language of the demo and of most queries.
LANGUAGE_P = {"en": 0.4, "fr": 0.2, "de": 0.2, "es": 0.2}
LABELS: list = [*COLOURS, *SHAPES, *((colour, shape) for colour in COLOURS for shape in SHAPES)]
# Captions that describe nothing, added to each batch as negatives for every picture. A CLIP learns from web
# captions, many of which (file names, codes, words of other languages) say nothing of their picture; a model
# that never saw such text matched "qwertyuiop" and words of languages it was not taught as well as "a red
# circle" (BENCHMARKS.md, "Relevance": the 600-step trial and this training).
NONSENSE_PER_BATCH = 16
LETTERS = np.array(list("abcdefghijklmnopqrstuvwxyz"))


@dataclass
class Pool:
    """Preprocessed training images (fp16, as open_clip's eval transform leaves them) and what they show."""

    images: torch.Tensor
    objects: list[tuple[ShapeObject, ...]]
    backgrounds: list[str | None]  # the sample style's named background, which English captions may mention


def _render_chunk(task: tuple[np.random.SeedSequence, int]) -> tuple[np.ndarray, list, list]:
    """Render pictures in random styles, as files would hold them, and apply the search-time transform."""
    seed, count = task
    torch.set_num_threads(1)
    preprocess = _eval_transform()
    rng = np.random.default_rng(seed)
    images, objects, backgrounds = [], [], []
    for _ in range(count):
        if rng.random() < SAMPLE_SHARE:
            scene = synthetic.random_scene(rng)
            image = varied.degrade(synthetic.render_scene(scene, (320, 240), rng), rng)
            objects.append(scene.objects)
            backgrounds.append(scene.background)
        else:
            image, shown = varied.random_picture(rng)
            objects.append(shown)
            backgrounds.append(None)
        images.append(preprocess(image).numpy().astype(np.float16))
    return np.stack(images), objects, backgrounds


def _eval_transform():
    """open_clip's inference transform for the config: shortest side bicubic, centre crop, OpenAI mean/std."""
    open_clip.add_model_config(CONFIG_DIR)
    size = open_clip.get_model_config(MODEL_NAME)["vision_cfg"]["image_size"]
    return image_transform_v2(PreprocessCfg(size=size), is_train=False)


def build_pool(count: int, seed: int, workers: int) -> Pool:
    """Generate `count` training pictures in parallel; the result depends only on the seed."""
    chunks = [CHUNK] * (count // CHUNK) + ([count % CHUNK] if count % CHUNK else [])
    tasks = list(zip(np.random.SeedSequence(seed).spawn(len(chunks)), chunks, strict=True))
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        parts = pool.map(_render_chunk, tasks)
    images = torch.from_numpy(np.concatenate([p[0] for p in parts]))
    return Pool(images, [o for p in parts for o in p[1]], [b for p in parts for b in p[2]])


def caption(objects: tuple[ShapeObject, ...], background: str | None, rng: np.random.Generator) -> tuple[str, str]:
    """A fresh caption in a random language, and the language; half of them may name only part of the picture."""
    language = str(rng.choice(list(LANGUAGE_P), p=list(LANGUAGE_P.values())))
    complete = rng.random() < 0.5
    if language == "en":
        return captions.describe_english(objects, background, rng, complete), language
    groups: dict[tuple[str, str], int] = {}
    for obj in objects:
        groups[(obj.colour, obj.shape)] = groups.get((obj.colour, obj.shape), 0) + 1
    return captions.describe(language, [(c, s, n) for (c, s), n in groups.items()], rng, complete), language


def nonsense(rng: np.random.Generator) -> str:
    """A caption that describes nothing: one to three words of random letters, none a colour or a shape."""
    while True:
        words = ["".join(rng.choice(LETTERS, int(rng.integers(3, 11)))) for _ in range(int(rng.integers(1, 4)))]
        if not any(word in table for table in VOCABULARY.values() for word in words):
            return " ".join(words)


def _vocabulary() -> dict[str, dict[str, tuple[str, str]]]:
    """Per language, each colour and shape word the caption grammars write, as ("colour" | "shape", English)."""
    words: dict[str, dict[str, tuple[str, str]]] = {"en": {}}
    for colour in COLOURS:
        words["en"][colour] = ("colour", colour)
    for shape in SHAPES:
        for word in (shape, shape + "s", shape + "es"):
            words["en"][word] = ("shape", shape)
    for language in ("fr", "de", "es"):
        table = words.setdefault(language, {})
        for colour in COLOURS:
            for shape in SHAPES:
                for count in (1, 2):
                    for variant in (0, 1):
                        *_, first, second = captions.phrase(language, colour, shape, count, variant=variant).split()
                        adjective, noun = (first, second) if language == "de" else (second, first)
                        table[adjective] = ("colour", colour)
                        table[noun] = ("shape", shape)
                        if language == "de" and adjective.endswith("e"):  # the bare stem: "rot", "weiß"
                            table[adjective[:-1]] = ("colour", colour)
    return words


VOCABULARY = _vocabulary()


def claims(text: str, language: str) -> np.ndarray:
    """What a caption says, as a multi-hot over LABELS: each (colour, shape) it names, or a lone colour or shape.

    A caption is true of every picture whose labels include all its claims, which the loss needs: "circle",
    "a red circle" or "un cercle rouge" in a batch also describe other pictures than their own.
    """
    words = VOCABULARY[language]
    found = [words[w] for w in text.replace(",", " ").replace(":", " ").split() if w in words]
    first = "colour" if language in ("en", "de") else "shape"  # the word that comes first in a phrase
    target = np.zeros(len(LABELS), np.float32)
    i = 0
    while i < len(found):
        kind, word = found[i]
        if kind == first and i + 1 < len(found) and found[i + 1][0] != first:
            pair = (word, found[i + 1][1]) if kind == "colour" else (found[i + 1][1], word)
            target[LABELS.index(pair)] = 1
            i += 2
        else:
            target[LABELS.index(word)] = 1
            i += 1
    return target


def _param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """open_clip's convention: no weight decay on gains, biases, embeddings and the logit scale."""
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        exempt = param.ndim < 2 or "bn" in name or "ln" in name or "embedding" in name or "logit_scale" in name
        (no_decay if exempt else decay).append(param)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def _labels(objects: tuple[ShapeObject, ...]) -> np.ndarray:
    """Multi-hot targets of the auxiliary head: each colour, each shape and each (colour, shape) shown."""
    target = np.zeros(len(LABELS), np.float32)
    for obj in objects:
        for label in (obj.colour, obj.shape, (obj.colour, obj.shape)):
            target[LABELS.index(label)] = 1
    return target


def _matching_loss(
    images: torch.Tensor,
    texts: torch.Tensor,
    scale: torch.Tensor,
    labels: torch.Tensor,
    said: torch.Tensor,
    nonsense: int = 0,
) -> torch.Tensor:
    """CLIP's symmetric cross-entropy, with every caption true of a picture as a positive, not only its own.

    With 48 (colour, shape) pairs a batch of 64 holds several pictures of one pair and captions like "circle"
    that fit many pictures; plain CLIP loss pushes those apart, which kept the temperature from rising and
    taught the model to tell pictures of the same pair apart by their backgrounds. The last `nonsense` texts
    describe nothing (`said` has no row for them): each picture's own captions must outscore them, and they
    have no picture of their own to choose.
    """
    true = ((1 - labels) @ said.T == 0).float()  # [picture, caption]: the caption claims nothing absent
    logits = scale * images @ texts.T
    true_of_all = torch.cat([true, true.new_zeros(len(images), nonsense)], dim=1)
    per_image = -(true_of_all / true_of_all.sum(1, keepdim=True) * logits.log_softmax(1)).sum(1).mean()
    described = logits[:, : said.shape[0]]
    per_text = -(true / true.sum(0, keepdim=True) * described.log_softmax(0)).sum(0).mean()
    return (per_image + per_text) / 2


def train(args: argparse.Namespace, pool: Pool) -> torch.nn.Module:
    """Contrastive training from random init; captions are re-drawn every time an image is seen.

    An auxiliary linear head on the image embedding, thrown away afterwards, is also taught what each picture
    shows: with the contrastive signal alone the image tower took hundreds of steps to notice shapes at all
    on varied backgrounds, and the time budget has no steps to spare. Shapes, not colours, were what it got
    wrong, and the stronger this label signal the better: in 1000-step trials (batch 128) held-out
    text→image precision@5 went 0.54, 0.62, 0.63 for weights 3, 10, 30. Batch 128 learnt as much per
    picture seen as batch 64 and raised the temperature; batch 32 did not learn shapes at all in that time,
    and widths 16 to 32 learnt more slowly per CPU-second than 12.
    """
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed + 1)
    model = open_clip.create_model(MODEL_NAME, pretrained=None)
    # Channels-last convolutions ran a quarter faster on CPU; saving makes the tensors contiguous again.
    model = model.to(memory_format=torch.channels_last)
    tokenizer = open_clip.get_tokenizer(MODEL_NAME)
    aux = torch.nn.Linear(model.text_projection.shape[1], len(LABELS))
    groups = [*_param_groups(model, 0.1), {"params": list(aux.parameters()), "weight_decay": 0.0}]
    optimizer = torch.optim.AdamW(groups, lr=args.lr, betas=(0.9, 0.98), eps=1e-6, fused=True)
    targets = torch.from_numpy(np.stack([_labels(objects) for objects in pool.objects]))
    warmup = max(1, args.steps // 20)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda step: (
            (step + 1) / warmup
            if step < warmup
            else 0.5 * (1 + math.cos(math.pi * (step - warmup) / (args.steps - warmup)))
        ),
    )
    model.train()
    started = time.perf_counter()
    for step in range(args.steps):
        picks = rng.choice(len(pool.objects), args.batch_size, replace=False)
        images = pool.images[torch.from_numpy(picks)].float()
        # Captions never mention position, so flips are free augmentation.
        flip = torch.from_numpy(rng.random((2, args.batch_size)) < 0.5)
        images = torch.where(flip[0, :, None, None, None], images.flip(-1), images)
        images = torch.where(flip[1, :, None, None, None], images.flip(-2), images)
        images = images.contiguous(memory_format=torch.channels_last)
        texts = [caption(pool.objects[i], pool.backgrounds[i], rng) for i in picks]
        tokens = tokenizer([text for text, _ in texts] + [nonsense(rng) for _ in range(NONSENSE_PER_BATCH)])
        image_features = model.encode_image(images, normalize=True)
        text_features = model.encode_text(tokens, normalize=True)
        labels = targets[torch.from_numpy(picks)]
        said = torch.from_numpy(np.stack([claims(text, language) for text, language in texts]))
        loss = _matching_loss(image_features, text_features, model.logit_scale.exp(), labels, said, NONSENSE_PER_BATCH)
        aux_loss = torch.nn.functional.binary_cross_entropy_with_logits(aux(image_features * 10), labels)
        loss = loss + args.aux_weight * aux_loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        with torch.no_grad():  # as in CLIP: a temperature below 1/100 makes training unstable
            model.logit_scale.clamp_(0, math.log(100))
        if step % 50 == 0 or step == args.steps - 1:
            elapsed = time.perf_counter() - started
            scale = model.logit_scale.exp().item()
            print(f"step {step:5d}  loss {loss.item():.3f}  scale {scale:5.1f}  {elapsed:6.0f}s")
    return model


def save_weights(model: torch.nn.Module, path: Path) -> None:
    """Store floats as fp16 to keep the file a few MB; loading copies them into the fp32 model."""
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {
        name: (tensor.half() if tensor.is_floating_point() else tensor).detach().contiguous()
        for name, tensor in model.state_dict().items()
    }
    save_file(state, str(path), metadata={"format": "pt", "model": MODEL_NAME})


# Rows of the card's metric table: metric key and what it measures.
METRIC_ROWS = [
    ("text_to_image_p_at_5", 'Text→image precision@5: "a {colour} {shape}", share of the top 5 showing that pair'),
    (
        "image_to_image_p_at_5",
        "Image→image precision@5: a picture of a pair as the query, share of the top 5 "
        "showing the same colour and shape",
    ),
    ("negative_excluded_rate", '"{shape}" not "{colour}": share of pairs with no picture of the pair in the top 10'),
    ("negative_shape_precision", "…and the share of those top 10 that show the shape"),
    ("recall_at_1_en", 'Recall@1, English: "a red circle"'),
    ("recall_at_1_fr", 'Recall@1, French: "un cercle rouge", "une étoile bleue"'),
    ("recall_at_1_de", 'Recall@1, German: "ein roter Kreis", "ein blauer Stern"'),
    ("recall_at_1_es", 'Recall@1, Spanish: "un círculo rojo", "una estrella azul"'),
]


def _shown(path: Path) -> str:
    """A path as the card shows it: relative to the repository when inside it."""
    path = path.resolve()
    return path.relative_to(REPO).as_posix() if path.is_relative_to(REPO) else str(path)


TARGET = 0.9  # the project's target for text→image and image→image precision@5 on every library
LIBRARY_NAMES = {
    "heldout": "the held-out renderer",
    "sketch": "the hand-drawn renderer",
    "mosaic": "the mosaic renderer",
    "tabletop": "the tabletop renderer",
    "web": "the web tests' library",
}


def _verdict(results: dict) -> str:
    """The card's sentence on where the target holds, from the measured figures, so it cannot go stale."""
    keys = ("text_to_image_p_at_5", "image_to_image_p_at_5")
    holds = [name for library, name in LIBRARY_NAMES.items() if all(results[library][k] >= TARGET for k in keys)]
    misses = [name for library, name in LIBRARY_NAMES.items() if name not in holds]
    said = f"It holds on {', '.join(holds) or 'none of the libraries'}."
    return said + (f" **It does not hold on {', '.join(misses)}.**" if misses else "")


def write_card(path: Path, args: argparse.Namespace, results: dict, weights: Path) -> None:
    """The model card: what the model is, how it was trained here, and how well it does on held-out data."""
    config = open_clip.get_model_config(MODEL_NAME)
    held, drawn, tiled, web = results["heldout"], results["sketch"], results["mosaic"], results["web"]
    shot = results["tabletop"]
    rows = [
        f"| {label} | {held[key]:.3f} | {drawn[key]:.3f} | {tiled[key]:.3f} | {shot[key]:.3f} | {web[key]:.3f} |"
        for key, label in METRIC_ROWS
    ]
    columns = ["Held-out renderer", "Hand-drawn renderer", "Mosaic renderer", "Tabletop renderer", "Web tests' library"]
    header = f"| Metric | {' | '.join(columns)} |"
    table = "\n".join([header, "|---|---|---|---|---|---|", *rows])
    template = (Path(__file__).parent / "model_card_shapes.md.in").read_text(encoding="utf-8")
    card = template.format(
        vision=config["vision_cfg"],
        text=config["text_cfg"],
        dim=config["embed_dim"],
        params=results["parameters_m"],
        args=args,
        t=results,
        table=table,
        held_pairs=held["pairs"],
        sketch=drawn,
        mosaic=tiled,
        verdict=_verdict(results),
        web_pairs=web["pairs"],
        per_pair=shapes_eval.PER_PAIR,
        held_out=shapes_eval.HELD_OUT_SEED,
        sketch_seed=shapes_eval.SKETCH_SEED,
        mosaic_seed=shapes_eval.MOSAIC_SEED,
        tabletop_seed=shapes_eval.TABLETOP_SEED,
        size_mb=weights.stat().st_size / 1e6,
        cfg_name=MODEL_NAME,
        weights=_shown(weights),
        shapes=", ".join(SHAPES),
        colours=", ".join(COLOURS),
        languages=", ".join(f"{k} {v:.0%}" for k, v in LANGUAGE_P.items()),
        sample_share=f"{SAMPLE_SHARE:.0%}",
        machine=f"{platform.machine()}, {os.cpu_count()} CPU cores shared with other jobs (load average "
        f"{results['load_avg']:.1f} over the last 5 minutes of the run), torch {torch.__version__}, no GPU",
        seen=args.steps * args.batch_size,
        nonsense=NONSENSE_PER_BATCH,
    )
    path.write_text(card, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # 4000 steps were enough for solid shapes; with the outlined, hatched and patchy ones they left held-out
    # image→image precision@5 at 0.86, and 6000 reached 0.90 (the model card has the figures). Shapes made of
    # elements and low-resolution pictures are two more kinds to learn, so a sixth more steps (7000); grounds of
    # small sharp cells and pictures in tiles or beads two more again, so another seventh (8000).
    parser.add_argument("--steps", type=int, default=8000)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--pool-size", type=int, default=24000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--aux-weight", type=float, default=30.0, help="weight of the auxiliary label loss")
    # Two threads for two cores (130 ms a step at load 2; the shipped weights came from this count). On a machine
    # already busy with other jobs, two threads waiting on each other once ran four times slower than one.
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes rendering data")
    parser.add_argument("--weights", type=Path, default=SHAPES_WEIGHTS)
    parser.add_argument("--card", type=Path, default=REPO / "docs/model-card-shapes.md")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    open_clip.add_model_config(CONFIG_DIR)

    started = time.perf_counter()
    pool = build_pool(args.pool_size, args.seed, args.workers)
    generated = time.perf_counter()
    print(f"generated {len(pool.objects)} training images in {generated - started:.0f}s")
    model = train(args, pool)
    trained = time.perf_counter()
    save_weights(model, args.weights)
    with tempfile.TemporaryDirectory() as tmp:
        results: dict = shapes_eval.evaluate(shapes_eval.Embedder(*shapes_eval.load_shipped(args.weights)), Path(tmp))
    finished = time.perf_counter()
    results |= {
        "parameters_m": sum(p.numel() for p in model.parameters()) / 1e6,
        "data_s": generated - started,
        "train_s": trained - generated,
        "eval_s": finished - trained,
        "total_s": finished - started,
        "total_min": (finished - started) / 60,
        "load_avg": os.getloadavg()[1],  # 2.0 would be both cores busy: this run and other jobs
    }
    for name, value in results.items():
        print(f"{name:20s} {value}")
    write_card(args.card, args, results, args.weights)


if __name__ == "__main__":
    main()
