"""What changed between a scan of the sources and the catalog: files to embed, to check, to remove, and those
still skipped."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from viewfinder.pipeline.records import PlannedFile, Reason, Skip
from viewfinder.sources import SourceFile, Unusable, source_for
from viewfinder.store.catalog_rows import FileState


@dataclass
class ChangePlan:
    """The difference between what the sources hold and what the catalog has."""

    to_embed: list[PlannedFile] = field(default_factory=list)  # new, or changed in size or mtime
    to_check: list[PlannedFile] = field(default_factory=list)  # same size and mtime, new inode/ctime
    removed_ids: list[int] = field(default_factory=list)
    unchanged: int = 0
    still_skipped: list[Skip] = field(default_factory=list)  # unchanged files that failed before
    unusable: list[Skip] = field(default_factory=list)  # what the scan found unreadable
    forget_skipped: list[str] = field(default_factory=list)


def plan_changes(
    found: Iterable[SourceFile | Unusable],
    indexed: dict[str, FileState],
    skipped: dict[str, FileState],
    roots: Sequence[str],
) -> ChangePlan:
    """Compares a scan with the catalog: new and changed files to embed, vanished ones to remove.

    Only catalog paths under the scanned roots can be removed, so indexing another folder into the same
    index leaves the first one alone. A file skipped at the size and version stamp it still has stays skipped;
    one skipped without them (it could not be read) is tried again.
    """
    plan = ChangePlan()
    seen: set[str] = set()
    for item in found:
        if item.path in seen:  # overlapping roots find a file twice
            continue
        seen.add(item.path)
        if isinstance(item, Unusable):
            plan.unusable.append(Skip(item.path, item.root, item.reason))
            gone = indexed.get(item.path)
            if gone is not None and gone.id is not None:  # an indexed state always carries its row's id
                plan.removed_ids.append(gone.id)
            continue
        known = indexed.get(item.path)
        if known is not None and (known.size, known.mtime_ns) == (item.size, item.mtime_ns):
            if (known.inode, known.ctime_ns) == (item.inode, item.ctime_ns):
                plan.unchanged += 1
            else:  # replaced in place or just touched: the content hash decides
                plan.to_check.append(PlannedFile(item, known))
            continue
        failed = skipped.get(item.path)
        if known is None and failed is not None and (failed.size, failed.mtime_ns) == (item.size, item.mtime_ns):
            plan.still_skipped.append(Skip.of(item, Reason(failed.reason or "unreadable")))
            continue
        plan.to_embed.append(PlannedFile(item, known))
    prefixes = tuple(source_for(root).key_prefix() for root in roots)
    plan.removed_ids += [
        state.id
        for path, state in indexed.items()
        if state.id is not None and path.startswith(prefixes) and path not in seen
    ]
    plan.forget_skipped = [path for path in skipped if path.startswith(prefixes) and path not in seen]
    return plan
