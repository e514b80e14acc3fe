"""`viewfinder check` verifies the vectors themselves: the vector index's against the catalog's, and that
every vector is a finite unit vector (issue 22, item 7)."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import run_check, run_cli_json

from viewfinder.store.catalog import leave_vectors_to_index


def search_ids(capsys, index: Path) -> list[int]:
    results = run_cli_json(capsys, "search", "a red circle", "--index", index, "-k", "50")["results"]
    return [int(result["image_id"]) for result in results]


def catalog_vectors(index: Path) -> dict[int, np.ndarray]:
    db = sqlite3.connect(index / "catalog.sqlite")
    try:
        return {i: np.frombuffer(blob, np.float32) for i, blob in db.execute("SELECT id, vector FROM vectors")}
    finally:
        db.close()


def overwrite_in_vector_index(index: Path, old: np.ndarray, new: bytes) -> None:
    """Overwrites the bytes of one stored vector inside the saved FAISS file, where it is found."""
    faiss_file = next(index.glob("vectors-*.faiss"))
    data = bytearray(faiss_file.read_bytes())
    at = data.find(old.tobytes())
    assert at > 0
    data[at : at + len(new)] = new
    faiss_file.write_bytes(bytes(data))


def test_flipped_bytes_inside_the_vector_index_are_found_and_repair_rebuilds_it(capsys, index):
    before = search_ids(capsys, index)
    vectors = catalog_vectors(index)
    first = vectors[min(vectors)]
    flipped = bytes(byte ^ 0x5A for byte in np.concatenate(list(vectors.values())).tobytes()[:256])
    overwrite_in_vector_index(index, first, flipped)

    code, report = run_check(capsys, index)
    assert code == 2 and any("differ from the catalog's" in problem for problem in report["problems"])
    code, report = run_check(capsys, index, "--repair")
    assert code == 0 and "Rebuilt the vector index from the catalog." in report["repaired"]
    assert run_check(capsys, index)[0] == 0
    assert search_ids(capsys, index) == before


@pytest.mark.parametrize("damage", [np.inf, np.nan, 2.0])
def test_a_catalog_vector_that_is_not_a_finite_unit_vector_is_flagged_and_embedded_again(
    capsys, index, library, damage
):
    vectors = catalog_vectors(index)
    damaged_id = sorted(vectors)[3]
    bad = (vectors[damaged_id] * damage) if damage == 2.0 else np.full_like(vectors[damaged_id], damage)
    db = sqlite3.connect(index / "catalog.sqlite")
    with db:
        db.execute("UPDATE vectors SET vector = ? WHERE id = ?", (bad.tobytes(), damaged_id))
    db.close()

    code, report = run_check(capsys, index)
    assert code == 2 and "1 catalog images have no usable vector." in report["problems"]
    code, report = run_check(capsys, index, "--repair")
    assert code == 0, report
    assert run_check(capsys, index) == (
        0,
        {"problems": [], "repaired": [], "missing_files": 0, "awaiting_embedding": 1, "healthy": True},
    )
    # The row is kept (never silently dropped), and the broken vector is out of the searches meanwhile.
    assert run_cli_json(capsys, "info", "--index", index)["images"] == 24
    assert damaged_id not in search_ids(capsys, index)

    report = run_cli_json(capsys, "index", library, "--index", index)
    assert (report["updated"], report["added"], report["total"]) == (1, 0, 24)
    again = catalog_vectors(index)[damaged_id]
    assert np.isclose(np.linalg.norm(again), 1.0, atol=1e-3)
    assert float(again @ vectors[damaged_id]) > 0.99  # the same file, embedded again
    assert run_check(capsys, index)[1]["awaiting_embedding"] == 0
    assert damaged_id in search_ids(capsys, index)


def test_a_snapshot_vector_that_is_not_a_unit_vector_is_found(capsys, index, tmp_path):
    snapshot = tmp_path / "snapshot"
    shutil.copytree(index, snapshot, ignore=shutil.ignore_patterns("index.lock", "*-wal", "*-shm"))
    vectors = catalog_vectors(snapshot)
    db = sqlite3.connect(snapshot / "catalog.sqlite")
    leave_vectors_to_index(db)
    db.close()
    first = vectors[min(vectors)]
    overwrite_in_vector_index(snapshot, first, (first * 3).astype(np.float32).tobytes())

    code, report = run_check(capsys, snapshot)
    assert code == 2 and any("not finite unit vectors" in problem for problem in report["problems"])
    assert run_check(capsys, index)[0] == 0  # the original index is untouched
