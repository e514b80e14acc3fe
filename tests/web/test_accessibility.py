"""axe-core (web/node_modules, a pinned dev dependency of the page) finds no violations on the home page, the
results, the large view and the duplicates, in light and dark, on a desktop and a phone."""

from __future__ import annotations

import re

import pytest
from conftest import REPO
from playwright.sync_api import Browser, Page, expect

AXE = REPO / "web" / "node_modules" / "axe-core" / "axe.min.js"
# Each violation as a line: its rule, its impact and the first elements it names.
RUN = """async () => (await axe.run(document, {resultTypes: ["violations"]})).violations.map(
    (v) => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(", ")}`)"""
SCREENS = {"desktop": {"width": 1440, "height": 900}, "phone": {"width": 390, "height": 844}}


def violations(page: Page) -> list[str]:
    page.add_script_tag(path=str(AXE))
    return page.evaluate(RUN)


def open_each_view(page: Page) -> dict[str, list[str]]:
    """The violations of each view a person reaches from the home page."""
    found = {}
    page.goto("/")
    expect(page.get_by_role("searchbox")).to_be_visible()
    found["home"] = violations(page)
    page.goto("/?q=circle&rel=0")  # every result shown, whichever test model ranks them
    results = page.get_by_role("list", name="Search results").get_by_role("button")
    expect(results.first).to_be_visible()
    found["results"] = violations(page)
    results.first.click()
    expect(page.get_by_role("dialog")).to_be_visible()
    found["large view"] = violations(page)
    page.goto("/?view=duplicates")
    expect(page.get_by_role("heading", name="Duplicates", exact=True)).to_be_visible()
    expect(page.get_by_text(re.compile(r"^\d+ groups?, .+ recoverable$"))).to_be_visible()  # its groups are listed
    found["duplicates"] = violations(page)
    return found


@pytest.mark.slow
@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("screen", sorted(SCREENS))
def test_axe_finds_no_violations(browser: Browser, seen_duplicates_server: str, scheme: str, screen: str) -> None:
    assert AXE.is_file(), "axe-core is a dev dependency of the page: cd web && npm ci"
    context = browser.new_context(base_url=seen_duplicates_server, viewport=SCREENS[screen], color_scheme=scheme)
    try:
        found = open_each_view(context.new_page())
    finally:
        context.close()
    assert {view: lines for view, lines in found.items() if lines} == {}
