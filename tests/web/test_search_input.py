"""Ways into a search besides typing: an upload that survives a reload, a pasted image, an image's address
(fetched by the browser from this server only), and date fields that search once typing pauses."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.slow  # a browser driving a real server

# Pastes a clipboard holding the file at `url` (fetched from this server) or the text `text`.
PASTE = """async ({url, text}) => {
    const data = new DataTransfer();
    if (url) {
        const blob = await (await fetch(url)).blob();
        data.items.add(new File([blob], 'pasted.jpg', {type: blob.type}));
    } else {
        data.setData('text/plain', text);
    }
    document.body.dispatchEvent(new ClipboardEvent('paste', {clipboardData: data, bubbles: true}));
}"""


def found(page: Page):
    return page.get_by_role("status").filter(has_text="Found")


def first_id(page: Page, query: str) -> str:
    return page.request.post("/search", data={"query": query, "top_k": 1}).json()["results"][0]["image_id"]


def test_an_uploaded_image_search_survives_a_reload(page: Page, library: list[Path]) -> None:
    example = library[7]
    page.goto("/")
    page.get_by_label("Choose an image to search by").set_input_files(example)
    expect(found(page)).to_contain_text(f"similar to {example.name}")
    page.wait_for_function("() => Object.keys(sessionStorage).some(key => key.startsWith('viewfinder-upload:'))")
    before = page.get_by_role("list", name="Search results").get_by_role("button").first.get_attribute("aria-label")

    page.reload()
    expect(found(page)).to_contain_text(f"similar to {example.name}")
    after = page.get_by_role("list", name="Search results").get_by_role("button").first
    expect(after).to_have_attribute("aria-label", before or "")


def test_a_pasted_image_starts_a_search_by_it(page: Page) -> None:
    image_id = first_id(page, "green")
    page.goto("/")
    with page.expect_response(lambda response: response.url.endswith("/search/image")):
        page.evaluate(PASTE, {"url": f"/images/{image_id}", "text": None})
    expect(found(page)).to_contain_text("similar to pasted.jpg")
    expect(page).to_have_url(re.compile(r"upload="))


def test_an_image_address_is_fetched_from_this_server_only(page: Page) -> None:
    image_id = first_id(page, "red")
    page.goto("/")
    page.evaluate(PASTE, {"url": None, "text": "https://elsewhere.example/photo.jpg"})
    expect(page.get_by_role("alert")).to_contain_text("cannot fetch images from other sites (elsewhere.example)")
    expect(page).not_to_have_url(re.compile(r"upload="))

    own = page.evaluate("id => `${location.origin}/images/${id}`", image_id)
    page.evaluate(PASTE, {"url": None, "text": own})
    expect(found(page)).to_contain_text(f"similar to {image_id}")
    expect(page.get_by_role("alert")).to_have_count(0)


def test_typing_a_date_searches_once_and_adds_one_history_entry(page: Page) -> None:
    page.goto("/?q=red")
    expect(found(page)).to_be_visible()
    page.get_by_role("button", name=re.compile("^Filters")).click()
    entries = page.evaluate("history.length")
    field = page.get_by_label("Taken on or after")
    field.click()
    page.keyboard.type("03012021")  # month, day, year in the browser's en-US date field
    expect(page).to_have_url(re.compile(r"after=2021-03-01"))
    page.get_by_label("Taken on or before").focus()  # leaving the field settles it
    expect(found(page)).to_be_visible()
    assert page.evaluate("history.length") == entries + 1
    page.go_back()
    expect(page).not_to_have_url(re.compile(r"after="))
