"""The search as the server read it, shown as chips under the box: typed weights, "without", typed dates and the
example image each become a chip with the share it weighs, and removing one searches again without it."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.slow  # a browser driving a real server

SEARCH_BOX = "Describe the images you are looking for"


def chips(page: Page):
    return page.get_by_role("list", name="Searched for").get_by_role("listitem")


def is_search(response_or_request) -> bool:
    return response_or_request.url.endswith("/search")


def searched(page: Page, action: Callable[[], None]) -> tuple[dict, dict]:
    """The JSON body the page sent to POST /search on `action`, and the answer it got."""
    with page.expect_response(is_search) as answer:
        action()
    return json.loads(answer.value.request.post_data or "{}"), answer.value.json()


def test_typed_weights_become_chips_and_removing_one_searches_again(
    page: Page, snapshot: Callable[[Page, str], None]
) -> None:
    page.goto("/")
    box = page.get_by_role("searchbox", name=SEARCH_BOX)
    box.fill("70% red circle + 30% green square")
    sent, got = searched(page, lambda: box.press("Enter"))

    expect(chips(page)).to_have_text(["red circle 70%", "green square 30%"])
    assert sent["query"] == "70% red circle + 30% green square"
    assert got["terms"] == [{"text": "red circle", "weight": 0.7}, {"text": "green square", "weight": 0.3}]
    snapshot(page, "query-chips")

    sent, got = searched(page, page.get_by_role("button", name="Remove green square 30%").click)
    expect(chips(page)).to_have_text(["red circle"])
    expect(box).to_have_value("red circle")
    assert sent["query"] == "red circle"
    assert got["terms"] == [{"text": "red circle", "weight": 1.0}]


def test_without_and_typed_dates_are_chips_too(page: Page) -> None:
    page.goto("/")
    box = page.get_by_role("searchbox", name=SEARCH_BOX)
    box.fill("red circle without square in July 2023")
    _, got = searched(page, lambda: box.press("Enter"))

    expect(chips(page)).to_have_text(["red circle", "without square", "July 2023"])
    assert got["filters"]["taken_after"] == "2023-07-01" and got["filters"]["taken_before"] == "2023-07-31"

    # Without the negative part the dates stay: the line no longer names them, so the date fields hold them.
    page.get_by_role("button", name="Remove without square").click()
    expect(chips(page)).to_have_text(["red circle", "July 2023"])
    expect(page).to_have_url(re.compile(r"after=2023-07-01&before=2023-07-31"))

    _, got = searched(page, page.get_by_role("button", name="Remove July 2023").click)
    expect(chips(page)).to_have_text(["red circle"])
    assert got["filters"]["taken_after"] is None and got["filters"]["taken_before"] is None


def test_the_example_image_is_a_chip_and_the_balance_shows_its_numbers(page: Page) -> None:
    first = page.request.post("/search", data={"query": "green", "top_k": 1}).json()["results"][0]["image_id"]
    page.goto(f"/?q=blue&img={first}")
    expect(chips(page)).to_have_text(["blue 50%", "Similar photo 50%"])
    expect(page.locator(".balance-numbers")).to_have_text("Photo 50% · Words 50%")
    page.get_by_role("slider", name="Balance between words and example image").press("ArrowRight")
    expect(page.locator(".balance-numbers")).to_have_text("Photo 60% · Words 40%")
    expect(chips(page)).to_have_text(["blue 40%", "Similar photo 60%"])

    page.get_by_role("button", name="Remove Similar photo 60%").click()
    expect(chips(page)).to_have_text(["blue"])
    expect(page).not_to_have_url(re.compile(r"img="))
