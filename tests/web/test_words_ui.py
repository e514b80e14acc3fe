"""The words in photos on the page: a quoted phrase finds the photo holding it, its card shows the words it
was found in, and the large view shows the words read in the photo (fixtures in conftest.py)."""

from __future__ import annotations

import re

import pytest
from conftest import desktop_page
from playwright.sync_api import Browser, expect

pytestmark = pytest.mark.slow  # a browser driving a real server, over an index built with OCR

SEARCH_BOX = "Describe the images you are looking for"


def test_a_quoted_phrase_shows_its_photo_with_its_words(browser: Browser, words_server: str) -> None:
    for page in desktop_page(browser, words_server):
        page.goto("/")
        box = page.get_by_role("searchbox", name=SEARCH_BOX)
        box.fill('"rua augusta"')
        box.press("Enter")
        cards = page.locator(".result-button")
        expect(cards).to_have_count(1)
        expect(cards.first.locator(".result-words")).to_have_text("Rua Augusta")
        cards.first.click()
        dialog = page.get_by_role("dialog")
        expect(dialog).to_be_visible()
        expect(page).to_have_url(re.compile(r"photo="))  # the viewer's own history entry, which closing goes back from
        terms, values = dialog.locator("dt").all_inner_texts(), dialog.locator("dd").all_inner_texts()
        assert dict(zip(terms, values, strict=True)).get("Words in the photo") == "Rua Augusta"
        # A phrase on no photo shows no photo at all, not the closest ones.
        dialog.get_by_role("button", name="Close").first.click()
        # Closing goes back in the history, which the page hears of a moment later (popstate): a search typed
        # before that was lost behind the still open viewer.
        expect(dialog).to_be_hidden()
        box.fill('"Platform 9"')
        box.press("Enter")
        expect(page.locator(".state-message")).to_contain_text("No images match")
        expect(page.locator(".result-button")).to_have_count(0)
