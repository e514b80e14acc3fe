"""End-to-end behaviour of `viewfinder index`, `search` and `info` through the real command line."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import cli_command, cli_env, run_cli, run_cli_json, run_subprocess, write_colour_images
from PIL import Image

from viewfinder import Filters, Term, open_index
from viewfinder.models import factory
from viewfinder.models.registry import file_sha256, resolve_model
from viewfinder.pipeline import reading


def test_index_then_search_returns_contract_shape_sorted_by_similarity(capsys, library, tmp_path):
    index = tmp_path / "index"
    report = run_cli_json(capsys, "index", library, "--index", index, "--model", "test:tiny")
    assert report["added"] == 24 and report["total"] == 24 and report["skipped"] == []
    assert set(report) == {
        "added",
        "updated",
        "removed",
        "unchanged",
        "skipped",
        "total",
        "seconds",
        "images_per_second",
        "reused",
        "missing_sources",
        "words_read",
        "words_skipped",
    }
    assert report["words_read"] == 0 and report["words_skipped"] == []  # no --ocr: no words read

    result = run_cli_json(capsys, "search", "a blue sky", "--index", index, "-k", "10")
    assert result["count"] == 10 == len(result["results"])
    assert [r["rank"] for r in result["results"]] == list(range(1, 11))
    similarities = [r["similarity"] for r in result["results"]]
    assert similarities == sorted(similarities, reverse=True)
    assert all(Path(r["path"]).is_file() and r["image_id"].isdigit() for r in result["results"])
    assert set(result["timings_ms"]) >= {"encode", "search", "total"}

    info = run_cli_json(capsys, "info", "--index", index)
    assert info["images"] == 24 and info["model"] == "test:tiny" and info["index_type"] == "flat"


def test_reindex_of_unchanged_library_reports_all_unchanged_without_loading_the_model(
    capsys, library, tmp_path, monkeypatch
):
    index = tmp_path / "index"
    run_cli_json(capsys, "index", library, "--index", index, "--model", "test:tiny")

    def refuse(*args, **kwargs):
        raise AssertionError("an unchanged library must not load the model")

    monkeypatch.setattr(factory, "load_embedder", refuse)
    report = run_cli_json(capsys, "index", library, "--index", index)
    assert (report["added"], report["updated"], report["removed"], report["unchanged"]) == (0, 0, 0, 24)


def test_modified_added_and_deleted_files_are_counted_and_reflected_in_search(capsys, library, tmp_path):
    index = tmp_path / "index"
    run_cli_json(capsys, "index", library, "--index", index, "--model", "test:tiny")
    files = sorted(library.rglob("image-*"))
    deleted, modified = files[0], files[1]
    deleted.unlink()
    Image.new("RGB", (80, 60), (250, 10, 10)).save(modified)
    os.utime(modified, ns=(time.time_ns(), time.time_ns() + 5_000_000_000))
    added = write_colour_images(library, 3, seed=9, start=100)

    report = run_cli_json(capsys, "index", library, "--index", index)
    assert (report["added"], report["updated"], report["removed"], report["unchanged"]) == (3, 1, 1, 22)
    assert report["total"] == 26

    found = run_cli_json(capsys, "search", "anything", "--index", index, "-k", "100")
    paths = {r["path"] for r in found["results"]}
    assert str(deleted) not in paths
    assert {str(p) for p in added} <= paths and str(modified) in paths
    by_image = run_cli_json(capsys, "search", "--image", modified, "--index", index, "-k", "1")
    assert by_image["results"][0]["path"] == str(modified)
    assert by_image["results"][0]["similarity"] > 0.999


def test_broken_files_are_skipped_with_reasons_and_every_valid_image_is_indexed(capsys, library, tmp_path):
    broken = library / "broken"
    broken.mkdir()
    (broken / "empty.jpg").write_bytes(b"")
    (broken / "notes.jpg").write_text("this is a text file, not a photo")
    whole = (library / "image-0001.jpg").read_bytes()
    (broken / "truncated.jpg").write_bytes(whole[: len(whole) // 2])
    Image.new("1", (20_000, 20_000)).save(broken / "bomb.png")
    (broken / "dangling.jpg").symlink_to(broken / "missing.jpg")
    (broken / "loop.jpg").symlink_to(broken / "loop.jpg")
    (broken / "folder-loop").symlink_to(library)
    # A name in another encoding than the file system's (a Latin-1 "café"): readable, but not storable as text.
    with open(os.path.join(os.fsencode(broken), b"caf\xe9.jpg"), "wb") as latin1:
        latin1.write(whole)

    report = run_cli_json(capsys, "index", library, "--index", tmp_path / "index", "--model", "test:tiny")
    reasons = {Path(item["path"]).name: item["reason"] for item in report["skipped"]}
    assert report["added"] == 24 and report["total"] == 24
    expected = {"empty.jpg", "notes.jpg", "truncated.jpg", "bomb.png", "dangling.jpg", "loop.jpg", "caf\ufffd.jpg"}
    assert set(reasons) >= expected
    assert all(reason and "\n" not in reason for reason in reasons.values())
    assert "too large" in reasons["bomb.png"] and "link" in reasons["dangling.jpg"]
    assert "not valid UTF-8" in reasons["caf\ufffd.jpg"]

    again = run_cli_json(capsys, "index", library, "--index", tmp_path / "index")
    assert again["unchanged"] == 24 and {Path(i["path"]).name for i in again["skipped"]} == set(reasons)


def test_a_thin_strip_png_is_skipped_as_too_elongated_and_the_rest_indexed(capsys, library, tmp_path):
    # 1x1000000 pixels in a 2 kB file: resized whole for a model it would need hundreds of gigabytes.
    Image.new("L", (1, 1_000_000), 128).save(library / "strip.png", optimize=True)
    report = run_cli_json(capsys, "index", library, "--index", tmp_path / "index", "--model", "test:tiny")
    assert report["added"] == 24 and report["total"] == 24
    assert [(Path(item["path"]).name, item["reason"]) for item in report["skipped"]] == [
        ("strip.png", "image too elongated (1x1000000 pixels, limit 1000:1 between its sides)")
    ]


def test_any_error_decoding_one_file_skips_that_file_with_its_reason(capsys, library, tmp_path, monkeypatch):
    real_decode = reading.decode_image

    def crashing_decode(path, spec):
        if Path(path).name == "image-0003.jpg":
            raise OverflowError("Python int too large to convert to C int")
        return real_decode(path, spec)

    monkeypatch.setattr(reading, "decode_image", crashing_decode)
    report = run_cli_json(capsys, "index", library, "--index", tmp_path / "index", "--model", "test:tiny")
    assert report["added"] == 23 and report["total"] == 23
    assert [(Path(item["path"]).name, item["reason"]) for item in report["skipped"]] == [
        ("image-0003.jpg", "cannot be decoded (OverflowError: Python int too large to convert to C int)")
    ]


def test_a_folder_given_with_its_parent_is_indexed_once_under_the_parent(capsys, library, tmp_path):
    index = tmp_path / "index"
    report = run_cli_json(capsys, "index", library / "nested", library, "--index", index, "--model", "test:tiny")
    assert report["added"] == 24 and report["total"] == 24
    catalog = sqlite3.connect(index / "catalog.sqlite")
    assert set(catalog.execute("SELECT DISTINCT root FROM images")) == {(str(library),)}
    engine = open_index(str(index))
    try:
        nested = engine.search([Term(text="anything")], k=100, filters=Filters(folder="nested"))
    finally:
        engine.close()
    assert len(nested.hits) == 8


@pytest.mark.slow  # kills an indexing subprocess and resumes it
def test_kill_during_indexing_leaves_index_searchable_and_resume_completes_without_duplicates(tmp_path):
    library = tmp_path / "photos"
    write_colour_images(library, 12, seed=1)
    index = tmp_path / "index"
    first = run_subprocess("index", library, "--index", index, "--model", "test:tiny", "--json")
    assert first.returncode == 0, first.stderr
    write_colour_images(library, 400, seed=2, start=1000)

    process = subprocess.Popen(
        cli_command("index", library, "--index", index, "--batch-size", "8", "--workers", "1"),
        env=cli_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    catalog = index / "catalog.sqlite"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        with sqlite3.connect(catalog) as db:
            if db.execute("SELECT COUNT(*) FROM images").fetchone()[0] > 12 + 16:
                break
        time.sleep(0.02)
    assert process.poll() is None, "indexing finished before it could be interrupted; make the library larger"
    process.send_signal(signal.SIGKILL)
    process.wait()

    during = run_subprocess("search", "red", "--index", index, "-k", "5", "--json")
    assert during.returncode == 0, during.stderr

    resumed = run_subprocess("index", library, "--index", index, "--json")
    assert resumed.returncode == 0, resumed.stderr
    with sqlite3.connect(catalog) as db:
        paths = [row[0] for row in db.execute("SELECT path FROM images")]
        vectors = db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0]
    assert len(paths) == len(set(paths)) == 412 == vectors
    found = run_subprocess("search", "red", "--index", index, "-k", "1000", "--json")
    results = json.loads(found.stdout)["results"]
    assert len(results) == 412 and len({r["image_id"] for r in results}) == 412


def test_exact_search_equals_brute_force_numpy_ranking(capsys, library, tmp_path, tiny_embedder):
    index = tmp_path / "index"
    run_cli_json(capsys, "index", library, "--index", index, "--model", "test:tiny")
    with sqlite3.connect(index / "catalog.sqlite") as db:
        rows = db.execute("SELECT images.id, path, vector FROM images JOIN vectors USING (id)").fetchall()
    ids = np.array([row[0] for row in rows])
    matrix = np.stack([np.frombuffer(row[2], dtype=np.float32) for row in rows])
    query = tiny_embedder.encode_texts(["a green meadow"])[0]
    expected = ids[np.argsort(-(matrix @ query), kind="stable")][:15]

    result = run_cli_json(capsys, "search", "a green meadow", "--index", index, "-k", "15")
    assert [int(r["image_id"]) for r in result["results"]] == list(expected)
    scores = sorted((matrix @ query).tolist(), reverse=True)[:15]
    assert np.allclose([r["similarity"] for r in result["results"]], scores, atol=1e-5)


def test_opening_an_index_with_another_model_exits_2_with_a_clear_message(capsys, library, tmp_path):
    index = tmp_path / "index"
    run_cli_json(capsys, "index", library, "--index", index, "--model", "test:tiny")
    code, _, err = run_cli(capsys, "index", library, "--index", index, "--model", "random:viewfinder-tiny")
    assert code == 2
    assert "built with model test:tiny" in err and "Traceback" not in err


# The manifest of an index built with the first `test:shapes`, trained on the sample renderer alone: the same
# name, other weights (their sha256), so its vectors are not the installed model's.
FIRST_SHAPES_IDENTITY = "viewfinder-shapes@sha256:91c5ce285aa961bc02412b7f018c170b219b13f5efe8b0b7939e9f992ffd4e5c"


def test_test_shapes_multilingual_is_another_name_of_test_shapes():
    shapes, multilingual = resolve_model("test:shapes"), resolve_model("test:shapes-multilingual")
    assert multilingual == shapes and shapes.name == "test:shapes"  # one manifest name, one identity
    assert shapes.weights_file is not None and shapes.identity().endswith(file_sha256(shapes.weights_file))


def test_an_index_built_with_other_weights_of_the_same_model_name_is_refused(capsys, library, tmp_path):
    index = tmp_path / "index"
    run_cli_json(capsys, "index", library, "--index", index, "--model", "test:tiny")
    manifest = json.loads((index / "manifest.json").read_text())
    manifest |= {"model": "test:shapes", "identity": FIRST_SHAPES_IDENTITY}
    (index / "manifest.json").write_text(json.dumps(manifest))
    code, _, err = run_cli(capsys, "search", "a red circle", "--index", index)
    assert code == 2 and err.count("\n") == 1
    assert "built with model test:shapes as its weights were then" in err and "index again" in err
    assert "viewfinder upgrade --model test:shapes" in err


@pytest.mark.slow  # loads open_clip and timm in a subprocess
@pytest.mark.parametrize(
    ("model", "repository", "fix"),
    [
        ("ViT-B-32:openai", "timm/vit_base_patch32_clip_224.openai", "--model ViT-B-32:/path/to/"),
        ("hf-hub:laion/CLIP-ViT-B-32-laion2B-s34B-b79K", "laion/CLIP-ViT-B-32-laion2B-s34B-b79K", "/path/to/folder"),
    ],
)
def test_unreachable_real_weights_fail_with_one_line_naming_what_to_download(tmp_path, library, model, repository, fix):
    env_home = tmp_path / "hf-home"
    shutil.rmtree(env_home, ignore_errors=True)
    os.environ["HF_HOME"] = str(env_home)
    try:
        completed = run_subprocess("index", library, "--index", tmp_path / "index", "--model", model)
    finally:
        del os.environ["HF_HOME"]
    assert completed.returncode == 2
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1, completed.stderr
    assert f"https://huggingface.co/{repository}," in lines[0] and "download" in lines[0] and fix in lines[0]
    assert not (tmp_path / "index" / "manifest.json").exists()


def test_missing_or_unwritable_index_and_bad_queries_are_usage_errors(capsys, tmp_path, library):
    (tmp_path / "a-file").write_text("not a folder")
    code, _, err = run_cli(capsys, "index", library, "--index", tmp_path / "a-file" / "index", "--model", "test:tiny")
    assert code == 2 and "Cannot write the index at" in err
    code, _, err = run_cli(capsys, "search", "cat", "--index", tmp_path / "nothing")
    assert code == 2 and "No index at" in err
    code, _, err = run_cli(capsys, "search", "--image", tmp_path / "missing.jpg", "--index", tmp_path / "nothing")
    assert code == 2 and "missing.jpg: no such file" in err
    code, _, err = run_cli(capsys, "index", tmp_path / "no-such-folder", "--index", tmp_path / "i")
    assert code == 2 and "does not exist" in err


def test_a_new_catalog_stores_512_dimension_vectors_in_little_more_than_their_bytes(tmp_path):
    """With SQLite's default 4 KB pages a 2 KB vector fills a page alone, doubling the catalog."""
    from viewfinder.store.catalog import Catalog
    from viewfinder.store.catalog_rows import NewImage

    catalog = Catalog(tmp_path / "catalog.sqlite")
    vectors = np.random.default_rng(0).standard_normal((3000, 512)).astype(np.float32)
    images = [NewImage(f"/p/{i}.jpg", "/p", 1, i, 8, 8, "JPEG", None, vector) for i, vector in enumerate(vectors)]
    catalog.commit_batch(images=images)
    catalog.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    catalog.close()
    assert (tmp_path / "catalog.sqlite").stat().st_size < 1.3 * vectors.nbytes
