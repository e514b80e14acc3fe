"""The shape world of scripts/ and tests/: multilingual and partial captions, chosen scenes, the varied training
renderer and the four held-out renderers."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from shapeworld import captions, heldout, mosaic, sketch, tabletop, varied
from shapeworld.scenes import scene_of
from viewfinder.images import synthetic
from viewfinder.images.synthetic import COLOURS, SHAPES
from viewfinder.models.tokenizer import ClipTokenizer, open_clip_vocab


@pytest.mark.parametrize(
    ("language", "colour", "shape", "count", "expected"),
    [
        ("fr", "red", "circle", 1, "un cercle rouge"),
        ("fr", "blue", "star", 1, "une étoile bleue"),
        ("fr", "white", "cross", 2, "deux croix blanches"),
        ("fr", "purple", "ring", 3, "trois anneaux violets"),
        ("de", "red", "circle", 1, "ein roter Kreis"),
        ("de", "white", "square", 1, "ein weißes Quadrat"),
        ("de", "green", "triangle", 2, "zwei grüne Dreiecke"),
        ("de", "blue", "star", 1, "ein blauer Stern"),
        ("es", "red", "circle", 1, "un círculo rojo"),
        ("es", "blue", "star", 1, "una estrella azul"),
        ("es", "yellow", "cross", 2, "dos cruces amarillas"),
        ("es", "black", "ring", 1, "un anillo negro"),
    ],
)
def test_phrases_agree_in_gender_and_number(language, colour, shape, count, expected):
    assert captions.phrase(language, colour, shape, count) == expected


def test_german_feminine_star_and_bare_queries():
    assert captions.phrase("de", "blue", "star", variant=1) == "eine blaue Sternform"
    assert captions.phrase("de", "red", "circle", article=False) == "roter Kreis"
    assert captions.phrase("fr", "green", "star", article=False) == "étoile verte"


def test_incomplete_captions_still_describe_something_in_the_scene():
    scene = synthetic.random_scene(np.random.default_rng(3))
    rng = np.random.default_rng(0)
    words = {w for o in scene.objects for w in (o.colour, o.shape)}
    for _ in range(50):
        caption = captions.describe_english(scene.objects, scene.background, rng, complete=False)
        assert any(word in caption for word in words)


def test_scene_of_builds_the_requested_single_object():
    scene = scene_of("star", "orange", np.random.default_rng(0), size="large")
    assert [(o.shape, o.colour, o.size) for o in scene.objects] == [("star", "orange", "large")]
    assert "orange star" in scene.caption
    with pytest.raises(ValueError, match="unknown"):
        scene_of("dog", "red", np.random.default_rng(0))


def _all_captions() -> list[str]:
    """Every phrase of every language, and random complete and partial captions."""
    texts = [captions.query(lang, c, s) for lang in captions.LANGUAGES for c in COLOURS for s in SHAPES]
    texts += [captions.phrase(lang, c, s, n, variant=v) for lang in ("fr", "de", "es") for c in COLOURS
              for s in SHAPES for n in (1, 2, 3) for v in (0, 1)]  # fmt: skip
    rng = np.random.default_rng(0)
    for number in range(300):
        groups = [(str(rng.choice(list(COLOURS))), str(rng.choice(SHAPES)), int(rng.integers(1, 4)))]
        groups += [(str(rng.choice(list(COLOURS))), str(rng.choice(SHAPES)), 1)] * int(rng.integers(2))
        texts.append(captions.describe(("fr", "de", "es")[number % 3], groups, rng, complete=number % 2 == 0))
    return texts


def test_viewfinder_and_open_clip_tokenizers_agree_on_accented_captions():
    """The ONNX runtime tokenizes with models/tokenizer.py, training with open_clip: the same ids for all."""
    open_clip = pytest.importorskip("open_clip")
    texts = _all_captions()
    assert any(ch in "".join(texts) for ch in "éßí")
    ours = ClipTokenizer(open_clip_vocab(), context_length=32)(texts)
    theirs = open_clip.get_tokenizer("ViT-B-32", context_length=32)(texts).numpy()
    assert np.array_equal(ours, theirs)


def test_varied_pictures_are_deterministic_and_show_every_object():
    first = varied.random_picture(np.random.default_rng(4))
    again = varied.random_picture(np.random.default_rng(4))
    assert first[1] == again[1] and np.array_equal(np.asarray(first[0]), np.asarray(again[0]))
    seen = set()
    for seed in range(60):
        image, objects = varied.random_picture(np.random.default_rng(seed))
        assert image.mode == "RGB" and 1 <= len(objects) <= 4
        seen |= {(o.colour, o.shape) for o in objects}
    assert len(seen) >= 40  # the styles and objects really vary


@pytest.mark.parametrize(("shape", "low", "high"), [("circle", 0.0, 0.22), ("ring", 0.24, 1.0)])
def test_varied_outlined_circle_is_one_thin_line_and_a_ring_keeps_its_band(shape, low, high):
    """Drawn by its edge, a circle must not look like a ring: across the edge, the ink a ray from the centre
    meets spans a thin stroke for a circle, and a band (or its two edges) at least a fifth of r for a ring."""
    yy, xx = np.mgrid[0:200, 0:200]
    radius, sector = np.hypot(xx - 100, yy - 100), (np.arctan2(yy - 100, xx - 100) / (2 * np.pi) * 90).astype(int)
    for seed in range(20):
        canvas = Image.new("RGB", (200, 200))
        obj = synthetic.ShapeObject(shape, "white", "large", 100, 100, 0.0)
        varied._drawn(canvas, obj, 60, 1, (255, 255, 255), "outline", np.random.default_rng(seed))
        ink = np.asarray(canvas)[..., 0] > 128
        spans = [np.ptp(radius[ink & (sector == s)]) for s in range(-45, 45) if (ink & (sector == s)).any()]
        assert low < np.median(spans) / 60 < high, seed


def test_varied_shapes_made_of_elements_show_gaps_and_stay_inside_their_outline():
    """Dots or squares on a lattice: the shape's area is partly inked (gaps between elements), and nothing is
    inked beyond an element's reach of the outline; a low-resolution picture keeps its size in square cells."""
    yy, xx = np.mgrid[0:200, 0:200]
    radius = np.hypot(xx - 100, yy - 100)
    for seed in range(10):
        canvas = Image.new("RGB", (200, 200))
        obj = synthetic.ShapeObject("circle", "white", "large", 100, 100, 0.0)
        varied._drawn(canvas, obj, 60, 1, (255, 255, 255), "elements", np.random.default_rng(seed))
        ink = np.asarray(canvas)[..., 0] > 128
        assert 0.15 < ink[radius < 50].mean() < 0.9, seed
        assert not ink[radius > 60 + 2 * 60 / varied._ACROSS[0]].any(), seed
    coarse = varied._coarse(canvas, 120, np.random.default_rng(0))
    rows = np.unique(np.asarray(coarse)[..., 0], axis=0)  # blown up cell by cell: rows repeat
    assert coarse.size == canvas.size and len(rows) <= 2 * max(varied._ACROSS) * 200 / 120


