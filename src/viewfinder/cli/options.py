"""What the commands share: exit codes, the argument parser, common options and the progress bar."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


class Parser(argparse.ArgumentParser):
    """argparse that reports usage errors with the project's exit code for them."""

    def error(self, message: str) -> None:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"viewfinder: error: {message}\n")


def runtime_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--runtime",
        default="auto",
        choices=["auto", "torch", "onnx", "onnx-int8"],
        help="embedding runtime (default auto: torch with --device cuda, and for index on a GPU it finds; "
        "else ONNX Runtime, with the int8 image tower for index)",
    )


def query_model_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--query-model",
        metavar="NAME",
        help="encode text queries with this multilingual model aligned to the index's model, e.g. "
        "M-CLIP/XLM-Roberta-Large-Vit-B-32 for a ViT-B-32:openai index (no image is embedded again)",
    )


def s3_endpoint_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--s3-endpoint", metavar="URL", help="an S3-compatible store instead of AWS (default $AWS_ENDPOINT_URL)"
    )


def use_s3_endpoint(args: argparse.Namespace) -> None:
    """Every S3 client of this process (they read AWS_ENDPOINT_URL) talks to --s3-endpoint when given."""
    if getattr(args, "s3_endpoint", None):
        os.environ["AWS_ENDPOINT_URL"] = args.s3_endpoint


def index_location(explicit: str | None) -> str | Path:
    """--index as given: an s3:// snapshot location stays a URL (a Path would fold its '//')."""
    from viewfinder.sources import is_object_store_url
    from viewfinder.store.indexdir import default_index_path

    location = explicit or os.environ.get("VIEWFINDER_INDEX") or ""
    return location if is_object_store_url(location) else default_index_path(explicit)


def index_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--index", metavar="DIR", help="index directory (default: $VIEWFINDER_INDEX or ./viewfinder-index)"
    )


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
            self.bar.n = done
            self.bar.refresh()

        return update

    def __exit__(self, *exc_info) -> None:
        if self.bar is not None:
            self.bar.close()
