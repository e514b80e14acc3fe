"""Resolving duplicates: the copy suggested to keep, moving the others to a review folder with a journal, undo
(also after a partial failure), the CLI's --move-to and --undo, and the HTTP endpoints."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import httpx
import numpy as np
import pytest
from cli_helpers import run_cli, run_cli_json
from PIL import Image
from s3_helpers import upload_folder
from service_helpers import start_server_thread

from viewfinder.app import Index
from viewfinder.app.library import move_to_review, undo_move_to_review
from viewfinder.errors import ViewfinderError
from viewfinder.pipeline.indexer import run_index
from viewfinder.pipeline.review import JOURNALS, latest_journal
from viewfinder.search.duplicates import suggest_keep
from viewfinder.store.catalog_rows import ImageRecord


def record(image_id: int, path: Path, width: int, height: int, size: int, mtime_ns: int = 0) -> ImageRecord:
    return ImageRecord(image_id, str(path), str(path.parent), size, mtime_ns, width, height, "JPEG", None, 0.0)


def write_photo(path: Path, colour: tuple[int, int, int], size: tuple[int, int] = (60, 40), exif: int = 0) -> Path:
    """A flat picture; `exif` EXIF fields (camera make, model, software...) written into it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = Image.Exif()
    for tag in (0x010F, 0x0110, 0x0131, 0x013B, 0x8298)[:exif]:
        data[tag] = "camera"
    Image.new("RGB", size, colour).save(path, exif=data) if exif else Image.new("RGB", size, colour).save(path)
    return path


def test_the_suggested_copy_has_the_most_pixels_then_camera_data_then_bytes_then_age(tmp_path):
    small = record(1, tmp_path / "small.jpg", 60, 40, 9_000)
    large = record(2, tmp_path / "large.jpg", 120, 80, 5_000)
    assert suggest_keep([small, large]).id == 2  # pixels first, even when the file is smaller

    plain = write_photo(tmp_path / "plain.jpg", (200, 0, 0))
    camera = write_photo(tmp_path / "camera.jpg", (200, 0, 0), exif=4)
    tied = [record(3, plain, 60, 40, 9_999), record(4, camera, 60, 40, 100)]
    assert suggest_keep(tied).id == 4  # equal pixels: the copy that kept its camera data

    bigger, older = record(5, tmp_path / "x.png", 60, 40, 700, 5), record(6, tmp_path / "y.png", 60, 40, 600, 1)
    assert suggest_keep([older, bigger]).id == 5  # no EXIF anywhere: the largest file
    first, second = record(7, tmp_path / "b.png", 60, 40, 600, 9), record(8, tmp_path / "a.png", 60, 40, 600, 1)
    assert suggest_keep([first, second]).id == 8  # then the oldest
    same = [record(9, tmp_path / "d.png", 60, 40, 600, 1), record(10, tmp_path / "c.png", 60, 40, 600, 1)]
    assert suggest_keep(same).id == 10 and suggest_keep(same[::-1]).id == 10  # then the first path, in any order


@pytest.fixture
def library(tmp_path: Path) -> tuple[Path, Path]:
    """A folder with a picture, two byte-identical copies of it (one in a sub-folder) and a distinct picture,
    indexed with test:tiny; returns (photos, index)."""
    photos = tmp_path / "photos"
    original = write_photo(photos / "red.png", (200, 30, 30), (120, 80))
    shutil.copy(original, photos / "red-copy.png")
    (photos / "trip").mkdir()
    shutil.copy(original, photos / "trip" / "red.png")
    write_photo(photos / "blue.png", (30, 30, 200))
    run_index(tmp_path / "index", [str(photos)], model="test:tiny", device="cpu")
    return photos, tmp_path / "index"


def indexed(index: Path) -> dict[str, int]:
    with Index(index, device="cpu") as opened:
        return {Path(row[0]).relative_to(index.parent / "photos").as_posix(): row[1] for row in _rows(opened)}


def _rows(opened: Index) -> list[tuple[str, int]]:
    return opened.catalog.db.execute("SELECT path, id FROM images").fetchall()


