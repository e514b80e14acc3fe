"""The `viewfinder` command: argument parsing and output only; behaviour lives in the library.

Each module of this package adds a group of commands (`add_commands`) with their handlers.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from collections.abc import Sequence

from viewfinder import settings
from viewfinder.cli import doctor, duplicates, indexing, searching, serving, tools, upgrading
from viewfinder.cli.options import EXIT_FAILURE, EXIT_USAGE, Parser, use_s3_endpoint
from viewfinder.errors import ViewfinderError, full_disk_cause, missing_extra
from viewfinder.version import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="viewfinder", description="Semantic search over your own photos, offline.")
    parser.add_argument("--version", action="version", version=f"viewfinder {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for group in (indexing, upgrading, searching, duplicates, serving, tools, doctor):
        group.add_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line; returns the exit code (0 ok, 2 usage or configuration error, 1 failure)."""
    try:
        args = build_parser().parse_args(argv)  # a setting out of range is a ViewfinderError (settings.py)
        use_s3_endpoint(args)
        return args.run(args)
    except ViewfinderError as error:
        print(f"viewfinder: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("viewfinder: interrupted", file=sys.stderr)
        return 130
    except Exception as error:
        # An optional library imported where no needs_extra names what it is for.
        missing = missing_extra(error, "This command")
        if missing is not None:
            print(f"viewfinder: error: {missing}", file=sys.stderr)
            return EXIT_USAGE
        full = full_disk_cause(error)
        if full is not None:  # wherever it happens, the user can fix it and run the command again
            print(
                f"viewfinder: error: the disk is full ({full}); free some space and run the command again",
                file=sys.stderr,
            )
            return EXIT_USAGE
        if isinstance(error, sqlite3.DatabaseError) and not isinstance(error, sqlite3.OperationalError):
            print(
                f"viewfinder: error: the index's catalog cannot be used ({error}); run `viewfinder check --repair`",
                file=sys.stderr,
            )
            return EXIT_USAGE
        return _unexpected(error)


def _unexpected(error: Exception) -> int:
    if settings.value("debug"):
        raise error
    print(
        f"viewfinder: unexpected error: {type(error).__name__}: {error} "
        "(set VIEWFINDER_DEBUG=1 for a traceback, and please report it)",
        file=sys.stderr,
    )
    return EXIT_FAILURE
