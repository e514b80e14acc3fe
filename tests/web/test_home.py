"""The home page shows the library, not an empty box: its newest photos and its folders, each with a count and
a cover; a folder narrows the home page and the searches made from it."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.slow  # a browser driving a real server

SEARCH_BOX = "Describe the images you are looking for"


def newest(page: Page):
    return page.get_by_role("list").filter(has=page.locator(".recent-photo")).get_by_role("button")


def tiles(page: Page):
    return page.locator(".folder-tile")


def test_the_home_page_shows_the_newest_photos_and_the_folders(page: Page) -> None:
    page.goto("/")
    overview = page.request.get("/library/overview").json()
    assert overview["recent"] and overview["folders"]
    expect(newest(page)).to_have_count(len(overview["recent"]))
    first = overview["recent"][0]
    expect(newest(page).first).to_have_accessible_name(re.compile(rf": {re.escape(first['file_name'])}$"))
    expect(tiles(page)).to_have_text(
        [re.compile(rf"^{tile['folder']}{tile['images']} images$") for tile in overview["folders"]]
    )
    cover = overview["folders"][0]["cover"]["image_id"]
    expect(tiles(page).first.locator("img")).to_have_attribute("src", f"/thumbnails/{cover}")

    newest(page).first.click()  # a photo opens in the viewer, with its own address
    expect(page.get_by_role("dialog")).to_be_visible()
    expect(page).to_have_url(re.compile(rf"photo={first['image_id']}"))


def test_a_folder_tile_narrows_the_home_page_and_its_searches(page: Page) -> None:
    page.goto("/")
    folder = page.request.get("/library/overview").json()["folders"][-1]["folder"]
    inside = page.request.get("/library/overview", params={"folder": folder}).json()["recent"]
    tiles(page).filter(has_text=folder).click()

    expect(page).to_have_url(re.compile(rf"folder={folder}"))
    expect(page.get_by_text(f"Searching in {folder}")).to_be_visible()
    expect(newest(page)).to_have_count(len(inside))
    expect(newest(page).first).to_have_accessible_name(re.compile(rf": {re.escape(inside[0]['file_name'])}$"))

    with page.expect_request(lambda request: request.url.endswith("/search")) as sent:
        page.get_by_role("searchbox", name=SEARCH_BOX).fill("red")
        page.get_by_role("searchbox", name=SEARCH_BOX).press("Enter")
    assert json.loads(sent.value.post_data or "{}")["filters"] == {"folder": folder}

    page.go_back()
    page.get_by_role("button", name="All folders").click()
    expect(page).not_to_have_url(re.compile(r"folder="))
    expect(tiles(page)).not_to_have_count(0)