def vectors_by_path(index: Path) -> dict[str, np.ndarray]:
    with Index(index, device="cpu") as opened:
        return {path: opened.catalog.vector_of(i, opened.manifest.dim) for path, i in _rows(opened)}


def test_moved_copies_leave_the_index_and_undo_brings_them_back_with_their_vectors(library, tmp_path):
    photos, index = library
    before = vectors_by_path(index)
    ids = indexed(index)
    review = tmp_path / "review"
    stale = Index(index, device="cpu")  # a generation opened before: its vector store still holds the copies
    report = move_to_review(index, [ids["red-copy.png"], ids["trip/red.png"]], review)
    with stale:
        assert all(len(group.images) >= 2 for group in stale.duplicates())  # no group of one left behind

    assert sorted(Path(item.moved_to).relative_to(review).as_posix() for item in report.moved) == [
        "photos/red-copy.png",
        "photos/trip/red.png",
    ]
    assert report.skipped == [] and report.freed_bytes == 2 * (photos / "red.png").stat().st_size
    assert not (photos / "red-copy.png").exists() and (review / "photos" / "trip" / "red.png").exists()
    assert sorted(indexed(index)) == ["blue.png", "red.png"]
    with Index(index, device="cpu") as opened:
        assert opened.vectors.count == 2 and opened.duplicates(exact=True) == []
    journal = json.loads(Path(report.journal or "").read_text())
    moved = {str(photos / "red-copy.png"), str(photos / "trip" / "red.png")}
    assert {entry["path"] for entry in journal["entries"]} == moved

    undone = undo_move_to_review(index)
    assert len(undone.restored) == 2 and undone.skipped == []
    assert (photos / "red-copy.png").exists() and not (review / "photos" / "red-copy.png").exists()
    assert sorted(indexed(index)) == ["blue.png", "red-copy.png", "red.png", "trip/red.png"]
    after = vectors_by_path(index)
    assert all(np.array_equal(after[path], vector) for path, vector in before.items())  # the stored vectors
    with Index(index, device="cpu") as opened:
        assert opened.vectors.count == 4 and len(opened.duplicates(exact=True)[0].images) == 3
    assert latest_journal(index) is None
    with pytest.raises(ViewfinderError, match="nothing to undo"):
        undo_move_to_review(index)


def test_changed_files_are_skipped_and_undo_after_a_partial_failure_restores_the_rest(library, tmp_path):
    photos, index = library
    ids = indexed(index)
    write_photo(photos / "trip" / "red.png", (10, 200, 10), (120, 80))  # edited since it was indexed
    review = tmp_path / "review"
    (review / "photos").mkdir(parents=True)
    shutil.copy(photos / "blue.png", review / "photos" / "blue.png")  # a file of that name waits there
    report = move_to_review(index, [ids["red-copy.png"], ids["trip/red.png"], ids["blue.png"], 999], review)

    assert [Path(item.path).name for item in report.moved] == ["red-copy.png"]
    reasons = {Path(path).name: reason for path, reason in report.skipped}
    assert reasons["red.png"].startswith("changed since it was indexed")
    assert reasons["blue.png"] == "a file of that name is in the review folder already"
    assert reasons["999"] == "no longer indexed"
    assert (photos / "blue.png").exists() and (photos / "trip" / "red.png").exists()  # nothing overwritten

    second = move_to_review(index, [ids["red.png"]], review)  # a later resolve: its own journal
    (review / "photos" / "red.png").unlink()  # someone deleted it from the review folder
    undone = undo_move_to_review(index)
    assert undone.restored == [] and undone.skipped == [(str(photos / "red.png"), "no longer in the review folder")]
    assert Path(undone.journal or "") == Path(second.journal or "")
    undone = undo_move_to_review(index)  # the earlier resolve is next
    assert [Path(item.path).name for item in undone.restored] == ["red-copy.png"]
    assert sorted(indexed(index)) == ["blue.png", "red-copy.png", "trip/red.png"]
    assert sorted(p.name.endswith(".undone.json") for p in (index / JOURNALS).iterdir()) == [True, True]


def test_a_review_folder_inside_a_source_is_refused(library):
    photos, index = library
    ids = indexed(index)
    with pytest.raises(ViewfinderError, match="inside the source"):
        move_to_review(index, [ids["red-copy.png"]], photos / "review")
    assert (photos / "red-copy.png").exists() and not (photos / "review").exists()


