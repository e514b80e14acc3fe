"""`serve`, `publish` and `rollback`: the HTTP service and index snapshots in S3."""

from __future__ import annotations

import argparse

from viewfinder.cli.options import EXIT_OK, index_location, index_path
from viewfinder.errors import ViewfinderError, needs_extra
from viewfinder.settings import add_option


def add_commands(commands: argparse._SubParsersAction) -> None:
    _add_serve_command(commands)
    _add_snapshot_commands(commands)


def _add_serve_command(commands: argparse._SubParsersAction) -> None:
    """`viewfinder serve`: the HTTP API and the web UI."""
    serve = commands.add_parser("serve", help="serve the HTTP search API and the web UI")
    add_option(serve, "index")
    add_option(serve, "s3_endpoint")
    add_option(serve, "presign_ttl")
    add_option(serve, "host")
    add_option(serve, "port")
    add_option(serve, "device")
    add_option(serve, "runtime")
    add_option(serve, "query_model")
    serve.add_argument(
        "--source",
        dest="sources",
        action="append",
        default=[],
        metavar="DIR",
        help="folder POST /admin/reindex scans (repeatable; default: the folders the index was built from)",
    )
    add_option(serve, "cors_origins")
    add_option(serve, "allowed_hosts")
    add_option(serve, "min_relevance", help="the relevance threshold for searches that give none")
    add_option(serve, "review_folder")
    serve.add_argument(
        "--watch", action="store_true", help="reindex the source folders as photos are added, changed or deleted"
    )
    serve.set_defaults(run=_serve)


def _add_snapshot_commands(commands: argparse._SubParsersAction) -> None:
    """`viewfinder publish` and `viewfinder rollback`: versioned index snapshots in S3."""
    publish = commands.add_parser("publish", help="upload a verified snapshot of an index to S3 and make it current")
    add_option(publish, "index")
    publish.add_argument("--to", required=True, metavar="s3://BUCKET/indexes/NAME", help="where snapshots live")
    publish.add_argument("--keep", type=int, metavar="N", help="delete all but the N newest snapshots afterwards")
    publish.add_argument("--no-thumbnails", action="store_true", help="leave the thumbnail and rendition caches out")
    add_option(publish, "s3_endpoint")
    publish.set_defaults(run=_publish)
    rollback = commands.add_parser("rollback", help="make an earlier published snapshot current again")
    rollback.add_argument("--index", required=True, metavar="s3://BUCKET/indexes/NAME", help="the published index")
    rollback.add_argument("--to", metavar="VERSION", help="the snapshot to make current (default: the one before)")
    add_option(rollback, "s3_endpoint")
    rollback.set_defaults(run=_rollback)


def _serve(args: argparse.Namespace) -> int:
    from viewfinder.app.query import check_min_relevance

    with needs_extra("`viewfinder serve`"):
        from viewfinder.serve.server import serve

    if args.min_relevance is not None:
        check_min_relevance(args.min_relevance)

    serve(
        index_location(args.index),
        presign_ttl=args.presign_ttl,
        host=args.host,
        port=args.port,
        device=args.device,
        sources=args.sources,
        cors_origins=args.cors_origins,
        runtime=args.runtime,
        query_model=args.query_model,
        min_relevance=args.min_relevance,
        allowed_hosts=args.allowed_hosts,
        watch=args.watch,
        review_folder=args.review_folder,
    )
    return EXIT_OK


def _publish(args: argparse.Namespace) -> int:
    from viewfinder.app import library

    if args.keep is not None and args.keep < 1:
        raise ViewfinderError("--keep must be at least 1.")
    version = library.publish(index_path(args.index), args.to, keep=args.keep, thumbnails=not args.no_thumbnails)
    print(f"published {args.to.rstrip('/')}/snapshots/{version} and made it current")
    return EXIT_OK


def _rollback(args: argparse.Namespace) -> int:
    from viewfinder.app import library

    version = library.rollback(args.index, args.to)
    print(f"{args.index.rstrip('/')} now serves snapshot {version}")
    return EXIT_OK
