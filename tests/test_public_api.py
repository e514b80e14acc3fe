"""The public Python API: the names in `viewfinder.__all__` exist, and index-then-search works through them."""

from __future__ import annotations

import subprocess
import sys

import pytest
from cli_helpers import cli_env, write_colour_images

import viewfinder


def test_every_public_name_resolves():
    for name in viewfinder.__all__:
        assert getattr(viewfinder, name) is not None, name
    with pytest.raises(AttributeError):
        viewfinder.not_a_public_name  # noqa: B018 - the attribute access is the test


def test_index_folders_then_search_through_the_public_api(tmp_path):
    photos = tmp_path / "photos"
    paths = write_colour_images(photos, 12)
    report = viewfinder.index_folders([str(photos)], str(tmp_path / "index"), model="test:tiny")
    assert (report.added, report.total) == (12, 12)
    with viewfinder.open_index(str(tmp_path / "index")) as index:
        result = index.search([viewfinder.Term(image_path=str(paths[3]))], k=5)
        filtered = index.search([viewfinder.Term(text="a photo")], k=50, filters=viewfinder.Filters(folder="nested"))
    assert result.hits[0].image.path == str(paths[3])  # an indexed image is its own nearest neighbour
    assert [hit.rank for hit in result.hits] == [1, 2, 3, 4, 5]
    assert filtered.hits and all(hit.image.folder == "nested" for hit in filtered.hits)
    with pytest.raises(viewfinder.ViewfinderError):
        viewfinder.open_index(str(tmp_path / "no-such-index")).search([viewfinder.Term(text="x")])


def test_importing_the_package_loads_no_model_library():
    heavy = ["torch", "open_clip", "onnxruntime", "faiss", "numpy", "PIL"]
    code = f"import sys, viewfinder; print(sorted(set({heavy}) & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=cli_env(), check=True)
    assert out.stdout.strip() == "[]"


def test_an_index_updates_checks_and_removes_its_sources_through_the_public_api(tmp_path):
    kept, dropped = tmp_path / "kept", tmp_path / "dropped"
    write_colour_images(kept, 6, seed=1)
    dropped.mkdir()
    viewfinder.index_folders([str(kept), str(dropped)], str(tmp_path / "index"), model="test:tiny")
    write_colour_images(dropped, 4, seed=2)
    with viewfinder.open_index(str(tmp_path / "index")) as index:
        assert index.update().added == 4  # its own sources, with its own model
        assert index.check().healthy
        assert index.remove([str(dropped)]).removed == {str(dropped): 4}
    with viewfinder.open_index(str(tmp_path / "index")) as index:
        info = index.info()
    assert info.images == 6 and [source.source for source in info.sources] == [str(kept)]
