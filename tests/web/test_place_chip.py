"""A place typed in the page's box is read by the server and shown as a chip; removing it searches again
without it, keeping the rest of the line."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_helpers import cli_env, write_colour_images
from conftest import _serving, desktop_page
from gps_helpers import write_gps_photos
from playwright.sync_api import Browser, Page, expect

pytestmark = pytest.mark.slow  # a browser driving a real server


@pytest.fixture
def places_page(browser: Browser, tmp_path: Path) -> Iterator[Page]:
    """Three photos with a GPS position (two in Lisbon) and three without, indexed with test:tiny."""
    library = tmp_path / "library"
    write_colour_images(library, 3)
    write_gps_photos(library)
    indexing = [sys.executable, "-m", "viewfinder", "index", str(library), "--index", str(tmp_path / "index")]
    subprocess.run([*indexing, "--model", "test:tiny"], check=True, capture_output=True, env=cli_env(), timeout=600)
    with _serving(tmp_path / "index", tmp_path, {}, "--min-relevance", "0") as url:
        yield from desktop_page(browser, url)


def test_a_typed_place_is_a_chip_that_can_be_removed(places_page: Page) -> None:
    page = places_page
    page.goto("/?q=a+photo+in+lisbon")
    results = page.get_by_role("list", name="Search results").get_by_role("button")
    chips = page.get_by_role("list", name="Searched for").get_by_role("listitem")
    expect(chips).to_have_text(["a photo", "in Lisbon"])
    expect(results).to_have_count(2)
    page.get_by_role("button", name="Remove in Lisbon").click()
    expect(chips).to_have_text(["a photo"])
    expect(results).to_have_count(6)
