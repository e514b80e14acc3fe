"""Relevance in the browser: "87% match" badges, a "nothing relevant" answer with the closest few, the
relevance control, and TIFF originals shown through their JPEG rendition. Served with the test:shapes model
over a library that holds no stars (conftest.shapes_server)."""

from __future__ import annotations

import re
from urllib.parse import quote_plus

import pytest
from playwright.sync_api import Page, expect
from test_ui import results, search_box

from viewfinder.images.synthetic import COLOURS

pytestmark = pytest.mark.slow  # a browser driving a real server


def test_present_shapes_show_percent_matches(shapes_page: Page, snapshot) -> None:
    shapes_page.goto("/")
    search_box(shapes_page).fill("a red circle")
    search_box(shapes_page).press("Enter")
    expect(shapes_page.get_by_role("status").filter(has_text="Found")).to_contain_text("matching “a red circle”")
    expect(results(shapes_page).first).to_have_accessible_name(re.compile(r"^Result 1: .+, \d+% match$"))
    badges = shapes_page.locator(".similarity-badge").all_inner_texts()
    assert badges and all(re.fullmatch(r"\d+% match", badge) and int(badge[:-7]) >= 50 for badge in badges)
    snapshot(shapes_page, "relevance-results")


def absent_query(page: Page) -> str:
    """A star query the server finds nothing relevant for (how often that holds is tests/test_relevance.py's)."""
    for colour in COLOURS:
        query = f"a {colour} star"
        if page.request.post("/search", data={"query": query}).json()["count"] == 0:
            return query
    raise AssertionError("every star query found something in a library without stars")


def test_an_absent_shape_says_nothing_is_relevant_and_labels_the_closest(shapes_page: Page, snapshot) -> None:
    query = absent_query(shapes_page)
    shapes_page.goto(f"/?q={quote_plus(query)}")
    expect(shapes_page.get_by_role("heading", name="Nothing relevant")).to_be_visible()
    expect(shapes_page.get_by_text(f"No image is at least 50% relevant matching “{query}”")).to_be_visible()
    closest = shapes_page.get_by_role("list", name="Closest images").get_by_role("button")
    expect(closest.first).to_be_visible()
    assert 1 <= closest.count() <= 3
    names = [closest.nth(i).get_attribute("aria-label") for i in range(closest.count())]
    assert all(int(re.search(r"(\d+)% match$", name).group(1)) < 50 for name in names)
    expect(shapes_page.get_by_role("list", name="Search results")).to_have_count(0)
    snapshot(shapes_page, "nothing-relevant")
    closest.first.click()  # the closest open in the large view like any result
    expect(shapes_page.get_by_role("dialog")).to_be_visible()


def test_the_relevance_control_lowers_the_threshold_and_is_kept_in_the_url(shapes_page: Page) -> None:
    query = absent_query(shapes_page)
    shapes_page.goto(f"/?q={quote_plus(query)}")
    expect(shapes_page.get_by_role("heading", name="Nothing relevant")).to_be_visible()
    shapes_page.get_by_role("button", name=re.compile("^Filters")).click()
    shapes_page.get_by_label("Relevance").select_option(label="Any: show every result")
    expect(shapes_page.get_by_role("status").filter(has_text="Found")).to_contain_text(f"matching “{query}”")
    expect(results(shapes_page)).not_to_have_count(0)
    assert "rel=0" in shapes_page.url


def test_a_tiff_original_is_shown_through_its_jpeg_rendition(shapes_page: Page) -> None:
    shapes_page.goto("/?q=a+red+circle&rel=0")
    card = shapes_page.get_by_role("button", name=re.compile(r"scan-of-a-picture\.tiff"))
    card.click()
    picture = shapes_page.get_by_role("dialog").get_by_role("img", name="scan-of-a-picture.tiff")
    expect(picture).to_have_attribute("src", re.compile(r"^/renditions/\d+$"))
    shapes_page.wait_for_function("image => image.complete && image.naturalWidth > 0", arg=picture.element_handle())
