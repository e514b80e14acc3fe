"""`index`, `remove`, `check` and `watch`: building an index and keeping it in step with the library."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict

from viewfinder.cli.options import (
    EXIT_OK,
    EXIT_USAGE,
    index_option,
    progress_bar,
    runtime_option,
    s3_endpoint_option,
)
from viewfinder.errors import ViewfinderError


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
    index_option(index)
    s3_endpoint_option(index)
    index.add_argument(
        "--model",
        help="open_clip NAME:TAG, hf-hub:org/name, a weights path, test:tiny or test:shapes"
        " (default: the index's model, else ViT-B-32:openai)",
    )
    index.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    runtime_option(index)
    index.add_argument("--batch-size", type=int, default=32, metavar="N")
    index.add_argument("--workers", type=int, default=None, metavar="N", help="decode threads (default: cores)")
    index.add_argument(
        "--engine",
        default="local",
        choices=["local", "ray"],
        help="where decoding and embedding run: this process (local, default) or a Ray cluster (ray)",
    )
    index.add_argument(
        "--store",
        metavar="STORE",
        help="vector store of a new index: faiss (default), milvus (Milvus Lite in the index directory), "
        "milvus:PATH.db or milvus:http://HOST:19530",
    )
    index.add_argument(
        "--ray-address", metavar="ADDR", help="Ray cluster to use with --engine ray (default: start one on 127.0.0.1)"
    )
    index.add_argument("--json", action="store_true", help="print a JSON summary")
    index.set_defaults(run=_index)


def _add_remove_command(commands: argparse._SubParsersAction) -> None:
    """`viewfinder remove SOURCE...`: drop a source's images."""
    remove = commands.add_parser("remove", help="remove a source folder's images from an index (even if it is gone)")
    remove.add_argument("sources", nargs="+", metavar="SOURCE", help="source folders to remove")
    index_option(remove)
    remove.add_argument("--json", action="store_true", help="print JSON")
    remove.set_defaults(run=_remove)


def _add_check_command(commands: argparse._SubParsersAction) -> None:
    """`viewfinder check [--repair]`: verify an index."""
    check = commands.add_parser("check", help="verify an index's files, and with --repair fix what can be fixed")
    index_option(check)
    check.add_argument("--repair", action="store_true", help="upgrade, rebuild and clean up what is wrong")
    check.add_argument("--json", action="store_true", help="print JSON")
    check.set_defaults(run=_check)


def _add_watch_command(commands: argparse._SubParsersAction) -> None:
    """`viewfinder watch SOURCE...`: index, then follow changes."""
    watch = commands.add_parser("watch", help="index folders, then keep the index up to date as photos change")
    watch.add_argument("sources", nargs="+", metavar="SOURCE", help="folders to watch, recursively")
    index_option(watch)
    watch.add_argument("--model", help="the model for a new index (default: the index's, else ViT-B-32:openai)")
    watch.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    runtime_option(watch)
    watch.add_argument(
        "--reconcile", type=float, default=300.0, metavar="SECONDS", help="full rescan interval (default 300)"
    )
    watch.set_defaults(run=_watch)


def _index(args: argparse.Namespace) -> int:
    from viewfinder.pipeline.indexer import run_index
    from viewfinder.store.indexdir import default_index_path

    if args.ray_address and args.engine != "ray":
        raise ViewfinderError("--ray-address needs --engine ray.")
    with progress_bar() as progress:
        report = run_index(
            default_index_path(args.index),
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
        )
    if args.json:
        print(json.dumps(asdict(report)))
        return EXIT_OK
    for item in report.skipped:
        print(f"skipped {item['path']}: {item['reason']}", file=sys.stderr)
    print(
        f"{report.added} added, {report.updated} updated, {report.removed} removed, {report.unchanged} unchanged, "
        f"{len(report.skipped)} skipped; {report.total} images in the index "
        f"({report.seconds:.1f} s, {report.images_per_second:.1f} images/s)"
    )
    if report.total == 0 and not report.skipped:
        from viewfinder.sources import IMAGE_SUFFIXES

        suffixes = " ".join(sorted(IMAGE_SUFFIXES))
        print(f"No image files under {', '.join(args.sources)} (looked for {suffixes}).", file=sys.stderr)
    return EXIT_OK


def _remove(args: argparse.Namespace) -> int:
    from viewfinder.pipeline.maintenance import remove_sources
    from viewfinder.store.indexdir import default_index_path

    report = remove_sources(default_index_path(args.index), args.sources)
    if args.json:
        print(json.dumps(asdict(report)))
        return EXIT_OK
    for source, count in report.removed.items():
        print(f"removed {count} images of {source}")
    print(f"{report.total} images in the index")
    return EXIT_OK


def _check(args: argparse.Namespace) -> int:
    from viewfinder.store.check import check_index
    from viewfinder.store.indexdir import IndexDir, default_index_path

    report = check_index(IndexDir(default_index_path(args.index)), repair=args.repair)
    if args.json:
        print(json.dumps({**asdict(report), "healthy": report.healthy}))
    else:
        for problem in report.problems:
            print(f"problem: {problem}")
        for action in report.repaired:
            print(f"repaired: {action}")
        if report.missing_files:
            print(f"{report.missing_files} indexed files no longer exist; `viewfinder index` or `remove` settles them")
        print("index is healthy" if report.healthy else "problems found; run `viewfinder check --repair`")
    return EXIT_OK if report.healthy else EXIT_USAGE


def _watch(args: argparse.Namespace) -> int:
    import threading

    from viewfinder.models.registry import resolve_model
    from viewfinder.pipeline.indexer import load_embedder_for, run_index
    from viewfinder.pipeline.watch import FolderWatcher
    from viewfinder.store.indexdir import IndexDir, default_index_path

    index = default_index_path(args.index)
    first = run_index(index, args.sources, model=args.model, device=args.device, runtime=args.runtime)
    print(f"indexed: {first.added} added, {first.unchanged} unchanged; {first.total} images", flush=True)
    # One model for every later run, loaded once.
    embedder = load_embedder_for(resolve_model(IndexDir(index).read_manifest().model), args.device, args.runtime)

    def update() -> None:
        report = run_index(index, args.sources, embedder=embedder, device=args.device, runtime=args.runtime)
        if report.added or report.updated or report.removed:
            print(
                f"updated: {report.added} added, {report.updated} updated, {report.removed} removed; "
                f"{report.total} images",
                flush=True,
            )

    def failed(error: Exception) -> None:
        print(f"viewfinder: watch: {error} (retrying on the next change)", file=sys.stderr, flush=True)

    watcher = FolderWatcher(args.sources, update, on_error=failed, reconcile_seconds=args.reconcile)
    watcher.start()
    if watcher.not_watched:
        print(f"note: {watcher.not_watched_note()}", flush=True)
    print(f"watching {', '.join(watcher.roots) or 'no folder'}; Ctrl-C stops", flush=True)
    try:
        threading.Event().wait()
    finally:
        watcher.stop()
    return EXIT_OK
