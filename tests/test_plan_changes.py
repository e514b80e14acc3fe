"""The incremental diff between a scan of the sources and the catalog."""

from __future__ import annotations

from viewfinder.pipeline.changes import plan_changes
from viewfinder.pipeline.records import Reason, Skip
from viewfinder.sources import SourceFile, Unusable
from viewfinder.store.catalog_rows import FileState

ROOT = "/photos"


def found(name: str, size: int = 10, mtime: int = 1) -> SourceFile:
    return SourceFile(f"{ROOT}/{name}", ROOT, size, mtime)


def test_new_changed_unchanged_and_deleted_files_are_told_apart():
    indexed = {
        f"{ROOT}/same.jpg": FileState(10, 1, id=1),
        f"{ROOT}/edited.jpg": FileState(10, 1, id=2),
        f"{ROOT}/gone.jpg": FileState(10, 1, id=3),
        f"{ROOT}/touched.jpg": FileState(10, 1, id=4),
    }
    scan = [found("same.jpg"), found("edited.jpg", size=11), found("new.jpg"), found("touched.jpg", mtime=2)]
    plan = plan_changes(scan, indexed, {}, [ROOT])
    assert plan.unchanged == 1
    assert [(planned.file.path, planned.replaces) for planned in plan.to_embed] == [
        (f"{ROOT}/edited.jpg", 2),
        (f"{ROOT}/new.jpg", None),
        (f"{ROOT}/touched.jpg", 4),
    ]
    assert plan.removed_ids == [3]


def test_only_images_under_the_scanned_roots_can_be_removed():
    indexed = {"/other/a.jpg": FileState(1, 1, id=7), f"{ROOT}/b.jpg": FileState(1, 1, id=8)}
    plan = plan_changes([], indexed, {}, [ROOT])
    assert plan.removed_ids == [8]
    assert plan_changes([], {"/photos-old/c.jpg": FileState(1, 1, id=9)}, {}, [ROOT]).removed_ids == []


def test_unchanged_skipped_files_are_not_retried_but_changed_ones_are():
    skipped = {f"{ROOT}/bad.jpg": FileState(5, 1, reason="not an image file"), f"{ROOT}/fixed.jpg": FileState(5, 1)}
    plan = plan_changes([found("bad.jpg", size=5), found("fixed.jpg", size=6)], {}, skipped, [ROOT])
    assert [(skip.path, skip.reason) for skip in plan.still_skipped] == [(f"{ROOT}/bad.jpg", "not an image file")]
    assert [planned.file.path for planned in plan.to_embed] == [f"{ROOT}/fixed.jpg"]


def test_a_file_that_could_not_be_read_is_retried_though_it_did_not_change():
    gone = found("gone-for-a-moment.jpg", size=5)
    skip = Skip.of(gone, Reason("file not found", retry=True))
    assert (skip.size, skip.mtime_ns) == (None, None)  # recorded without the facts that would keep it skipped
    skipped = {gone.path: FileState(skip.size, skip.mtime_ns, reason=skip.reason)}
    plan = plan_changes([gone], {}, skipped, [ROOT])
    assert plan.still_skipped == [] and [planned.file for planned in plan.to_embed] == [gone]


def test_vanished_skipped_files_are_forgotten_and_unreadable_indexed_files_removed():
    indexed = {f"{ROOT}/now-dangling.jpg": FileState(1, 1, id=5)}
    skipped = {f"{ROOT}/deleted-bad.jpg": FileState(1, 1, reason="empty file")}
    unusable = Unusable(f"{ROOT}/now-dangling.jpg", ROOT, "dangling symbolic link")
    plan = plan_changes([unusable], indexed, skipped, [ROOT])
    assert plan.removed_ids == [5]
    assert plan.unusable == [Skip(unusable.path, ROOT, "dangling symbolic link")]
    assert plan.forget_skipped == [f"{ROOT}/deleted-bad.jpg"]


def test_a_file_found_under_two_overlapping_roots_is_embedded_once():
    plan = plan_changes([found("a.jpg"), SourceFile(f"{ROOT}/a.jpg", f"{ROOT}/", 10, 1)], {}, {}, [ROOT])
    assert len(plan.to_embed) == 1