def test_varied_ground_of_cells_keeps_its_distance_from_the_objects_and_shows_several_colours():
    """Every pixel of a ground of small cells (tiles, their grout, beads and the board behind them) keeps the
    contrast from the objects' colours that lets an object never disappear, and the clutter has 2 to 5 colours."""
    avoid = np.array([synthetic.COLOURS["red"], synthetic.COLOURS["white"]], np.float32)
    for seed in range(20):
        ground = varied._cells(120, 90, avoid, np.random.default_rng(seed), 75.0)
        distances = np.linalg.norm(ground.reshape(-1, 1, 3) - avoid[None], axis=2)
        assert ground.shape == (90, 120, 3) and distances.min() > 75.0, seed
        assert 2 <= len(np.unique(ground.reshape(-1, 3), axis=0)) <= 5, seed


@pytest.mark.parametrize("shape", heldout.SHAPES)
def test_heldout_shapes_have_their_own_area_and_an_anti_aliased_edge(shape):
    yy, xx = np.mgrid[-50:50, -50:50].astype(np.float32)
    coverage = np.clip(0.5 - heldout.shape_distance(shape, xx, yy, 40.0), 0, 1)
    area = coverage.sum() / (np.pi * 40**2)
    expected = {"circle": 1.0, "ring": 0.64, "square": 0.65, "triangle": 0.5, "star": 0.52, "cross": 0.5}
    assert abs(area - expected[shape]) < 0.12, area
    assert ((coverage > 0) & (coverage < 1)).any()


def test_heldout_library_holds_every_pair_and_the_object_stands_out(tmp_path):
    library = heldout.write_library(tmp_path, per_pair=1, seed=3)
    assert sorted(library.values()) == sorted(heldout.PAIRS)
    assert (tmp_path / "captions.jsonl").read_text().count("\n") == len(heldout.PAIRS)
    sizes = {Image.open(path).size for path in library}
    assert len(sizes) >= 2  # landscape, portrait and square frames


@pytest.mark.parametrize("colour", sketch.COLOURS)
def test_sketch_pictures_show_the_crayon_on_a_paper_far_from_it(colour):
    ink = np.array(sketch.COLOURS[colour], np.float32)
    pixels = np.asarray(sketch.render(colour, "square", np.random.default_rng(1)), np.float32)
    near_ink = np.linalg.norm(pixels - ink, axis=-1) < 40
    assert 0.02 < near_ink.mean() < 0.5  # an object, not the whole sheet, is drawn in the crayon
    corner = pixels[:10, :10].reshape(-1, 3).mean(axis=0)
    assert np.linalg.norm(corner - ink) > 80  # the paper keeps away from the crayon


