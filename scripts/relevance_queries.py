"""The queries of scripts/bench_relevance.py, each with its right answers read from a library's labels."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import relevance_libraries as libraries
from relevance_libraries import Library, Pair
from relevance_metrics import BUCKETS, Case

import viewfinder
from shapeworld.captions import LANGUAGES, query

FORMS: tuple[str, ...] = (
    *(f"text:{language}" for language in LANGUAGES),
    "noun",
    "negative",
    "weighted",
    "image:fresh",
    "image:library",
    "image+text",
    "absent:text",
    "absent:image",
    "gibberish",
    "unknown-language",
)
GIBBERISH = ("asdfgh qwerty", "zxqv blorp", "qwertyuiop", "lorem ipsum dolor", "xkcd flibber")
# Colour and shape in languages the models were not taught (Italian, Dutch, Polish), with the pair they mean.
UNKNOWN_LANGUAGE: tuple[tuple[str, Pair], ...] = (
    ("un cerchio rosso", ("red", "circle")),
    ("un quadrato blu", ("blue", "square")),
    ("una stella gialla", ("yellow", "star")),
    ("una croce arancione", ("orange", "cross")),
    ("een rode cirkel", ("red", "circle")),
    ("een blauw vierkant", ("blue", "square")),
    ("een gele ster", ("yellow", "star")),
    ("een oranje kruis", ("orange", "cross")),
    ("czerwone koło", ("red", "circle")),
    ("niebieski kwadrat", ("blue", "square")),
    ("żółta gwiazda", ("yellow", "star")),
    ("pomarańczowy krzyż", ("orange", "cross")),
)
NEGATIVE = ("star", "yellow")  # "a star" − "yellow": the brief's example, always measured
WEIGHTED = (("red", "circle"), ("green", "square"))  # 0.7 · first + 0.3 · second

Query = list[viewfinder.Term]


def order(item: tuple[tuple[str, str], object]) -> tuple[int, int]:
    """Sort key for ((form, bucket), …): forms in FORMS order, "all" first, then buckets rare to common."""
    (form, bucket), _ = item
    buckets = ["all", *(name for name, _ in BUCKETS)]
    return FORMS.index(form), buckets.index(bucket)


def _showing(lib: Library, test: Callable[[frozenset[Pair]], bool]) -> frozenset[str]:
    return frozenset(name for name, shown in lib.labels.items() if test(shown))


def _pictures_of(lib: Library, pair: Pair) -> frozenset[str]:
    return _showing(lib, lambda shown: pair in shown)


def _text(text: str, weight: float = 1.0) -> viewfinder.Term:
    return viewfinder.Term(text=text, weight=weight)


def _library_id(index: viewfinder.Index, lib: Library, name: str) -> str:
    """The image id of a library picture: the top hit of a search by its own file (its vector is the same)."""
    hit = index.search([viewfinder.Term(image_path=str(lib.folder / name))], k=1, min_relevance=0).hits[0]
    if Path(hit.image.path).name != name:
        raise RuntimeError(f"{name} is not its own nearest picture in the index")
    return str(hit.image.id)


def _query_picture(lib: Library, pair: Pair) -> str | None:
    """A library picture of the pair for find-similar, one showing it alone where there is one; None where
    no other picture shows the pair (there would be nothing right to find)."""
    pictures = sorted(_pictures_of(lib, pair))
    if len(pictures) < 2:
        return None
    return next((name for name in pictures if lib.labels[name] == {pair}), pictures[0])


def _pair_cases(index: viewfinder.Index, lib: Library, pairs: list[Pair], languages: tuple[str, ...], seed: int):
    for pair in pairs:
        colour, shape = pair
        right = _pictures_of(lib, pair)
        name = f"{colour} {shape}"
        for language in languages:
            text = query(language, colour, shape)
            yield Case(f"text:{language}", text, right), [_text(text)]
        picture = viewfinder.Term(image_bytes=libraries.fresh_picture(lib.renderer, pair, seed))
        yield Case("image:fresh", f"fresh picture of a {name}", right), [picture]
        yield Case("image+text", f"fresh picture + a {name}", right), [picture, _text(query("en", colour, shape))]
        own = _query_picture(lib, pair)
        if own is not None:
            term = viewfinder.Term(image_id=_library_id(index, lib, own))
            yield Case("image:library", f"similar to {own} ({name})", right, query_image=own), [term]


def _mixed_cases(lib: Library, pairs: list[Pair], quick: bool):
    """Bare nouns, negatives and weighted mixes."""
    shapes = sorted({shape for _, shape in pairs})
    for shape in shapes:
        yield (
            Case("noun", f"a {shape}", _showing(lib, lambda shown, s=shape: any(p[1] == s for p in shown))),
            [_text(f"a {shape}")],
        )
    negatives = [NEGATIVE]
    if not quick:  # each shape without its most common colour, where the library has it in other colours too
        for shape in shapes:
            colours = sorted((c for c, s in pairs if s == shape), key=lambda c: -lib.share((c, shape)))
            if len(colours) > 1 and (shape, colours[0]) != NEGATIVE:
                negatives.append((shape, colours[0]))
    for shape, colour in negatives:

        def right(shown: frozenset[Pair], shape: str = shape, colour: str = colour) -> bool:
            return any(s == shape for _, s in shown) and (colour, shape) not in shown

        label = f"a {shape} − {colour}"
        yield Case("negative", label, _showing(lib, right)), [_text(f"a {shape}"), _text(colour, -1.0)]
    mixes = [WEIGHTED] + ([] if quick else [(pair, WEIGHTED[0]) for pair in pairs[1::3] if pair != WEIGHTED[0]])
    for first, second in mixes:
        text_a, text_b = query("en", *first), query("en", *second)
        label = f"0.7 {text_a} + 0.3 {text_b}"
        yield Case("weighted", label, _pictures_of(lib, first)), [_text(text_a, 0.7), _text(text_b, 0.3)]


def _empty_cases(lib: Library, absent: list[Pair], languages: tuple[str, ...], quick: bool, seed: int):
    """Queries that should show nothing."""
    for colour, shape in absent:
        for language in languages:
            text = query(language, colour, shape)
            yield Case("absent:text", text, frozenset()), [_text(text)]
        picture = libraries.fresh_picture(lib.renderer, (colour, shape), seed)
        yield (
            Case("absent:image", f"fresh picture of a {colour} {shape}", frozenset()),
            [viewfinder.Term(image_bytes=picture)],
        )
    rng = np.random.default_rng(seed)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    randoms = [" ".join("".join(rng.choice(letters, int(rng.integers(4, 10)))) for _ in range(2)) for _ in range(5)]
    for text in (GIBBERISH[:2] + tuple(randoms[:1])) if quick else GIBBERISH + tuple(randoms):
        yield Case("gibberish", text, frozenset()), [_text(text)]
    for text, pair in UNKNOWN_LANGUAGE[::4] if quick else UNKNOWN_LANGUAGE:
        yield Case("unknown-language", text, frozenset(), meant=_pictures_of(lib, pair)), [_text(text)]


def cases(index: viewfinder.Index, lib: Library, quick: bool, seed: int) -> list[tuple[Case, Query]]:
    """Every case of the library; `quick` keeps two pairs of each frequency tier, a third of the absent pairs
    and two languages."""
    tiers = [pairs[:2] if quick else pairs for pairs in libraries.TIERS.values()]
    present = [pair for pairs in tiers for pair in pairs if lib.share(pair) > 0]
    absent = [pair for pair in libraries.ALL_PAIRS if lib.share(pair) == 0]
    languages = ("en", "de") if quick else LANGUAGES
    if quick:
        absent = absent[::3]
    fresh_seed = seed + 1  # fresh pictures come from their own stream, never the library's
    return [
        *_pair_cases(index, lib, present, languages, fresh_seed),
        *_mixed_cases(lib, present, quick),
        *_empty_cases(lib, absent, languages, quick, fresh_seed),
    ]
