"""`index`, `remove`, `check` and `watch`: building an index and keeping it in step with the library."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict

from viewfinder.cli.options import EXIT_OK, EXIT_USAGE, index_path, progress_bar
from viewfinder.errors import ViewfinderError, needs_extra
from viewfinder.settings import add_option


def add_commands(commands: argparse._SubParsersAction) -> None:
    _add_index_command(commands)
    _add_remove_command(commands)
    _add_check_command(commands)
    _add_watch_command(commands)


def _add_index_command(commands: argparse._SubParsersAction) -> None:
    """`viewfinder index SOURCE...`: incremental indexing."""
    index = commands.add_parser("index", help="index folders of images (incremental)")
    index.add_argument(
        "sources", nargs="+", metavar="SOURCE", help="folders or s3://bucket/prefix locations to index, recursively"
    )
    add_option(index, "index")
    add_option(index, "s3_endpoint")
    index.add_argument(
        "--model",
        help="open_clip NAME:TAG, hf-hub:org/name, a weights path, test:tiny or test:shapes"
        " (default: the index's model, else ViT-B-32:openai)",
    )
    add_option(index, "device")
    add_option(index, "runtime")
    add_option(index, "batch_size")
    index.add_argument("--workers", type=int, default=None, metavar="N", help="decode threads (default: cores)")
    add_option(index, "engine")
    add_option(index, "store")
    index.add_argument(
        "--ray-address", metavar="ADDR", help="Ray cluster to use with --engine ray (default: start one on 127.0.0.1)"
    )
    index.add_argument(
        "--ocr",
        action="store_true",
        help="also read the words in each photo, so that a quoted phrase finds them (kept by later runs; "
        "needs the [ocr] extra)",
    )
    index.add_argument("--json", action="store_true", help="print a JSON summary")
    index.set_defaults(run=_index)


def _add_remove_command(commands: argparse._SubParsersAction) -> None:
    """`viewfinder remove SOURCE...`: drop a source's images."""
    remove = commands.add_parser("remove", help="remove a source folder's images from an index (even if it is gone)")
    remove.add_argument("sources", nargs="+", metavar="SOURCE", help="source folders to remove")
    add_option(remove, "index")
    remove.add_argument("--json", action="store_true", help="print JSON")
    remove.set_defaults(run=_remove)


def _add_check_command(commands: argparse._SubParsersAction) -> None:
    """`viewfinder check [--repair]`: verify an index."""
    check = commands.add_parser("check", help="verify an index's files, and with --repair fix what can be fixed")
    add_option(check, "index")
    check.add_argument("--repair", action="store_true", help="upgrade, rebuild and clean up what is wrong")
    check.add_argument("--json", action="store_true", help="print JSON")
    check.set_defaults(run=_check)


def _add_watch_command(commands: argparse._SubParsersAction) -> None:
    """`viewfinder watch SOURCE...`: index, then follow changes."""
    watch = commands.add_parser("watch", help="index folders, then keep the index up to date as photos change")
    watch.add_argument("sources", nargs="+", metavar="SOURCE", help="folders to watch, recursively")
    add_option(watch, "index")
    watch.add_argument("--model", help="the model for a new index (default: the index's, else ViT-B-32:openai)")
    add_option(watch, "device")
    add_option(watch, "runtime")
    add_option(watch, "reconcile")
    watch.set_defaults(run=_watch)


def _index(args: argparse.Namespace) -> int:
    from viewfinder.app import library

    if args.ray_address and args.engine != "ray":
        raise ViewfinderError("--ray-address needs --engine ray.")
    with progress_bar() as progress:
        report = library.update(
            index_path(args.index),
            args.sources,
            model=args.model,
            device=args.device,
            batch_size=args.batch_size,
            workers=args.workers,
            progress=progress,
            runtime=args.runtime,
            engine=args.engine,
            ray_address=args.ray_address,
            store=args.store,
            ocr=args.ocr,
        )
    if args.json:
        print(json.dumps(asdict(report)))
        return EXIT_OK
    for item in report.skipped:
        print(f"skipped {item['path']}: {item['reason']}", file=sys.stderr)
    for item in report.words_skipped:
        print(f"no words read in {item['path']}: {item['reason']}", file=sys.stderr)
    print(
        f"{report.added} added, {report.updated} updated, {report.removed} removed, {report.unchanged} unchanged, "
        f"{len(report.skipped)} skipped; {report.total} images in the index "
        f"({report.seconds:.1f} s, {report.images_per_second:.1f} images/s)"
    )
    if report.total == 0 and not report.skipped:
        from viewfinder.app.library import IMAGE_SUFFIXES

        suffixes = " ".join(sorted(IMAGE_SUFFIXES))
        print(f"No image files under {', '.join(args.sources)} (looked for {suffixes}).", file=sys.stderr)
    return EXIT_OK


def _remove(args: argparse.Namespace) -> int:
    from viewfinder.app import library

    report = library.remove(index_path(args.index), args.sources)
    if args.json:
        print(json.dumps(asdict(report)))
        return EXIT_OK
    for source, count in report.removed.items():
        print(f"removed {count} images of {source}")
    print(f"{report.total} images in the index")
    return EXIT_OK


def _check(args: argparse.Namespace) -> int:
    from viewfinder.app import library

    report = library.check(index_path(args.index), repair=args.repair)
    if args.json:
        print(json.dumps({**asdict(report), "healthy": report.healthy}))
    else:
        for problem in report.problems:
            print(f"problem: {problem}")
        for action in report.repaired:
            print(f"repaired: {action}")
        if report.missing_files:
            print(f"{report.missing_files} indexed files no longer exist; `viewfinder index` or `remove` settles them")
        if report.awaiting_embedding:
            print(f"{report.awaiting_embedding} images await embedding again; `viewfinder index` embeds them")
        print("index is healthy" if report.healthy else "problems found; run `viewfinder check --repair`")
    return EXIT_OK if report.healthy else EXIT_USAGE


def _watch(args: argparse.Namespace) -> int:
    import threading

    from viewfinder.app import library

    with needs_extra("`viewfinder watch`"):  # before the first indexing run, not after it
        import watchdog  # noqa: F401
    index = index_path(args.index)
    first = library.update(index, args.sources, model=args.model, device=args.device, runtime=args.runtime)
    print(f"indexed: {first.added} added, {first.unchanged} unchanged; {first.total} images", flush=True)

    def updated(report) -> None:
        if report.added or report.updated or report.removed:
            print(
                f"updated: {report.added} added, {report.updated} updated, {report.removed} removed; "
                f"{report.total} images",
                flush=True,
            )

    def failed(error: Exception) -> None:
        print(f"viewfinder: watch: {error} (retrying on the next change)", file=sys.stderr, flush=True)

    watcher = library.watch(index, args.sources, updated, failed, args.device, args.runtime, args.reconcile)
    watcher.start()
    if watcher.not_watched:
        print(f"note: {watcher.not_watched_note()}", flush=True)
    print(f"watching {', '.join(watcher.roots) or 'no folder'}; Ctrl-C stops", flush=True)
    try:
        threading.Event().wait()
    finally:
        watcher.stop()
    return EXIT_OK
