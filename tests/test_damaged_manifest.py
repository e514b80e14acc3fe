"""A damaged `dim` in manifest.json is flagged and restored from the catalog, never a reason to drop rows,
and `index` and `search` refuse such an index with one clear line (issue 22, item 13)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import run_check, run_cli, run_cli_json


def set_dim(index: Path, dim: object) -> int:
    """Writes `dim` into the manifest; returns the dimension it had."""
    manifest = json.loads((index / "manifest.json").read_text())
    before = manifest["dim"]
    (index / "manifest.json").write_text(json.dumps({**manifest, "dim": dim}))
    return before


@pytest.mark.parametrize("damage", [1, -1, 1000])
def test_check_repair_restores_a_damaged_manifest_dim_from_the_catalog_and_drops_no_row(capsys, index, damage):
    dim = set_dim(index, 0)
    set_dim(index, dim + damage)

    code, report = run_check(capsys, index)
    assert code == 2 and report["problems"] == [
        f"The manifest says the vectors have {dim + damage} dimensions, but the catalog's have {dim}."
    ]
    code, report = run_check(capsys, index, "--repair")
    assert code == 0 and report["repaired"] == [f"Restored the manifest's dimension to {dim}, as the vectors have."]
    assert json.loads((index / "manifest.json").read_text())["dim"] == dim
    assert run_check(capsys, index)[0] == 0
    assert run_cli_json(capsys, "search", "sky", "--index", index, "-k", "50")["count"] == 24


def test_check_never_drops_rows_when_the_catalog_and_vector_index_disagree_on_the_dim(capsys, index):
    dim = set_dim(index, 0)
    set_dim(index, dim + 1)
    state = json.loads((index / "ann.json").read_text())
    (index / "ann.json").write_text(json.dumps({**state, "dim": dim + 1}))

    code, report = run_check(capsys, index, "--repair")
    assert code == 2 and "do not agree" in report["problems"][0] and report["repaired"] == []
    assert json.loads((index / "manifest.json").read_text())["dim"] == dim + 1
    set_dim(index, dim)
    assert run_cli_json(capsys, "info", "--index", index)["images"] == 24


@pytest.mark.parametrize("damage", [33, 0, "32", None])
def test_index_and_search_on_a_damaged_manifest_dim_are_one_clear_line(capsys, index, library, damage):
    set_dim(index, damage)
    for command in (["search", "sky"], ["index", library]):
        code, _, err = run_cli(capsys, *command, "--index", index)
        assert code == 2, err
        assert "unexpected" not in err and len(err.strip().splitlines()) == 1
        assert "manifest" in err and "viewfinder check --repair" in err
