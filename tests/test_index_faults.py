"""Faults on disk: a full disk while indexing, damaged index files, and `viewfinder check [--repair]`."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from cli_helpers import run_check, run_cli, run_cli_json

from viewfinder.store.catalog import Catalog


def test_a_full_disk_while_indexing_is_a_clear_error_and_the_next_run_resumes(capsys, library, tmp_path, monkeypatch):
    index = tmp_path / "index"
    real_commit = Catalog.commit_batch
    calls = []

    def fill_up_after_two_batches(self, *args, **kwargs):
        calls.append(1)
        if len(calls) > 2:
            raise sqlite3.OperationalError("database or disk is full")
        return real_commit(self, *args, **kwargs)

    monkeypatch.setattr(Catalog, "commit_batch", fill_up_after_two_batches)
    code, _, err = run_cli(capsys, "index", library, "--index", index, "--model", "test:tiny", "--batch-size", "8")
    assert code == 2 and "is full" in err and "run `viewfinder index` again to resume" in err
    assert "unexpected" not in err
    monkeypatch.setattr(Catalog, "commit_batch", real_commit)

    assert run_cli_json(capsys, "search", "sky", "--index", index, "-k", "50")["count"] == 16
    report = run_cli_json(capsys, "index", library, "--index", index)
    assert (report["added"], report["unchanged"], report["total"]) == (8, 16, 24)


def test_a_healthy_index_checks_clean(capsys, index):
    assert run_check(capsys, index) == (
        0,
        {"problems": [], "repaired": [], "missing_files": 0, "awaiting_embedding": 0, "healthy": True},
    )


def test_a_damaged_catalog_is_a_clear_error_and_repair_sets_it_aside(capsys, index, library):
    (index / "catalog.sqlite").write_bytes(b"this is not a database" * 100)
    for suffix in ("-wal", "-shm"):
        Path(f"{index / 'catalog.sqlite'}{suffix}").unlink(missing_ok=True)
    code, _, err = run_cli(capsys, "search", "sky", "--index", index)
    assert code == 2 and "damaged" in err and "viewfinder check --repair" in err
    code, _, err = run_cli(capsys, "index", library, "--index", index)
    assert code == 2 and "damaged" in err

    code, report = run_check(capsys, index)
    assert code == 2 and "damaged" in report["problems"][0]
    code, report = run_check(capsys, index, "--repair")
    assert code == 0 and "Set the damaged catalog aside" in report["repaired"][0]
    assert list(index.glob("catalog.sqlite.damaged-*"))
    assert run_cli_json(capsys, "index", library, "--index", index)["added"] == 24
    assert run_check(capsys, index)[0] == 0


@pytest.mark.parametrize("damage", ["garbage faiss file", "deleted state file", "stale generation"])
def test_a_damaged_vector_index_is_found_and_rebuilt_from_the_catalog(capsys, index, damage):
    faiss_file = next(index.glob("vectors-*.faiss"))
    if damage == "garbage faiss file":
        faiss_file.write_bytes(b"\0" * 64)
    elif damage == "deleted state file":
        (index / "ann.json").unlink()
    else:
        (index / "ann.json").write_text((index / "ann.json").read_text().replace('"generation": ', '"generation": 9'))
    code, report = run_check(capsys, index)
    assert code == 2 and "vector index" in report["problems"][0]
    code, report = run_check(capsys, index, "--repair")
    assert code == 0 and report["repaired"] == ["Rebuilt the vector index from the catalog."]
    assert run_check(capsys, index)[0] == 0
    assert run_cli_json(capsys, "search", "sky", "--index", index, "-k", "50")["count"] == 24


def test_catalog_rows_without_vectors_are_kept_and_the_next_run_embeds_them_again(capsys, index, library):
    db = sqlite3.connect(index / "catalog.sqlite")
    with db:
        db.execute("DELETE FROM vectors WHERE id IN (SELECT id FROM vectors LIMIT 2)")
    db.close()
    code, report = run_check(capsys, index, "--repair")
    assert code == 0 and "2 catalog images have no usable vector." in report["problems"]
    assert run_check(capsys, index)[1]["awaiting_embedding"] == 2
    report = run_cli_json(capsys, "index", library, "--index", index)
    assert (report["updated"], report["added"], report["total"]) == (2, 0, 24)


def test_stale_thumbnails_and_renditions_of_every_size_are_deleted(capsys, index):
    folders = [index / name for name in ("thumbnails", "thumbnails-768", "renditions", "renditions-1080")]
    for folder in folders:
        folder.mkdir()
        (folder / "999-1-1.jpg").write_bytes(b"old")
    (folders[0] / "1-0-0.jpg").write_bytes(b"")
    (index / "elsewhere").mkdir()
    (index / "elsewhere" / "999-1-1.jpg").write_bytes(b"not a cache folder")
    code, report = run_check(capsys, index, "--repair")
    assert code == 0 and report["problems"] == ["5 thumbnails are stale or empty."]
    assert [list(folder.iterdir()) for folder in folders] == [[], [], [], []]
    assert (index / "elsewhere" / "999-1-1.jpg").is_file()


def test_a_full_disk_while_saving_the_vector_index_keeps_the_catalog_searchable(capsys, library, tmp_path, monkeypatch):
    from viewfinder.store.faiss_index import VectorIndex

    def no_space(self, folder, generation):
        raise RuntimeError(f"Error: 'ret == size' failed: write error in {folder}: No space left on device")

    index = tmp_path / "index"
    real_save = VectorIndex.save
    monkeypatch.setattr(VectorIndex, "save", no_space)
    code, _, err = run_cli(capsys, "index", library, "--index", index, "--model", "test:tiny")
    assert code == 2 and "is full" in err
    monkeypatch.setattr(VectorIndex, "save", real_save)
    assert run_cli_json(capsys, "search", "sky", "--index", index, "-k", "50")["count"] == 24
    assert run_cli_json(capsys, "index", library, "--index", index)["unchanged"] == 24
    assert run_check(capsys, index)[0] == 0
