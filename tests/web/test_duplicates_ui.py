"""The duplicates page in a real browser: the groups with their facts and suggested copy, a group resolved
(its other copies moved to the review folder and gone from the index) and undone (fixtures in conftest.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from test_ui import query_of

pytestmark = pytest.mark.slow  # a browser driving a real server

KEEP_BUTTON = re.compile(r"^Keep this, move others to review: keep (.+), move the (\d+) others?$")


def megabytes(size: int) -> str:
    """A size as the page writes it (format.ts formatBytes)."""
    units, value, unit = ["bytes", "KB", "MB", "GB"], float(size), 0
    while value >= 1000 and unit < 3:
        value, unit = value / 1000, unit + 1
    return f"{size} bytes" if unit == 0 else f"{value:.{1 if value < 10 else 0}f} {units[unit]}"


def review_files(review: Path) -> list[str]:
    return sorted(path.relative_to(review).as_posix() for path in review.rglob("*.jpg"))


def test_duplicates_page_opens_from_the_header_and_goes_back(seen_duplicates_page: Page) -> None:
    page = seen_duplicates_page
    page.goto("/")
    page.get_by_role("link", name="Duplicates").click()
    expect(page.get_by_role("heading", name="Duplicates", level=1)).to_be_visible()
    expect(page.get_by_text("Find any photo by describing it")).to_be_hidden()  # the search page waits unseen
    assert query_of(page) == {"view": ["duplicates"]}
    page.get_by_role("button", name="Back to search").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Find any photo by describing it")
    page.go_back()
    expect(page.get_by_role("heading", name="Duplicates", level=1)).to_be_visible()


def test_a_duplicate_group_is_resolved_to_the_review_folder_and_undone(
    duplicates_page: Page, duplicates_server: tuple[str, Path], snapshot
) -> None:
    page, (_, review) = duplicates_page, duplicates_server
    page.goto("/?view=duplicates")
    answer = page.request.get("/duplicates?kind=near").json()
    assert answer["count"] >= 1  # the byte-identical copies are a group at any threshold
    summary = f"{answer['count']} group{'s' if answer['count'] != 1 else ''}, "
    expect(page.get_by_text(summary + megabytes(answer["recoverable_bytes"]) + " recoverable")).to_be_visible()
    expect(page.get_by_label("Find")).to_have_value("near")

    groups = page.locator(".duplicate-group")
    expect(groups).to_have_count(answer["count"])
    # The group of the byte-identical copies (conftest's duplicates_library), whatever else the model joins to it.
    group = next(g for g in answer["groups"] if any(i["file_name"].startswith("copy-of-") for i in g["images"]))
    keep = next(image for image in group["images"] if image["image_id"] == group["suggested_keep"])
    shown = groups.nth(answer["groups"].index(group))
    suggested = shown.locator(".duplicate.suggested")
    expect(suggested).to_have_count(1)
    expect(suggested).to_contain_text(keep["file_name"])
    expect(suggested).to_contain_text("Suggested to keep")
    expect(suggested).to_contain_text(f"{keep['width']} × {keep['height']} px, {megabytes(keep['size_bytes'])}")
    expect(suggested).to_contain_text(keep["folder"])

    # A photo opens large inside the view, not as a raw file in another tab.
    shown.get_by_role("button", name=f"Enlarge {keep['file_name']}").first.click()
    dialog = page.get_by_role("dialog", name=keep["file_name"])
    expect(dialog.get_by_role("img")).to_have_attribute("src", keep["display_url"])
    snapshot(page, "duplicates-enlarged")
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_have_count(0)
    assert len(page.context.pages) == 1
    page.mouse.move(0, 0)  # no button shown hovered
    snapshot(page, "duplicates")

    images_before = page.request.get("/healthz").json()["images"]
    others = len(group["images"]) - 1
    keep_button = suggested.get_by_role("button", name=KEEP_BUTTON)
    match = KEEP_BUTTON.match(keep_button.get_attribute("aria-label") or "")
    assert match and match.groups() == (keep["file_name"], str(others))
    keep_button.click()
    status = page.get_by_role("status").filter(has_text="review folder")
    expect(status).to_contain_text(f"Moved {others} photo{'s' if others != 1 else ''} to the review folder")
    expect(status).to_contain_text(f"{megabytes(group['recoverable_bytes'])} freed")
    moved = [f"library/{image['folder']}/{image['file_name']}" for image in group["images"] if image != keep]
    assert review_files(review) == sorted(moved)
    assert page.request.get("/healthz").json()["images"] == images_before - others
    # The header's count follows the library.
    expect(page.locator(".library-size")).to_have_text(re.compile(rf"^{images_before - others} images? "))
    assert page.request.get("/duplicates?kind=exact").json()["count"] == 0
    expect(groups).to_have_count(answer["count"] - 1)
    page.mouse.move(0, 0)
    snapshot(page, "duplicates-resolved")

    page.get_by_role("button", name="Undo").click()
    restored = page.get_by_role("status").filter(has_text="back")
    expect(restored).to_contain_text(f"Moved {others} photo{'s' if others != 1 else ''} back")
    assert review_files(review) == []
    assert page.request.get("/healthz").json()["images"] == images_before
    expect(groups).to_have_count(answer["count"])
    expect(page.locator(".library-size")).to_have_text(re.compile(rf"^{images_before} images? "))

    page.get_by_label("Find").select_option("exact")
    expect(groups).to_have_count(1)
    expect(groups.first.get_by_role("heading")).to_contain_text("3 photos · exact copies")


def test_the_duplicates_page_fits_a_phone_screen(seen_duplicates_phone: Page, snapshot) -> None:
    page = seen_duplicates_phone
    page.goto("/?view=duplicates")
    expect(page.locator(".duplicate-group").first).to_be_visible()
    expect(page.get_by_role("button", name="Resolve all with suggestions")).to_be_visible()
    # Nothing reaches past the screen's edge (a phone's page widens to its content, so innerWidth cannot tell).
    edges = page.evaluate("[...document.querySelectorAll('.duplicates *')].map(e => e.getBoundingClientRect().right)")
    assert max(edges) <= page.viewport_size["width"], max(edges)
    snapshot(page, "phone-duplicates")
