"""Small test:tiny indexes built in-process over generated pictures, and the file names of search hits."""

from __future__ import annotations

from pathlib import Path

from cli_helpers import write_colour_images

from viewfinder.pipeline.indexer import run_index

MODEL = "test:tiny"


def build(library: Path, index: Path, count: int, seed: int = 0, start: int = 0) -> list[Path]:
    paths = write_colour_images(library, count, seed=seed, start=start)
    run_index(index, [str(library)], model=MODEL)
    return paths


def names(hits) -> set[str]:
    return {hit.image.file_name for hit in hits}
