"""The training script's reading of its own captions: the contrastive loss counts every caption true of a picture
as a positive, so what `claims` reads must always be true of the picture the caption was written for."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from shapeworld import varied
from viewfinder.images import synthetic
from viewfinder.images.synthetic import ShapeObject

pytest.importorskip("open_clip")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import train_shapes


def _named(target: np.ndarray) -> set:
    return {train_shapes.LABELS[i] for i in np.flatnonzero(target)}


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        ("a photo of a small red circle and two blue stars", "en", {("red", "circle"), ("blue", "star")}),
        ("circle", "en", {"circle"}),
        ("something orange", "en", {"orange"}),
        ("une image d'une étoile bleue et deux croix noires", "fr", {("blue", "star"), ("black", "cross")}),
        (
            "Foto: ein weißes Quadrat, zwei rote Sternformen und ein Ring",
            "de",
            {("white", "square"), ("red", "star"), "ring"},
        ),
        ("rot", "de", {"red"}),
        ("algo azul", "es", {"blue"}),
        ("tres círculos naranja", "es", {("orange", "circle")}),
    ],
)
def test_claims_read_each_pair_colour_and_shape_a_caption_names(text, language, expected):
    assert _named(train_shapes.claims(text, language)) == expected


@pytest.mark.slow  # renders 150 training pictures
def test_every_training_caption_claims_something_true_of_its_picture():
    rng = np.random.default_rng(3)
    for number in range(300):
        if number % 2:
            scene = synthetic.random_scene(rng)
            objects, background = scene.objects, scene.background
        else:
            objects, background = varied.random_picture(rng)[1], None
        shown = train_shapes._labels(objects)
        for _ in range(4):
            text, language = train_shapes.caption(objects, background, rng)
            said = train_shapes.claims(text, language)
            assert said.any() and not (said * (1 - shown)).any(), (text, _named(said))


def test_the_loss_prefers_pictures_of_one_pair_together_where_clip_loss_pushes_them_apart():
    import torch
    from open_clip.loss import ClipLoss

    circle = train_shapes._labels((ShapeObject("circle", "red", "small", 0.5, 0.5, 0),))
    star = train_shapes._labels((ShapeObject("star", "blue", "small", 0.5, 0.5, 0),))
    labels = torch.from_numpy(np.stack([circle, circle, star]))
    said = torch.from_numpy(np.stack([train_shapes.claims(t, "en") for t in ("circle", "a red circle", "star")]))
    scale = torch.tensor(100.0)
    # Two red-circle pictures with their captions ("circle", "a red circle") and a blue star with "star",
    # each caption embedded where its picture is: the circles in one place, or apart.
    together = torch.tensor([[1.0, 0, 0], [1.0, 0, 0], [0, 1.0, 0]])
    apart = torch.tensor([[1.0, 0, 0], [0, 0, 1.0], [0, 1.0, 0]])

    def matching(embeddings: torch.Tensor) -> float:
        return train_shapes._matching_loss(embeddings, embeddings, scale, labels, said).item()

    def clip(embeddings: torch.Tensor) -> float:
        return ClipLoss()(embeddings, embeddings, scale).item()

    assert matching(together) < matching(apart)
    assert clip(together) > clip(apart)


def test_captions_that_describe_nothing_are_negatives_for_every_picture():
    import torch

    circle = train_shapes._labels((ShapeObject("circle", "red", "small", 0.5, 0.5, 0),))
    labels = torch.from_numpy(np.stack([circle]))
    said = torch.from_numpy(np.stack([train_shapes.claims("a red circle", "en")]))
    scale = torch.tensor(100.0)
    picture = torch.tensor([[1.0, 0.0]])

    def loss(nonsense_at: list[float]) -> float:
        texts = torch.tensor([[1.0, 0.0], nonsense_at])  # the picture's caption, then one describing nothing
        return train_shapes._matching_loss(picture, texts, scale, labels, said, nonsense=1).item()

    # Where the nonsense caption scores as high as the picture's own, the loss is higher than where it is
    # far from the picture: without the nonsense column the two would be equal.
    assert loss([1.0, 0.0]) > loss([0.0, 1.0]) + 0.1


def test_nonsense_captions_name_no_colour_or_shape_in_any_language():
    rng = np.random.default_rng(5)
    words = {word for table in train_shapes.VOCABULARY.values() for word in table}
    drawn = [train_shapes.nonsense(rng) for _ in range(2000)]
    assert len(set(drawn)) == len(drawn)
    assert not any(word in words for text in drawn for word in text.split())
