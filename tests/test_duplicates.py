"""Near-duplicate groups: measured precision and recall on generated variants, the CLI and GET /duplicates."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest
from cli_helpers import run_cli_json
from PIL import Image
from service_helpers import start_server_thread

from shapeworld.variants import write_variants
from viewfinder.app import Index
from viewfinder.images.synthetic import generate_library
from viewfinder.pipeline.indexer import run_index
from viewfinder.search.duplicates import DEFAULT_THRESHOLD, find_duplicates


def distinct_pictures(folder: Path, count: int) -> list[Path]:
    """Generated pictures no two of which show the same background, shapes and colours."""
    seen, kept = set(), []
    for path, scene in generate_library(folder, 3 * count, seed=3):
        key = (scene.background, tuple(sorted((o.shape, o.colour) for o in scene.objects)))
        if key not in seen and len(kept) < count:
            seen.add(key)
            kept.append(path)
    return kept


def pair_quality(groups: list[list[str]], label_of: dict[str, str]) -> tuple[float, float]:
    """Pairwise precision and recall of found groups against the picture each file was made from."""
    found = {frozenset((a, b)) for group in groups for i, a in enumerate(group) for b in group[i + 1 :]}
    by_label: dict[str, list[str]] = {}
    for name, label in label_of.items():
        by_label.setdefault(label, []).append(name)
    true = {frozenset((a, b)) for names in by_label.values() for i, a in enumerate(names) for b in names[i + 1 :]}
    return (len(found & true) / len(found) if found else 1.0), len(found & true) / len(true)


@pytest.fixture(scope="module")
def variants_index(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("duplicates")
    library = root / "library"
    library.mkdir()
    for picture in distinct_pictures(root / "generated", 40):
        write_variants(picture, library)
    run_index(root / "index", [str(library)], model="test:shapes", device="cpu")
    return root / "index"


@pytest.mark.slow  # indexes 120 generated pictures
def test_near_duplicates_of_40_generated_pictures_are_grouped_with_measured_precision_and_recall(variants_index):
    with Index(variants_index) as engine:
        groups = find_duplicates(engine.catalog, engine.vectors, engine.manifest.dim, DEFAULT_THRESHOLD)
        names = [[Path(image.path).name for image in group.images] for group in groups]
        label_of = {Path(p).name: Path(p).name.split("__")[0] for p in _all_paths(engine)}
    assert len(label_of) == 200
    precision, recall = pair_quality(names, label_of)
    # Measured with test:shapes at the default 0.98: precision 0.887, recall 0.88 (200 files, 40 groups of 5;
    # the model loses some 8% crops and joins a few pictures of like content, BENCHMARKS.md "Duplicates
    # threshold"); held below. At 0.985, the default for the weights before, these weights reach 0.942 and
    # 0.815; the weights before reached 1.0 and 0.79 there.
    assert precision >= 0.85 and recall >= 0.8, (precision, recall)


def _all_paths(engine: Index) -> list[str]:
    return [row[0] for row in engine.catalog.db.execute("SELECT path FROM images")]


@pytest.mark.slow  # indexes 120 generated pictures
def test_duplicates_command_lists_groups_and_exact_copies(capsys, variants_index, tmp_path):
    result = run_cli_json(capsys, "duplicates", "--index", variants_index)
    assert result["threshold"] == DEFAULT_THRESHOLD and result["count"] >= 30
    assert all(len(group["images"]) >= 2 for group in result["groups"])

    photos = tmp_path / "photos"
    photos.mkdir()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(photos / "a.png")
    Image.new("RGB", (40, 30), (30, 30, 200)).save(photos / "b.png")
    shutil.copy(photos / "a.png", photos / "a-copy.png")
    run_index(tmp_path / "index", [str(photos)], model="test:tiny")
    exact = run_cli_json(capsys, "duplicates", "--exact", "--index", tmp_path / "index")
    assert [[Path(i["path"]).name for i in g["images"]] for g in exact["groups"]] == [["a-copy.png", "a.png"]]
    assert exact["groups"][0]["exact"] is True


@pytest.mark.slow  # indexes 120 generated pictures
def test_get_duplicates_answers_groups_with_image_urls_and_rejects_a_bad_threshold(variants_index):
    from viewfinder.serve.app import create_app

    app = create_app(variants_index, device="cpu")
    with start_server_thread(app) as url, httpx.Client(base_url=url, timeout=60) as client:
        answer = client.get("/duplicates", params={"threshold": 0.97}).json()
        assert answer["success"] is True and answer["threshold"] == 0.97 and answer["count"] >= 30
        image = answer["groups"][0]["images"][0]
        assert image["image_url"] == f"/images/{image['image_id']}" and "path" not in image
        bad = client.get("/duplicates", params={"threshold": 2})
        assert bad.status_code == 422 and bad.json()["success"] is False


@pytest.mark.slow  # builds HNSW and IVF indexes over 25,000 vectors
def test_near_neighbour_search_in_an_ivf_index_finds_every_near_copy(monkeypatch):
    import numpy as np

    from viewfinder.store.ann_choice import Calibration
    from viewfinder.store.faiss_index import VectorIndex

    # The chooser times exact search, HNSW, then IVF: falling stub medians make the last one measured win.
    monkeypatch.setattr(Calibration, "latencies_ms", lambda self, searches: list(range(len(searches), 0, -1)))
    rng = np.random.default_rng(0)
    size = 25_000  # enough points to train IVF's lists
    base = rng.normal(size=(size, 16)).astype(np.float32)
    copies = base[:50] + 0.05 * rng.normal(size=(50, 16)).astype(np.float32)
    vectors = np.concatenate([base, copies])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = np.arange(len(vectors), dtype=np.int64)
    index = VectorIndex.build(ids, vectors, 16)
    assert index.params.kind == "ivf" and index.params.nprobe > 8
    _, found = index.near(vectors[size:], 2)
    assert all(twin in row for twin, row in zip(range(50), found, strict=True))


@pytest.mark.slow
def test_duplicate_thresholds_are_rounded_for_the_cache_and_the_answer_says_so(variants_index):
    """Each distinct threshold cost a computation of seconds: 0.9612 and 0.9588 are now both 0.96, computed once."""
    from viewfinder.app.duplicate_answers import DuplicateAnswers
    from viewfinder.serve.app import create_app

    computed = []
    answers = DuplicateAnswers()
    with Index(variants_index, device="cpu") as index:
        for threshold in (0.9612, 0.9588, 0.96):
            answers.answer(index, threshold, lambda groups, used: computed.append(used) or len(groups))
    assert computed == [0.96]
    with start_server_thread(create_app(variants_index, device="cpu")) as url:
        answer = httpx.get(f"{url}duplicates", params={"threshold": 0.9612}, timeout=60).json()
        assert answer["threshold"] == 0.96
        assert httpx.get(f"{url}duplicates", params={"threshold": 0.001}, timeout=60).json()["threshold"] == 0.005


@pytest.mark.slow
def test_only_one_duplicate_computation_runs_at_a_time_per_index(variants_index):
    """Eight requests at eight thresholds took every core for 30 s and slowed searches: they now take turns."""
    import threading
    import time

    from viewfinder.app.duplicate_answers import DuplicateAnswers

    answers = DuplicateAnswers()
    running, most = [0], [0]
    lock = threading.Lock()

    def render(groups, threshold):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.05)  # long enough for the others to arrive while this one runs
        with lock:
            running[0] -= 1
        return threshold

    with Index(variants_index, device="cpu") as index:
        thresholds = [0.9 + 0.01 * n for n in range(8)]
        threads = [threading.Thread(target=answers.answer, args=(index, t, render)) for t in thresholds]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert most[0] == 1
