"""Walking source folders: image files found, hidden folders skipped, loops and dangling links reported."""

from __future__ import annotations

from viewfinder.sources import FolderSource, SourceFile, Unusable


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
