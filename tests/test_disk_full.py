"""A full disk in any command is one clear line and exit 2, as it is while indexing (issue 22, item 12)."""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path

import pytest
from cli_helpers import run_cli, run_cli_json

from viewfinder.store.faiss_index import VectorIndex

FULL_DISK = {
    "ENOSPC": lambda: OSError(errno.ENOSPC, "No space left on device", "/index/vectors-2.faiss"),
    "EDQUOT": lambda: OSError(errno.EDQUOT, "Disk quota exceeded"),
    "sqlite": lambda: sqlite3.OperationalError("database or disk is full"),
    "faiss": lambda: RuntimeError("Error: 'ret == size' failed: write error: No space left on device"),
}


@pytest.fixture
def index(capsys, library: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "index"
    run_cli_json(capsys, "index", library, "--index", folder, "--model", "test:tiny")
    return folder


@pytest.mark.parametrize("kind", list(FULL_DISK))
def test_a_full_disk_during_check_repair_is_one_clear_line_and_exit_2(capsys, index, monkeypatch, kind):
    (index / "ann.json").unlink()  # so that the repair writes a new vector index

    def disk_full(self, folder, generation):
        raise FULL_DISK[kind]()

    monkeypatch.setattr(VectorIndex, "save", disk_full)
    code, _, err = run_cli(capsys, "check", "--index", index, "--repair")
    assert code == 2, err
    assert err.startswith("viewfinder: error: the disk is full") and "free some space" in err
    assert "unexpected" not in err and len(err.strip().splitlines()) == 1


def test_a_full_disk_behind_another_error_is_still_one_clear_line(capsys, index, monkeypatch):
    def disk_full(self, folder, generation):
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError as error:
            raise RuntimeError("could not save the index") from error

    (index / "ann.json").unlink()
    monkeypatch.setattr(VectorIndex, "save", disk_full)
    code, _, err = run_cli(capsys, "check", "--index", index, "--repair")
    assert code == 2 and err.startswith("viewfinder: error: the disk is full") and "unexpected" not in err


def test_other_os_errors_are_still_reported_as_unexpected(capsys, index, monkeypatch):
    def broken(self, folder, generation):
        raise OSError(errno.EIO, "Input/output error")

    (index / "ann.json").unlink()
    monkeypatch.setattr(VectorIndex, "save", broken)
    code, _, err = run_cli(capsys, "check", "--index", index, "--repair")
    assert code == 1 and "unexpected error" in err


@pytest.mark.slow
def test_serving_a_snapshot_into_a_full_cache_is_one_clear_line_and_exit_2(
    seaweed, tmp_path, capsys, monkeypatch, request
):
    from snapshot_helpers import bucket_name, own_bucket, publish_library

    from viewfinder.store import snapshot_cache

    def disk_full(bucket, key, local, size):
        local.write_bytes(b"part of it")
        raise OSError(errno.ENOSPC, "No space left on device", str(local))

    cache = tmp_path / "serve-cache"
    monkeypatch.setenv("VIEWFINDER_SNAPSHOT_CACHE", str(cache))
    monkeypatch.setattr(snapshot_cache, "_download_hashed", disk_full)
    with own_bucket(seaweed, bucket_name(request.node.name, "full")) as bucket:
        url = publish_library(tmp_path, bucket)[0]
        code, _, err = run_cli(capsys, "serve", "--index", url, "--port", "0")
    assert code == 2, err
    assert err.splitlines()[-1].startswith("viewfinder: error: the disk is full") and "unexpected" not in err
    assert not [entry for entry in cache.iterdir() if entry.name.startswith(".")]  # no half-downloaded folder
