"""Sources: walking folders (image files found, hidden folders skipped, loops, dangling links and links out of
the library reported), giving originals only while they are the files indexed, the registry that picks a
source by its location's form, and knowing once per query whether a source is there."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from viewfinder.errors import ViewfinderError
from viewfinder.sources import (
    KINDS,
    FolderSource,
    LocalFile,
    OriginalChangedError,
    Presence,
    S3Source,
    Source,
    SourceFile,
    Unusable,
    is_object_store_url,
    is_remote,
    open_source,
    source_for,
)
from viewfinder.sources.local import OUT_OF_SOURCE


def test_scan_finds_images_recursively_and_reports_links_it_cannot_follow(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / ".hidden").mkdir()
    for name in ("one.JPG", "a/two.png", "a/b/three.heic", "a/b/five.avif", ".hidden/four.jpg", "a/readme.txt"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "a" / "up").symlink_to(tmp_path)
    (tmp_path / "gone.jpg").symlink_to(tmp_path / "nothing.jpg")
    (tmp_path / "self.jpg").symlink_to(tmp_path / "self.jpg")

    items = list(FolderSource(tmp_path).scan())
    files = sorted(item.path.removeprefix(str(tmp_path) + "/") for item in items if isinstance(item, SourceFile))
    problems = {
        item.path.removeprefix(str(tmp_path) + "/"): item.reason for item in items if isinstance(item, Unusable)
    }
    assert files == ["a/b/five.avif", "a/b/three.heic", "a/two.png", "one.JPG"]
    assert problems == {
        "a/up": "symbolic link loop (folder already visited)",
        "gone.jpg": "dangling symbolic link",
        "self.jpg": "symbolic link loop",
    }


def test_scan_leaves_out_the_index_folder_when_the_library_is_reached_through_a_link(tmp_path):
    library = tmp_path / "library"
    (library / "index" / "thumbnails").mkdir(parents=True)
    (library / "photo.jpg").write_bytes(b"x")
    (library / "index" / "thumbnails" / "1-a-b.jpg").write_bytes(b"x")
    (tmp_path / "link").symlink_to(library)

    items = list(FolderSource(tmp_path / "link").scan(exclude=str((library / "index").resolve())))
    assert [item.path for item in items] == [str(tmp_path / "link" / "photo.jpg")]


def indexed(path: Path, root: Path) -> SimpleNamespace:
    """What the catalog records of a file a scan listed (the fields an original is checked against)."""
    facts = path.stat()
    return SimpleNamespace(path=str(path), root=str(root), size=facts.st_size, mtime_ns=facts.st_mtime_ns, inode=None)


def library_with_links_out(tmp_path: Path) -> tuple[Path, Path]:
    """A library holding a linked photo inside it, a link to a photo outside it and a link to a folder outside."""
    library, elsewhere = tmp_path / "library", tmp_path / "elsewhere"
    (library / "albums").mkdir(parents=True)
    (elsewhere / "trip").mkdir(parents=True)
    (library / "albums" / "home.jpg").write_bytes(b"home")
    (elsewhere / "private.jpg").write_bytes(b"private")
    (elsewhere / "trip" / "beach.jpg").write_bytes(b"beach")
    (library / "linked-home.jpg").symlink_to(library / "albums" / "home.jpg")
    (library / "linked-album").symlink_to(library / "albums")
    (library / "private.jpg").symlink_to(elsewhere / "private.jpg")
    (library / "trip").symlink_to(elsewhere / "trip")
    (library / "notes.txt").symlink_to(elsewhere / "private.jpg")  # not an image name: not reported
    return library, elsewhere


def test_a_file_link_and_a_folder_link_out_of_the_library_are_both_reported_and_neither_indexed(tmp_path):
    library, _ = library_with_links_out(tmp_path)
    items = list(FolderSource(library).scan())
    files = sorted(item.path.removeprefix(f"{library}/") for item in items if isinstance(item, SourceFile))
    problems = {item.path.removeprefix(f"{library}/"): item.reason for item in items if isinstance(item, Unusable)}
    assert files == ["albums/home.jpg", "linked-album/home.jpg", "linked-home.jpg"]
    assert problems == {"private.jpg": OUT_OF_SOURCE, "trip": OUT_OF_SOURCE}


def test_an_original_is_given_only_while_its_real_path_stays_in_the_library_whichever_component_is_the_link(
    tmp_path,
):
    library, elsewhere = library_with_links_out(tmp_path)
    source = FolderSource(library)
    for inside in ("albums/home.jpg", "linked-home.jpg", "linked-album/home.jpg"):
        given = source.original(indexed(library / inside, library), ttl_seconds=60)
        with given.handle:
            assert isinstance(given, LocalFile) and given.handle.read() == b"home"
    # Rows as they would be had the links been indexed (an older index), or a folder swapped for a link since.
    for outside in ("private.jpg", "trip/beach.jpg"):
        with pytest.raises(OriginalChangedError, match="a symbolic link out of its folder"):
            source.original(indexed(library / outside, library), ttl_seconds=60)
    (library / "albums-moved").mkdir()
    entry = indexed(library / "albums" / "home.jpg", library)
    shutil.move(library / "albums" / "home.jpg", library / "albums-moved" / "home.jpg")
    (library / "albums").rmdir()
    (library / "albums").symlink_to(elsewhere)
    with pytest.raises(OriginalChangedError, match="out of its folder"):
        source.open_indexed(entry)


def test_an_original_that_changed_or_is_not_a_regular_file_is_not_given(tmp_path):
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"first")
    entry = indexed(photo, tmp_path)
    photo.write_bytes(b"second, longer")
    with pytest.raises(OriginalChangedError, match="changed since it was indexed"):
        FolderSource(tmp_path).original(entry, 60)
    photo.unlink()
    os.mkfifo(photo)
    with pytest.raises(OriginalChangedError, match="not a regular file"):
        FolderSource(tmp_path).open_indexed(entry)
    photo.unlink()
    with pytest.raises(OriginalChangedError, match="no longer there"):
        FolderSource(tmp_path).open_indexed(entry)


def test_the_registry_picks_the_source_by_the_form_of_the_location_without_asking_it(tmp_path):
    assert isinstance(source_for("s3://photos-bucket/trips/"), S3Source)
    assert source_for("s3://photos-bucket/trips/").root == "s3://photos-bucket/trips"
    assert source_for("s3://photos-bucket").root == "s3://photos-bucket"
    assert isinstance(source_for(str(tmp_path / "nowhere")), FolderSource)  # made, not checked
    assert source_for("~/photos").root == os.path.expanduser("~/photos")
    assert is_remote("s3://photos-bucket/trips/a.jpg") and not is_remote(str(tmp_path))
    assert is_object_store_url("s3://bucket/indexes/main") and not is_object_store_url("indexes/main")
    with pytest.raises(ViewfinderError, match="does not exist or is not a folder"):
        open_source(str(tmp_path / "nowhere"))
    assert open_source(str(tmp_path)).root == str(tmp_path)


def test_a_source_says_what_lies_under_it_and_never_mistakes_a_url_for_a_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    here, bucket = FolderSource("."), source_for("s3://photos-bucket/trips")
    assert here.contains(str(tmp_path / "a" / "b.jpg")) and here.contains("a/b.jpg")
    assert not here.contains(str(tmp_path)) and not here.contains("s3://photos-bucket/trips/a.jpg")
    assert bucket.contains("s3://photos-bucket/trips/2024/a.jpg")
    assert not bucket.contains("s3://photos-bucket/trips-old/a.jpg") and not bucket.contains(str(tmp_path / "x"))


def test_a_folder_source_is_available_while_its_folder_exists_and_says_which_files_are_gone(tmp_path):
    folder = tmp_path / "disk"
    folder.mkdir()
    (folder / "kept.jpg").write_bytes(b"x")
    source = FolderSource(folder)
    keys = [str(folder / "kept.jpg"), str(folder / "deleted.jpg")]
    assert source.available() and source.still_there(keys[0]) and not source.still_there(keys[1])
    assert source.gone(keys) == {keys[1]}
    shutil.rmtree(folder)  # the disk unplugged
    assert not source.available()


def test_presence_asks_each_source_once_per_query_and_answers_for_an_absent_one_without_a_stat(tmp_path, monkeypatch):
    present, unplugged = tmp_path / "present", tmp_path / "unplugged"
    present.mkdir()
    (present / "a.jpg").write_bytes(b"x")
    asked: list[str] = []
    stats: list[str] = []
    real_available, real_still_there = FolderSource.available, FolderSource.still_there
    monkeypatch.setattr(FolderSource, "available", lambda self: asked.append(self.root) or real_available(self))
    monkeypatch.setattr(FolderSource, "still_there", lambda self, key: stats.append(key) or real_still_there(self, key))

    presence = Presence()
    rows = [(str(unplugged / f"{n}.jpg"), str(unplugged)) for n in range(50)] + [(str(present / "a.jpg"), str(present))]
    assert [presence.still_there(path, root) for path, root in rows] == [False] * 50 + [True]
    assert sorted(asked) == [str(present), str(unplugged)] and stats == [str(present / "a.jpg")]
    assert presence.absent([str(present), str(unplugged)]) == [str(unplugged)]
    assert len(asked) == 2
    unplugged.mkdir()  # plugged back in: the next query's Presence sees it
    assert Presence().available(str(unplugged)) and not presence.available(str(unplugged))


def test_an_object_store_is_taken_as_there_without_a_request(monkeypatch):
    from viewfinder.sources import s3

    monkeypatch.setattr(s3, "client", lambda *a, **k: pytest.fail("asked the store"))
    presence = Presence()
    assert presence.still_there("s3://photos-bucket/trips/a.jpg", "s3://photos-bucket/trips")
    assert presence.absent(["s3://photos-bucket/trips"]) == []


def test_every_source_kind_implements_the_whole_interface():
    for kind in KINDS:
        assert issubclass(kind, Source) and not getattr(kind, "__abstractmethods__", None), kind