@pytest.mark.slow  # starts an S3 server
def test_photos_in_an_object_store_are_refused_with_a_clear_error(seaweed, library, tmp_path, capsys, monkeypatch):
    """By `duplicates --move-to` over an index of a bucket, and by a server of a published snapshot."""
    photos, _ = library
    seaweed.client().create_bucket(Bucket="duplicates")
    upload_folder(seaweed.client(), "duplicates", photos, "photos")
    index = tmp_path / "s3-index"
    run_index(index, ["s3://duplicates/photos"], model="test:tiny", device="cpu")
    code, _, err = run_cli(capsys, "duplicates", "--exact", "--index", index, "--move-to", tmp_path / "review")
    assert code == 2 and "is in an object store: only photos in local folders can be moved" in err
    assert len(seaweed.client().list_objects_v2(Bucket="duplicates")["Contents"]) == 4

    from viewfinder.app.library import publish
    from viewfinder.serve.app import create_app

    monkeypatch.setenv("VIEWFINDER_SNAPSHOT_CACHE", str(tmp_path / "snapshots"))
    publish(index, "s3://duplicates/indexes/photos")
    with start_server_thread(create_app("s3://duplicates/indexes/photos", device="cpu")) as url:
        listed = httpx.get(f"{url}duplicates", params={"kind": "exact"}, timeout=60).json()
        assert listed["count"] == 1 and listed["resolvable"] is False
        refused = httpx.post(f"{url}duplicates/resolve-all", json={"kind": "exact"}, timeout=60)
        assert refused.status_code == 400 and "published snapshot" in refused.json()["error"]


def test_duplicates_command_resolves_every_group_with_its_suggestion_and_undoes_it(capsys, library, tmp_path):
    _, index = library
    listed = run_cli_json(capsys, "duplicates", "--kind", "exact", "--index", index)
    group = listed["groups"][0]
    assert listed["kind"] == "exact" and listed["threshold"] is None and listed["count"] == 1
    keep = next(image for image in group["images"] if image["image_id"] == group["suggested_keep"])
    assert Path(keep["path"]).name == "red.png" and keep["width"] == 120 and keep["size_bytes"] > 0
    assert listed["recoverable_bytes"] == group["recoverable_bytes"] == 2 * keep["size_bytes"]

    review = tmp_path / "review"
    dry = run_cli_json(capsys, "duplicates", "--exact", "--index", index, "--move-to", review, "--dry-run")
    assert dry["dry_run"] is True and len(dry["moved"]) == 2 and not review.exists()
    code, out, err = run_cli(capsys, "duplicates", "--exact", "--index", index, "--move-to", review)
    assert code == 0 and out.count("moved  ") == 2 and "2 files moved" in err and "--undo" in err
    assert sorted(p.relative_to(review).as_posix() for p in review.rglob("*.png")) == [
        "photos/red-copy.png",
        "photos/trip/red.png",
    ]
    assert run_cli_json(capsys, "duplicates", "--exact", "--index", index)["count"] == 0

    restored = run_cli_json(capsys, "duplicates", "--undo", "--index", index)
    assert len(restored["restored"]) == 2 and restored["skipped"] == []
    assert run_cli_json(capsys, "duplicates", "--exact", "--index", index)["count"] == 1
    code, _, err = run_cli(capsys, "duplicates", "--undo", "--index", index)
    assert code == 2 and "nothing to undo" in err
    code, _, err = run_cli(capsys, "duplicates", "--kind", "near", "--threshold", "0.9", "--index", index)
    assert code == 2 and "not --kind and --threshold" in err