def test_sketch_library_holds_every_pair_in_frames_of_many_aspects_and_is_deterministic(tmp_path):
    library = sketch.write_library(tmp_path / "a", per_pair=1, seed=3)
    assert sorted(library.values()) == sorted(sketch.PAIRS)
    assert (tmp_path / "a" / "captions.jsonl").read_text().count("\n") == len(sketch.PAIRS)
    sizes = {Image.open(path).size for path in library}
    assert len(sizes) >= 40
    again = sketch.write_library(tmp_path / "b", per_pair=1, seed=3)
    assert [path.read_bytes() for path in library] == [path.read_bytes() for path in again]


@pytest.mark.parametrize("shape", mosaic.SHAPES)
def test_mosaic_shapes_have_their_own_area(shape):
    yy, xx = np.mgrid[-50:50:0.25, -50:50:0.25]
    area = mosaic.inside(shape, xx, yy, 40.0).mean() * 100**2 / (np.pi * 40**2)
    expected = {"circle": 1.0, "ring": 0.62, "square": 0.7, "triangle": 0.41, "star": 0.53, "cross": 0.59}
    assert abs(area - expected[shape]) < 0.08, area


@pytest.mark.parametrize("colour", mosaic.COLOURS)
def test_mosaic_pictures_lay_the_object_in_tiles_of_its_colour_on_a_ground_far_from_it(colour):
    tile = np.array(mosaic.COLOURS[colour], np.float32)
    pixels = np.asarray(mosaic.render(colour, "circle", np.random.default_rng(1)), np.float32)
    near_tile = np.linalg.norm(pixels - tile, axis=-1) < 40
    assert 0.03 < near_tile.mean() < 0.5  # an object, not the whole panel, is laid in its colour
    assert near_tile[:10, :10].mean() < 0.5  # the ground keeps away from it


def test_mosaic_library_holds_every_pair_and_is_deterministic(tmp_path):
    library = mosaic.write_library(tmp_path / "a", per_pair=1, seed=3)
    assert sorted(library.values()) == sorted(mosaic.PAIRS)
    assert (tmp_path / "a" / "captions.jsonl").read_text().count("\n") == len(mosaic.PAIRS)
    assert len({Image.open(path).size for path in library}) >= 40
    again = mosaic.write_library(tmp_path / "b", per_pair=1, seed=3)
    assert [path.read_bytes() for path in library] == [path.read_bytes() for path in again]


def _area(polygon: list[tuple[float, float]]) -> float:
    xs, ys = np.array(polygon).T
    return abs(float(np.dot(xs, np.roll(ys, 1)) - np.dot(ys, np.roll(xs, 1)))) / 2


@pytest.mark.parametrize("shape", tabletop.SHAPES)
def test_tabletop_pieces_have_their_own_area_and_only_a_ring_has_a_hole(shape):
    polygons = tabletop.outline(shape, 40.0)
    area = (_area(polygons[0]) - sum(_area(hole) for hole in polygons[1:])) / (np.pi * 40**2)
    expected = {"circle": 1.0, "ring": 0.69, "square": 0.77, "triangle": 0.48, "star": 0.37, "cross": 0.61}
    assert abs(area - expected[shape]) < 0.03, area
    assert len(polygons) == (2 if shape == "ring" else 1)


@pytest.mark.parametrize("colour", tabletop.COLOURS)
def test_tabletop_pictures_show_the_piece_in_its_paint_on_a_table_far_from_it(colour):
    paint = np.array(tabletop.COLOURS[colour], np.float32)
    pixels = np.asarray(tabletop.render(colour, "square", np.random.default_rng(1), (240, 180)), np.float32)
    near_paint = np.linalg.norm(pixels - paint, axis=-1) < 40
    assert 0.03 < near_paint.mean() < 0.5  # a piece, lit but still in its colour, not the whole table
    corner = pixels[:10, :10].reshape(-1, 3).mean(axis=0)
    assert np.linalg.norm(corner - paint) > 80  # the table keeps away from the paint


def test_tabletop_pictures_are_deterministic_in_frames_from_2_3_to_3_2():
    first = tabletop.render("blue", "ring", np.random.default_rng(5), (200, 300))
    again = tabletop.render("blue", "ring", np.random.default_rng(5), (200, 300))
    assert first.size == (200, 300) and np.array_equal(np.asarray(first), np.asarray(again))
    rng = np.random.default_rng(0)
    frames = [tabletop.frame(rng) for _ in range(300)]
    assert all(160 <= min(f) <= 400 and max(f) / min(f) <= 1.5 + 1e-2 for f in frames)
    assert any(w > h * 1.3 for w, h in frames) and any(h > w * 1.3 for w, h in frames)


def test_web_pictures_are_the_same_each_call():
    first, again = heldout.web_pictures(4), heldout.web_pictures(4)
    assert [(c, s) for c, s, _ in first] == [
        ("red", "circle"),
        ("green", "circle"),
        ("blue", "circle"),
        ("yellow", "circle"),
    ]
    assert all(np.array_equal(np.asarray(a[2]), np.asarray(b[2])) for a, b in zip(first, again, strict=True))
