"""A small XLM-RoBERTa-style tokenizer trained here (no hub), and a Hugging Face cache that holds it.

The tokenizer has XLM-R's form: a SentencePiece Unigram model over NFKC text with "▁" word marks, <s>=0,
<pad>=1, </s>=2, <unk>=3, and the `<s> … </s>` template; its vocabulary is the shape captions' in four
languages (about 140 pieces), so it fits the tiny test towers' 512 ids as well as XLM-R's 250002.
"""

from __future__ import annotations

import json
from pathlib import Path

from shapeworld.captions import phrase

COLOURS = ("red", "green", "blue", "yellow", "orange", "purple", "white", "black")
SHAPES = ("circle", "square", "triangle", "star", "ring", "cross")
REVISION = "0" * 40
# One text per language, and one longer than any context, for the fidelity checks.
TEXTS = (
    "a red circle and two blue stars",
    "un cercle rouge et deux étoiles bleues",
    "ein roter Kreis und zwei blaue Sterne",
    "un círculo rojo y dos estrellas azules",
    "  Un   CARRÉ vert  ",
    " ".join(["drei gelbe Dreiecke"] * 40),
)


def train_tokenizer(path: Path) -> Path:
    """Trains the test tokenizer and saves it as a `tokenizer.json` at `path`."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

    corpus = [f"a {colour} {shape}" for colour in COLOURS for shape in SHAPES]
    corpus += [phrase(lang, c, s, n) for lang in ("fr", "de", "es") for c in COLOURS for s in SHAPES for n in (1, 2)]
    tokenizer = Tokenizer(models.Unigram())
    tokenizer.normalizer = normalizers.NFKC()
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    specials = ["<s>", "<pad>", "</s>", "<unk>"]
    trainer = trainers.UnigramTrainer(vocab_size=300, special_tokens=specials, unk_token="<unk>", show_progress=False)
    tokenizer.train_from_iterator(corpus, trainer)
    tokenizer.add_special_tokens(["<mask>"])
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>", special_tokens=[("<s>", 0), ("</s>", 2)]
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(path))
    # What transformers' AutoTokenizer reads beside it (as in the real repository), for the reference ids.
    names = {"bos": "<s>", "cls": "<s>", "eos": "</s>", "sep": "</s>", "pad": "<pad>", "unk": "<unk>", "mask": "<mask>"}
    config = {"tokenizer_class": "XLMRobertaTokenizer", **{f"{key}_token": value for key, value in names.items()}}
    (path.parent / "tokenizer_config.json").write_text(json.dumps(config))
    return path


def put_in_hub_cache(cache: Path, repo: str, files: Path) -> None:
    """Lays the files of folder `files` out in a Hugging Face cache folder as a download of `repo` would."""
    folder = cache / f"models--{repo.replace('/', '--')}"
    snapshot = folder / "snapshots" / REVISION
    snapshot.mkdir(parents=True, exist_ok=True)
    for file in files.iterdir():
        (snapshot / file.name).write_bytes(file.read_bytes())
    (folder / "refs").mkdir(exist_ok=True)
    (folder / "refs" / "main").write_text(REVISION)


def cached_tokenizer(cache: Path) -> Path:
    return next(cache.glob("models--FacebookAI--xlm-roberta-base/snapshots/*/tokenizer.json"))
