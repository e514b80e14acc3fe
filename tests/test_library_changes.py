"""A library that changes: catalog upgrades, moved, renamed, copied and replaced files, vanished sources."""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import run_cli, run_cli_json
from PIL import Image

from viewfinder.models.embedder import Embedder
from viewfinder.pipeline.indexer import run_index
from viewfinder.store.indexdir import IndexDir
from viewfinder.store.migrations import SCHEMA_VERSION

# The catalog schema of commit 680c884 (before versioning), kept here as data: the upgrade must keep
# opening catalogs written by that code whatever the current schema becomes.
SCHEMA_680C884 = """
CREATE TABLE IF NOT EXISTS images (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    path TEXT NOT NULL UNIQUE,
    root TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    format TEXT NOT NULL,
    taken_at TEXT,
    indexed_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS images_taken_at ON images (taken_at);
CREATE TABLE IF NOT EXISTS vectors (
    id INTEGER PRIMARY KEY REFERENCES images (id) ON DELETE CASCADE,
    vector BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS skipped (
    path TEXT PRIMARY KEY,
    root TEXT NOT NULL,
    size INTEGER,
    mtime_ns INTEGER,
    reason TEXT NOT NULL,
    seen_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT OR IGNORE INTO meta (key, value) VALUES ('generation', '0');
"""
OLD_COLUMNS = "id, path, root, size, mtime_ns, width, height, format, taken_at, indexed_at"


class CountingEmbedder:
    """The test model, counting the images it is asked to embed."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.images = 0

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

    def encode_images(self, pixels: np.ndarray) -> np.ndarray:
        self.images += len(pixels)
        return self.inner.encode_images(pixels)


def tiny_pictures(folder: Path, count: int) -> list[Path]:
    """`count` distinct 8x8 PNGs (the pixels spell the number, so no two are equal)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for number in range(count):
        pixels = np.zeros((8, 8, 3), np.uint8)
        pixels.reshape(-1)[:4] = np.frombuffer(number.to_bytes(4, "little"), np.uint8)
        path = folder / f"p{number:05d}.png"
        Image.fromarray(pixels).save(path)
        paths.append(path)
    return paths


def downgrade_to_680c884(index: Path) -> None:
    """Rewrites an index's catalog in the schema of commit 680c884, keeping its rows."""
    catalog = index / "catalog.sqlite"
    old = index / "old.sqlite"
    db = sqlite3.connect(old)
    db.executescript(SCHEMA_680C884)
    db.execute("ATTACH DATABASE ? AS new", (str(catalog),))
    with db:
        db.execute(f"INSERT INTO images SELECT {OLD_COLUMNS} FROM new.images")
        db.execute("INSERT INTO vectors SELECT * FROM new.vectors")
        db.execute("INSERT INTO skipped SELECT * FROM new.skipped")
        db.execute("INSERT OR REPLACE INTO meta SELECT * FROM new.meta")
    db.execute("DETACH DATABASE new")
    db.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{catalog}{suffix}").unlink(missing_ok=True)
    old.rename(catalog)


def test_catalog_from_680c884_is_refused_read_only_then_upgraded_by_index_without_re_embedding(
    capsys, library, tmp_path, tiny_embedder
):
    index = tmp_path / "index"
    run_cli_json(capsys, "index", library, "--index", index, "--model", "test:tiny")
    downgrade_to_680c884(index)

    code, _, err = run_cli(capsys, "search", "sky", "--index", index)
    assert code == 2 and "older than this Viewfinder" in err and "viewfinder check --repair" in err

    counting = CountingEmbedder(tiny_embedder)
    report = run_index(index, [str(library)], embedder=counting, model="test:tiny")
    assert (report.added, report.updated, report.unchanged, counting.images) == (0, 0, 24, 0)
    db = sqlite3.connect(index / "catalog.sqlite")
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert db.execute("SELECT COUNT(*) FROM images WHERE content_hash IS NULL").fetchone()[0] == 0
    db.close()
    assert run_cli_json(capsys, "search", "sky", "--index", index)["count"] == 20


@pytest.mark.slow
def test_renaming_a_folder_of_a_thousand_photos_costs_no_model_call_and_leaves_no_stale_paths(
    capsys, tmp_path, tiny_embedder
):
    photos, index = tmp_path / "photos", tmp_path / "index"
    tiny_pictures(photos, 1000)
    counting = CountingEmbedder(tiny_embedder)
    assert run_index(index, [str(photos)], embedder=counting, model="test:tiny").added == 1000
    assert counting.images == 1000

    renamed = tmp_path / "photos-2026"
    photos.rename(renamed)
    report = run_index(index, [str(renamed)], embedder=counting, model="test:tiny")
    assert counting.images == 1000  # not one more image through the model
    assert (report.added, report.reused, report.removed, report.total) == (1000, 1000, 1000, 1000)
    assert report.missing_sources == [{"source": str(photos), "images": 1000, "removed": True}]

    found = run_cli_json(capsys, "search", "--image", str(renamed / "p00007.png"), "--index", index, "-k", "50")
    assert all(r["path"].startswith(str(renamed) + os.sep) for r in found["results"])
    info = run_cli_json(capsys, "info", "--index", index)
    assert info["sources"] == [{"source": str(renamed), "images": 1000, "missing": False}]