def test_duplicates_endpoints_resolve_a_group_and_undo_it(library, tmp_path):
    from viewfinder.serve.app import create_app

    photos, index = library
    review = tmp_path / "review"
    app = create_app(index, device="cpu", review_folder=review)
    with start_server_thread(app) as url, httpx.Client(base_url=url, timeout=60) as client:
        listed = client.get("/duplicates", params={"kind": "exact"}).json()
        assert listed["resolvable"] is True and listed["kind"] == "exact" and listed["count"] == 1
        group = listed["groups"][0]
        members = [image["image_id"] for image in group["images"]]
        assert group["suggested_keep"] in members and group["recoverable_bytes"] == listed["recoverable_bytes"] > 0

        body = {"keep": group["suggested_keep"], "images": members}
        assert client.post("/duplicates/resolve", content=json.dumps(body)).status_code == 415
        wrong = client.post("/duplicates/resolve", json={"keep": "123456", "images": members})
        assert wrong.status_code == 400 and "keep" in wrong.json()["error"]
        assert client.post("/duplicates/resolve", json={"keep": "x", "images": ["1"]}).status_code == 422

        moved = client.post("/duplicates/resolve", json=body).json()
        assert moved["success"] is True and len(moved["moved"]) == 2
        assert moved["freed_bytes"] == group["recoverable_bytes"]
        assert {item["folder"] for item in moved["moved"]} == {"", "trip"} and "path" not in moved["moved"][0]
        assert sorted(p.name for p in review.rglob("*.png")) == ["red-copy.png", "red.png"]
        assert client.get("/duplicates", params={"kind": "exact"}).json()["count"] == 0
        assert client.get("/healthz").json()["images"] == 2  # the served index follows at once

        undone = client.post("/duplicates/undo").json()
        assert len(undone["restored"]) == 2 and client.get("/healthz").json()["images"] == 4
        assert client.get("/duplicates", params={"kind": "exact"}).json()["count"] == 1
        again = client.post("/duplicates/undo")
        assert again.status_code == 400 and "nothing to undo" in again.json()["error"]

        everything = client.post("/duplicates/resolve-all", json={"kind": "exact"}).json()
        assert len(everything["moved"]) == 2 and everything["skipped"] == []
        assert os.path.exists(photos / "red.png")  # the suggested copy stays


def test_a_file_that_cannot_be_moved_either_way_is_skipped_with_the_reason_and_the_others_go(library, tmp_path):
    photos, index = library
    ids = indexed(index)
    review = tmp_path / "review"
    (review / "photos").mkdir(parents=True)
    (review / "photos" / "trip").write_text("a file where the folder would go")
    report = move_to_review(index, [ids["trip/red.png"], ids["red-copy.png"]], review)
    assert [Path(item.path).name for item in report.moved] == ["red-copy.png"]
    assert report.skipped[0][0] == str(photos / "trip" / "red.png")
    assert report.skipped[0][1].startswith("cannot be moved")
    assert (photos / "trip" / "red.png").exists()

    (review / "photos" / "trip").unlink()
    assert len(move_to_review(index, [ids["trip/red.png"]], review).moved) == 1
    shutil.rmtree(photos / "trip")
    (photos / "trip").write_text("a file where the folder was")  # the way back is blocked
    undone = undo_move_to_review(index)
    assert undone.restored == [] and undone.skipped[0][1].startswith("cannot be moved")
    assert (review / "photos" / "trip" / "red.png").exists()
    undone = undo_move_to_review(index)  # the first resolve still comes back
    assert [Path(item.path).name for item in undone.restored] == ["red-copy.png"]
    assert sorted(indexed(index)) == ["blue.png", "red-copy.png", "red.png"]


def test_resolving_needs_the_search_token_and_a_page_of_the_same_site(library, tmp_path):
    from viewfinder.serve.app import create_app

    _, index = library
    app = create_app(index, device="cpu", api_token="secret", review_folder=tmp_path / "review")
    with start_server_thread(app) as url, httpx.Client(base_url=url, timeout=60) as client:
        body = {"keep": "1", "images": ["1", "2"]}
        assert client.post("/duplicates/resolve", json=body).status_code == 401
        assert client.post("/duplicates/undo").status_code == 401
        other_site = {"Authorization": "Bearer secret", "Origin": "https://elsewhere.example"}
        assert client.post("/duplicates/resolve-all", json={}, headers=other_site).status_code == 403
        assert not (tmp_path / "review").exists()
        undo = client.post("/duplicates/undo", headers={"Authorization": "Bearer secret"})
        assert undo.status_code == 400 and "nothing to undo" in undo.json()["error"]
