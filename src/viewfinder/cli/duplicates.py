"""`duplicates`: list groups of near-identical photos, move all but the suggested copy of each to a review
folder (`--move-to`), and undo the latest move (`--undo`)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from viewfinder.cli.options import EXIT_OK, index_path
from viewfinder.errors import ViewfinderError
from viewfinder.settings import add_option


def add_commands(commands: argparse._SubParsersAction) -> None:
    duplicates = commands.add_parser(
        "duplicates",
        help="list groups of near-identical photos and exact copies; move the extra copies to a review folder",
        description="Lists groups of duplicates, each with the copy suggested to keep (most pixels, then most"
        " camera data, then largest file, then oldest). --move-to DIR moves every other copy to DIR, keeping"
        " its path inside its source folder, and takes it out of the index; --undo moves them back.",
    )
    add_option(duplicates, "index")
    duplicates.add_argument(
        "--kind",
        choices=("exact", "near", "similar"),
        default=None,
        help="exact copies (the same bytes), near-identical (resized, recompressed; the default) or similar"
        " shots (crops, light edits, bursts; also pictures of like content)",
    )
    duplicates.add_argument(
        "--threshold", type=float, default=None, metavar="T", help="similarity that joins two photos (default 0.98)"
    )
    duplicates.add_argument("--exact", action="store_true", help="only byte-identical copies (--kind exact)")
    duplicates.add_argument(
        "--move-to",
        metavar="DIR",
        default=None,
        help="resolve every group with its suggestion: move the other copies to DIR (outside the sources)",
    )
    duplicates.add_argument("--dry-run", action="store_true", help="with --move-to: say what would move, move nothing")
    duplicates.add_argument("--undo", action="store_true", help="move the files of the latest --move-to back")
    duplicates.add_argument("--json", action="store_true", help="print JSON")
    duplicates.set_defaults(run=_duplicates)


def _threshold(args: argparse.Namespace) -> tuple[float | None, str | None]:
    """The threshold asked (None: exact copies) and the kind it is, if one was named."""
    from viewfinder.app.query import DEFAULT_THRESHOLD, threshold_of

    options = (("--kind", args.kind), ("--threshold", args.threshold), ("--exact", args.exact or None))
    given = [flag for flag, value in options if value is not None]
    if len(given) > 1:
        raise ViewfinderError(f"Give one of --kind, --threshold and --exact, not {' and '.join(given)}.")
    if args.exact:
        return None, "exact"
    if args.kind is not None:
        return threshold_of(args.kind), args.kind
    if args.threshold is not None:
        return args.threshold, None
    return DEFAULT_THRESHOLD, "near"


def _image_fields(image) -> dict[str, Any]:
    """How `duplicates --json` shows an image: its id, path and the facts a choice between copies needs."""
    return {
        "image_id": str(image.id),
        "path": image.path,
        "size_bytes": image.size,
        "width": image.width,
        "height": image.height,
        "taken_at": image.taken_at,
    }


def _moved_fields(item) -> dict[str, Any]:
    return {"image_id": str(item.image_id), "path": item.path, "moved_to": item.moved_to, "size_bytes": item.size}


def _duplicates(args: argparse.Namespace) -> int:
    from viewfinder.app import Index

    if args.dry_run and args.move_to is None:
        raise ViewfinderError("--dry-run goes with --move-to DIR.")
    if args.undo:
        if args.move_to is not None:
            raise ViewfinderError("Give --undo or --move-to, not both.")
        return _undo(args)
    threshold, kind = _threshold(args)
    with Index(index_path(args.index)) as index:
        groups = index.duplicates(threshold, exact=threshold is None)
        if args.move_to is not None:
            return _move(args, index.resolve_all(groups, args.move_to, args.dry_run))
    if args.json:
        from viewfinder.app.records import duplicates_dict

        print(json.dumps(duplicates_dict(groups, threshold, _image_fields, kind)))
        return EXIT_OK
    for number, group in enumerate(groups, 1):
        how = "exact copies" if group.exact else f"similarity >= {group.similarity:.3f}"
        print(f"group {number} ({len(group.images)} photos, {how}; {_megabytes(group.recoverable_bytes)} recoverable)")
        for image in group.images:
            mark = "keep" if image.id == group.keep.id else "    "
            facts = f"{image.width}x{image.height}  {_megabytes(image.size):>9}  {image.taken_at or 'undated':<19}"
            print(f"  {mark}  {facts}  {image.path}")
    recoverable = sum(group.recoverable_bytes for group in groups)
    print(f"{len(groups)} groups, {_megabytes(recoverable)} recoverable", file=sys.stderr)
    return EXIT_OK


def _move(args: argparse.Namespace, report) -> int:
    from viewfinder.app.records import review_dict

    if args.json:
        print(json.dumps(review_dict(report, _moved_fields, paths=True)))
        return EXIT_OK
    verb = "would move" if report.dry_run else "moved"
    for item in report.moved:
        print(f"{verb}  {item.path} -> {item.moved_to}")
    for path, reason in report.skipped:
        print(f"skipped  {path}: {reason}")
    summary = f"{len(report.moved)} files {verb} to {args.move_to}, {_megabytes(report.freed_bytes)} freed"
    undo = "" if report.dry_run or not report.moved else "; `viewfinder duplicates --undo` moves them back"
    print(f"{summary}{undo}", file=sys.stderr)
    return EXIT_OK


def _undo(args: argparse.Namespace) -> int:
    from viewfinder.app import Index
    from viewfinder.app.records import undo_dict

    with Index(index_path(args.index)) as index:
        report = index.undo_resolve()
    if args.json:
        print(json.dumps(undo_dict(report, _moved_fields, paths=True)))
        return EXIT_OK
    for item in report.restored:
        print(f"restored  {item.moved_to} -> {item.path}")
    for path, reason in report.skipped:
        print(f"skipped  {path}: {reason}")
    print(f"{len(report.restored)} files moved back and indexed again", file=sys.stderr)
    return EXIT_OK


def _megabytes(size: int) -> str:
    """A size in decimal units, as file managers show them: 130 B, 45.2 KB, 3.4 MB."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} B"
