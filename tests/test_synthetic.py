"""The sample pictures of `viewfinder sample`: the shape-and-colour scenes the `test:shapes` models and the demo
are built on, their captions and the library written for a seed."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from shapeworld.scenes import scene_of
from viewfinder.images import synthetic
from viewfinder.images.synthetic import COLOURS, SHAPES
from viewfinder.models.prompts import calibration_prompts


def test_world_has_enough_shapes_and_distinct_colours():
    assert len(SHAPES) >= 6
    assert len(COLOURS) >= 8
    assert not set(COLOURS) & set(synthetic.BACKGROUNDS)
    rgb = np.array([*COLOURS.values(), *synthetic.BACKGROUNDS.values()], dtype=float)
    distances = np.linalg.norm(rgb[:, None] - rgb[None], axis=-1)
    np.fill_diagonal(distances, np.inf)
    assert distances[: len(COLOURS)].min() > 60


def test_the_test_shapes_calibration_bank_speaks_the_words_of_these_pictures():
    """models/prompts.py keeps its own copy of the words (the package's layers): it must stay in step."""
    bank = calibration_prompts("test:shapes")
    assert bank[: len(COLOURS) * len(SHAPES)] == tuple(f"a {c} {s}" for c in COLOURS for s in SHAPES)
    assert set(bank[len(COLOURS) * len(SHAPES) :]) == {f"a {s}" for s in SHAPES} | {f"something {c}" for c in COLOURS}


def test_random_scene_is_deterministic_for_a_seed():
    first = [synthetic.random_scene(np.random.default_rng(7)) for _ in range(3)]
    again = [synthetic.random_scene(np.random.default_rng(7)) for _ in range(3)]
    assert first == again
    assert synthetic.random_scene(np.random.default_rng(8)) != first[0]


@pytest.mark.parametrize("seed", range(40))
def test_caption_names_every_object_colour_and_shape(seed):
    scene = synthetic.random_scene(np.random.default_rng(seed))
    assert 1 <= len(scene.objects) <= 3
    for obj in scene.objects:
        assert obj.colour in scene.caption
        assert obj.shape in scene.caption  # "circles" and "crosses" contain the singular
        assert obj.colour != scene.background


def test_repeated_objects_are_counted_in_the_caption():
    objects = tuple(synthetic.ShapeObject("square", "green", "small", x, 0.5, 0.0) for x in (0.3, 0.7))
    caption = synthetic.describe(objects, "grey", np.random.default_rng(0))
    assert "two green squares" in caption


def test_objects_stay_inside_the_centre_square_without_overlapping():
    rng = np.random.default_rng(1)
    for _ in range(200):
        objects = synthetic.random_scene(rng).objects
        for obj in objects:
            assert 0.125 < obj.x < 0.875 and 0 < obj.y < 1
        centres = np.array([(o.x * 4 / 3, o.y) for o in objects])
        gaps = np.linalg.norm(centres[:, None] - centres[None], axis=-1) + np.eye(len(objects))
        assert gaps.min() > 0.2


def test_render_shows_the_object_colour_at_its_centre():
    scene = scene_of("circle", "red", np.random.default_rng(2), size="large")
    image = synthetic.render_scene(scene, (256, 192))
    assert image.size == (256, 192) and image.mode == "RGB"
    obj = scene.objects[0]
    centre = np.asarray(image, dtype=float)[int(obj.y * 192), int(obj.x * 256)]
    assert np.abs(centre - COLOURS["red"]).max() < 45


def test_render_without_rng_is_the_same_every_time():
    scene = synthetic.random_scene(np.random.default_rng(4))
    assert synthetic.render_scene(scene).tobytes() == synthetic.render_scene(scene).tobytes()


def test_generate_library_writes_images_and_captions(tmp_path):
    written = synthetic.generate_library(tmp_path, 30, seed=5, size=(160, 120))
    assert len(written) == 30
    records = [json.loads(line) for line in (tmp_path / "captions.jsonl").read_text().splitlines()]
    assert [r["file"] for r in records] == [p.relative_to(tmp_path).as_posix() for p, _ in written]
    suffixes = {p.suffix for p, _ in written}
    assert suffixes == {".jpg", ".png"}
    assert len({p.parent for p, _ in written}) > 1
    for (path, scene), record in zip(written, records, strict=True):
        # The name says every object the picture shows, as its caption does: a red circle left out would make
        # a right answer to "a red circle" look wrong.
        for item in scene.objects:
            named = (f"{item.colour}-{item.shape}-", f"{item.colour}-{synthetic._plural(item.shape)}-")
            assert any(name in path.name for name in named), (path.name, scene.caption)
        assert record["caption"] == scene.caption
        assert [o["shape"] for o in record["objects"]] == [o.shape for o in scene.objects]
        with Image.open(path) as image:
            assert image.size == (160, 120)


def test_generate_library_is_deterministic_for_a_seed(tmp_path):
    synthetic.generate_library(tmp_path / "a", 8, seed=9, size=(96, 72))
    synthetic.generate_library(tmp_path / "b", 8, seed=9, size=(96, 72))
    files_a = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*") if p.is_file())
    assert files_a == files_b
    for relative in files_a:
        assert (tmp_path / "a" / relative).read_bytes() == (tmp_path / "b" / relative).read_bytes()