def test_a_copied_file_reuses_the_stored_vector(tmp_path, tiny_embedder):
    photos, index = tmp_path / "photos", tmp_path / "index"
    first = tiny_pictures(photos, 3)[0]
    counting = CountingEmbedder(tiny_embedder)
    run_index(index, [str(photos)], embedder=counting, model="test:tiny")
    shutil.copy(first, photos / "copy-of-first.png")
    report = run_index(index, [str(photos)], embedder=counting, model="test:tiny")
    assert (report.added, report.reused, counting.images) == (1, 1, 3)


@pytest.mark.parametrize("how", ["in place", "by rename"])
def test_a_file_replaced_by_another_image_with_the_same_size_and_mtime_is_re_embedded(how, tmp_path, tiny_embedder):
    photos, index = tmp_path / "photos", tmp_path / "index"
    photos.mkdir()
    target = photos / "a.bmp"
    Image.new("RGB", (16, 16), (255, 0, 0)).save(target)
    stat = target.stat()
    counting = CountingEmbedder(tiny_embedder)
    run_index(index, [str(photos)], embedder=counting, model="test:tiny")

    replacement = tmp_path / "b.bmp"
    Image.new("RGB", (16, 16), (0, 0, 255)).save(replacement)
    assert replacement.stat().st_size == stat.st_size  # same size, and the same mtime below
    if how == "in place":
        target.write_bytes(replacement.read_bytes())
    else:
        os.replace(replacement, target)
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))

    report = run_index(index, [str(photos)], embedder=counting, model="test:tiny")
    assert (report.updated, report.unchanged, counting.images) == (1, 0, 2)


def test_touching_a_file_changes_its_ctime_but_not_its_content_so_nothing_is_re_embedded(tmp_path, tiny_embedder):
    photos, index = tmp_path / "photos", tmp_path / "index"
    tiny_pictures(photos, 2)
    counting = CountingEmbedder(tiny_embedder)
    run_index(index, [str(photos)], embedder=counting, model="test:tiny")
    os.chmod(photos / "p00000.png", 0o600)  # a new ctime, the same bytes
    report = run_index(index, [str(photos)], embedder=counting, model="test:tiny")
    assert (report.unchanged, counting.images) == (2, 2)
    assert IndexDir(index).open_catalog(readonly=True).count() == 2


def test_search_leaves_out_files_deleted_since_indexing(capsys, library, tmp_path):
    index = tmp_path / "index"
    run_cli_json(capsys, "index", library, "--index", index, "--model", "test:tiny")
    gone = sorted(library.rglob("image-*"))[:5]
    for path in gone:
        path.unlink()
    found = run_cli_json(capsys, "search", "sky", "--index", index, "-k", "24")
    assert found["count"] == 19 and not {str(p) for p in gone} & {r["path"] for r in found["results"]}
    assert [r["rank"] for r in found["results"]] == list(range(1, 20))


def test_remove_drops_a_source_whose_folder_is_gone_and_info_flags_missing_sources(capsys, tmp_path, tiny_embedder):
    kept, gone, index = tmp_path / "kept", tmp_path / "unplugged", tmp_path / "index"
    tiny_pictures(kept, 3)
    (gone / "sub").mkdir(parents=True)
    for number, path in enumerate(tiny_pictures(gone / "sub", 4)):
        path.write_bytes(path.read_bytes() + bytes([number]) * 8)  # other content than `kept`'s pictures
    run_index(index, [str(kept), str(gone)], embedder=tiny_embedder, model="test:tiny")
    shutil.rmtree(gone)

    report = run_index(index, [str(kept)], embedder=tiny_embedder)
    # A source that vanished without its pictures turning up elsewhere is kept (a drive may come back).
    assert report.missing_sources == [{"source": str(gone), "images": 4, "removed": False}]
    info = run_cli_json(capsys, "info", "--index", index)
    assert {s["source"]: s["missing"] for s in info["sources"]} == {str(kept): False, str(gone): True}

    removed = run_cli_json(capsys, "remove", gone, "--index", index)
    assert removed == {"removed": {str(gone): 4}, "total": 3}
    assert [s["source"] for s in run_cli_json(capsys, "info", "--index", index)["sources"]] == [str(kept)]
    assert run_cli_json(capsys, "search", "sky", "--index", index)["count"] == 3

    code, _, err = run_cli(capsys, "remove", tmp_path / "never-indexed", "--index", index)
    assert code == 2 and "is not a source of this index" in err


def test_indexing_a_renamed_source_by_its_old_name_says_what_to_do(capsys, tmp_path, tiny_embedder):
    photos, index = tmp_path / "photos", tmp_path / "index"
    tiny_pictures(photos, 2)
    run_index(index, [str(photos)], embedder=tiny_embedder, model="test:tiny")
    photos.rename(tmp_path / "renamed")
    code, _, err = run_cli(capsys, "index", photos, "--index", index)
    assert code == 2 and "index its new location" in err and f"viewfinder remove {photos}" in err
