"""The words in photos: `index --ocr` reads them once, keeps them by content, and a quoted phrase finds them
(CLI, HTTP and Python alike); a phrase in no photo finds nothing.

The library is textured pictures (the synthetic scenes' backgrounds) with phrases drawn in the system's fonts
at several sizes, colours and slight angles (worlds/wordworld.py), and pictures without words.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import run_cli, run_cli_json
from starlette.testclient import TestClient

import viewfinder
from viewfinder.images.ocr import WordReader
from viewfinder.pipeline.ray_engine import WordsActor
from viewfinder.pipeline.words import read_all_words, read_here
from viewfinder.search.typed import read_line
from viewfinder.search.typed_words import read_phrases
from viewfinder.serve.app import create_app
from viewfinder.sources import open_source
from viewfinder.store import migrations, words
from viewfinder.store.catalog import Catalog
from viewfinder.store.filters import Filters
from wordworld import write_library

PHRASES = ("TOTAL 42.50 EUR", "Rua Augusta", "Quarterly Results", "Gate B12")


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, Path]]:
    root = tmp_path_factory.mktemp("ocr")
    photos, index = root / "photos", root / "index"
    drawn = write_library(photos, PHRASES, plain=3)
    viewfinder.index_folders([str(photos)], str(index), model="test:tiny", ocr=True)
    return photos, index, drawn


def test_a_quoted_phrase_is_taken_out_of_the_line() -> None:
    assert read_phrases('receipt "42.50"') == ("receipt", ("42.50",))
    assert read_phrases('“Rua  Augusta” street sign "" «EXIT»') == ("street sign", ("Rua Augusta", "EXIT"))
    assert read_phrases('12" vinyl') == ('12" vinyl', ())  # a quote left open is a character
    line = read_line('"Gate B12"')
    assert [term.text for term in line.terms] == ["Gate B12"]  # a phrase alone is also what to look for
    assert line.filters() == Filters(words=("gatebl2",))  # 1 and l are one: OCR confuses them
    assert read_line('sign "EXIT" in July 2023', today=None).filters().words == ("exlt",)


def test_the_catalog_keeps_words_by_content_and_finds_them_ignoring_spacing_and_case(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path / "catalog.sqlite")
    assert migrations.schema_version(catalog.db) == migrations.SCHEMA_VERSION
    with catalog.db:
        for number, digest in enumerate(("a", "b")):
            catalog.db.execute(
                "INSERT INTO images (path, root, size, mtime_ns, width, height, format, indexed_at, content_hash)"
                " VALUES (?, '/p', 1, 1, 1, 1, 'JPEG', 0, ?)",
                (f"/p/{number}.jpg", digest),
            )
    assert [digest for _, digest in words.unread(catalog.db, ["/p"])] == ["a", "b"]
    words.store(catalog.db, [words.ReadWords("a", "T0TAL42.50EUR"), words.ReadWords("b", "", "not an image file")])
    assert words.unread(catalog.db, ["/p"]) == []

    def found(phrase: str) -> list[int]:
        return catalog.ids_matching(Filters(words=(phrase,))).tolist()

    assert found("total 42.50") == found("42.5") == found("50") == [1]  # trigram index and short phrases alike
    assert found("43.50") == [] and found("eu r") == [1]
    assert words.words_of(catalog.db, [1, 2]) == {1: "T0TAL42.50EUR"}  # as read
    with catalog.db:
        catalog.db.execute("DELETE FROM images WHERE id = 1")
    assert words.forget_unused(catalog.db) == 1
    assert found("42.50") == []
    assert catalog.db.execute("SELECT COUNT(*) FROM words_index WHERE words_index MATCH '\"total\"'").fetchone()[0] == 0
    catalog.close()


def test_a_catalog_of_the_previous_version_is_upgraded_with_the_words_tables(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "catalog.sqlite")
    earlier = migrations.MIGRATIONS[2] + migrations.MIGRATIONS[3]
    db.executescript(migrations.BASE_SCHEMA + earlier + "PRAGMA user_version = 3;")
    db.close()
    catalog = Catalog(tmp_path / "catalog.sqlite")
    assert migrations.schema_version(catalog.db) == migrations.SCHEMA_VERSION == 4
    assert catalog.ids_matching(Filters(words=("anything",))).tolist() == []
    catalog.close()


@pytest.mark.slow  # OCR of a few pictures
def test_the_reader_reads_drawn_phrases_and_nothing_on_plain_pictures(tmp_path: Path) -> None:
    drawn = write_library(tmp_path, PHRASES, plain=2)
    reader = WordReader()
    for phrase, path in drawn.items():
        assert words.squash(phrase) in words.squash(reader.read(path)), phrase
    assert [reader.read(path) for path in sorted(tmp_path.glob("plain-*.jpg"))] == ["", ""]


@pytest.mark.slow
def test_a_quoted_phrase_finds_its_photo_the_same_through_every_front(capsys, library) -> None:
    _, index, drawn = library
    client = TestClient(create_app(index, device="cpu"), base_url="http://127.0.0.1")
    with client, viewfinder.open_index(str(index)) as opened:
        for line, expected in [
            ('"total 42.50"', drawn["TOTAL 42.50 EUR"]),
            ('a sign "RUA AUGUSTA"', drawn["Rua Augusta"]),
            ('"gate b12"', drawn["Gate B12"]),
        ]:
            cli = run_cli_json(capsys, "search", line, "--index", index)
            http = client.post("/search", json={"query": line}).json()
            python = opened.search(line)
            assert [hit["path"] for hit in cli["results"]] == [str(expected)], line
            assert [hit["image_id"] for hit in http["results"]] == [str(hit.image.id) for hit in python.hits]
            assert [hit["image_id"] for hit in cli["results"]] == [str(hit.image.id) for hit in python.hits]
            assert words.squash(line.split('"')[1]) in words.squash(cli["results"][0]["words"])
            assert http["results"][0]["words"] == python.hits[0].words == cli["results"][0]["words"]
            meta = client.get(f"/images/{python.hits[0].image.id}/meta").json()
            assert meta["words"] == python.hits[0].words  # the large view shows a photo's words
        # A phrase in no photo shows nothing, not the closest pictures.
        cli = run_cli_json(capsys, "search", '"Platform 9"', "--index", index)
        http = client.post("/search", json={"query": '"Platform 9"'}).json()
        assert cli["results"] == cli["closest"] == http["results"] == http["closest"] == []
        assert opened.search('"Platform 9"').shown == []
    code, out, _ = run_cli(capsys, "search", '"Quarterly Results"', "--index", index)
    assert code == 0 and f"words: {python_words(index, drawn['Quarterly Results'])}" in out


def python_words(index: Path, path: Path) -> str:
    with viewfinder.open_index(str(index)) as opened:
        hit = opened.search('"quarterly results"').hits[0]
    assert hit.image.path == str(path)
    return str(hit.words)


@pytest.mark.slow
def test_later_runs_keep_reading_words_and_a_moved_photo_keeps_its_own(capsys, library, tmp_path: Path) -> None:
    photos, index, drawn = library
    manifest = json.loads((index / "manifest.json").read_text())
    assert manifest["ocr"] is True
    copy = tmp_path / "index"
    shutil.copytree(index, copy)
    # A new photo with words, indexed by a plain `index`: the recorded choice reads its words.
    added = write_library(photos / "new", ("Harbour View",), plain=0, seed=11)["Harbour View"]
    # A photo moved to another folder: found by its content, so its words are not read again.
    moved = photos / "moved" / "words-0.jpg"
    moved.parent.mkdir()
    shutil.move(drawn["TOTAL 42.50 EUR"], moved)
    try:
        report = run_cli_json(capsys, "index", photos, "--index", copy)
        assert report["words_read"] == 1 and report["reused"] == 1, report
        assert run_cli_json(capsys, "index", photos, "--index", copy)["words_read"] == 0  # incremental
        with viewfinder.open_index(str(copy)) as opened:
            assert [hit.image.path for hit in opened.search('"harbour view"').hits] == [str(added)]
            assert [hit.image.path for hit in opened.search('"42.50"').hits] == [str(moved)]
    finally:
        shutil.move(moved, drawn["TOTAL 42.50 EUR"])
        shutil.rmtree(photos / "new")
        moved.parent.rmdir()


@pytest.mark.slow
def test_a_photo_ocr_cannot_decode_is_skipped_with_its_reason(library, tmp_path: Path) -> None:
    photos, _, _ = library
    copy_photos, copy_index = tmp_path / "photos", tmp_path / "index"
    shutil.copytree(photos, copy_photos)
    viewfinder.index_folders([str(copy_photos)], str(copy_index), model="test:tiny")  # no words read
    broken = copy_photos / "plain-0.jpg"
    broken.write_bytes(b"not a picture at all")  # replaced between the embedding pass and the OCR pass
    catalog = Catalog(copy_index / "catalog.sqlite")
    [root] = catalog.roots()
    try:
        sources = {root: open_source(root)}
        report = read_all_words(catalog, sources, read_here(sources), None)
        assert report.skipped == [{"path": str(broken), "reason": "not an image file"}]
        assert report.read == len(PHRASES) + 2
        # Recorded with its reason: not tried again until its content changes.
        assert words.unread(catalog.db, [root]) == []
        reasons = catalog.db.execute("SELECT reason FROM words WHERE reason IS NOT NULL").fetchall()
        assert reasons == [("not an image file",)]
    finally:
        catalog.close()


def words_by_content(index: Path) -> dict[str, tuple[str, str | None]]:
    db = sqlite3.connect(index / "catalog.sqlite")
    try:
        return {row[0]: (row[1], row[2]) for row in db.execute("SELECT content_hash, text, reason FROM words")}
    finally:
        db.close()


@pytest.mark.slow
def test_the_ray_engine_reads_the_same_words_on_the_cluster(library, tmp_path: Path, ray_cluster) -> None:
    photos, local_index, drawn = library
    copy_photos = tmp_path / "photos"
    shutil.copytree(photos, copy_photos)
    ray_index = tmp_path / "ray-index"
    viewfinder.index_folders([str(copy_photos)], str(ray_index), model="test:tiny", engine="ray", ocr=True)
    assert words_by_content(ray_index) == words_by_content(local_index)
    with viewfinder.open_index(str(ray_index)) as opened:
        [hit] = opened.search('"rua augusta"').hits
        assert hit.image.file_name == drawn["Rua Augusta"].name


@pytest.mark.slow
def test_a_words_actor_reports_a_photo_it_cannot_decode_and_one_gone_since_in_its_columns(library) -> None:
    photos, _, drawn = library
    broken = photos.parent / "broken"
    broken.mkdir(exist_ok=True)
    (broken / "not-a-photo.jpg").write_bytes(b"not a picture at all")
    shutil.copy(drawn["Gate B12"], broken / "gate.jpg")
    actor = WordsActor([str(broken)])
    rows = [broken / "gate.jpg", broken / "not-a-photo.jpg", broken / "gone.jpg"]
    batch = {
        "row": np.arange(3),
        "path": np.array([str(path) for path in rows], dtype=object),
        "root": np.array([str(broken)] * 3, dtype=object),
        "size": np.array([path.stat().st_size if path.exists() else 0 for path in rows]),
        "mtime_ns": np.array([path.stat().st_mtime_ns if path.exists() else 0 for path in rows]),
    }
    columns = actor(batch)
    assert words.squash("Gate B12") in words.squash(columns["words"][0]) and columns["error"][0] == ""
    assert (columns["error"][1], bool(columns["retry"][1])) == ("not an image file", False)  # kept with the content
    assert columns["error"][2] != "" and bool(columns["retry"][2])  # gone: read next run if it is back


@pytest.mark.slow
def test_a_quoted_phrase_finds_its_photo_in_an_index_kept_in_milvus(capsys, library, tmp_path: Path) -> None:
    photos, _, drawn = library
    index = tmp_path / "index"
    run_cli_json(capsys, "index", photos, "--index", index, "--model", "test:tiny", "--store", "milvus", "--ocr")
    answer = run_cli_json(capsys, "search", 'receipt "TOTAL 42.50"', "--index", index)
    assert [hit["path"] for hit in answer["results"]] == [str(drawn["TOTAL 42.50 EUR"])]
    assert run_cli_json(capsys, "search", '"Platform 9"', "--index", index)["results"] == []
