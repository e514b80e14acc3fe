"""What the commands share: exit codes, the argument parser, the S3 endpoint, the index location and the
progress bar. Options shared by commands are built from the settings table (`viewfinder.settings.add_option`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import NoReturn

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


class Parser(argparse.ArgumentParser):
    """argparse that reports usage errors with the project's exit code for them."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"viewfinder: error: {message}\n")


def use_s3_endpoint(args: argparse.Namespace) -> None:
    """The S3 client of this process talks to the command's --s3-endpoint (else $AWS_ENDPOINT_URL)."""
    from viewfinder.app.library import use_s3_endpoint as use_endpoint

    use_endpoint(getattr(args, "s3_endpoint", None))


def index_path(given: str | None) -> Path:
    """The index directory: --index, else $VIEWFINDER_INDEX, else ./viewfinder-index (the `index` setting)."""
    from viewfinder.app.library import default_index_path

    return default_index_path(given)


def index_location(given: str) -> str | Path:
    """--index as given: an s3:// snapshot location stays a URL (a Path would fold its '//')."""
    from viewfinder.app.library import is_object_store_url

    return given if is_object_store_url(given) else index_path(given)


class progress_bar:
    """A tqdm bar on stderr when it is a terminal; otherwise nothing."""

    def __enter__(self):
        self.bar = None
        if not sys.stderr.isatty():
            return None
        from tqdm import tqdm

        def update(done: int, total: int) -> None:
            if self.bar is None:
                self.bar = tqdm(total=total, unit="img", desc="indexing", file=sys.stderr)
            self.bar.total = total  # `index --ocr` reads words in a second pass, counted on the same bar
            self.bar.n = done
            self.bar.refresh()

        return update

    def __exit__(self, *exc_info) -> None:
        if self.bar is not None:
            self.bar.close()
