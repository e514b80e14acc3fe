"""Thumbnails made ahead of time: `viewfinder serve` makes the thumbnails local photos lack in the background,
so the first search after indexing finds them made (they were made on first view before)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from cli_helpers import write_colour_images
from service_helpers import start_server_process, wait_for

import viewfinder
from viewfinder.cli import main


@pytest.fixture
def index(tmp_path: Path) -> Path:
    write_colour_images(tmp_path / "photos", 6)
    assert main(["index", str(tmp_path / "photos"), "--index", str(tmp_path / "index"), "--model", "test:tiny"]) == 0
    return tmp_path / "index"


def thumbnails(index: Path) -> list[Path]:
    return sorted((index / "thumbnails").glob("*.jpg"))


def test_the_missing_thumbnails_are_made_once_and_a_stop_ends_the_work(index: Path) -> None:
    assert thumbnails(index) == []
    stop = threading.Event()
    with viewfinder.open_index(str(index)) as opened:
        stop.set()
        assert opened.warm_thumbnails(stop) == 0 and thumbnails(index) == []
        stop.clear()
        assert opened.warm_thumbnails(stop) == 6
        assert len(thumbnails(index)) == 6
        assert opened.warm_thumbnails(stop) == 0  # the cached ones are kept


@pytest.mark.slow  # a server process
def test_serve_makes_them_without_a_request(index: Path) -> None:
    with start_server_process(index):
        wait_for(lambda: len(thumbnails(index)) == 6, what="six thumbnails made in the background")
