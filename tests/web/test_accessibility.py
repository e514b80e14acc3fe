"""What an accessibility checker would ask of the results and the viewer, in light and dark, desktop and phone:
text contrast (WCAG 2 AA), a name for every control and picture, and labels that start with the text on show.

axe-core is not among the tools the tests may use here (no network), so these checks are written out; they
cover its colour-contrast, button-name, image-alt, link-name and label-content-name-mismatch rules, for
text on plain backgrounds (text over a photo is left out, as axe leaves it for a person to judge).
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from test_ui import results, search_for

pytestmark = pytest.mark.slow  # a browser driving a real server

# Every visible text whose contrast with the background it is drawn on is under AA, described.
LOW_CONTRAST = """() => {
  const parse = (colour) => {
    const m = colour.match(/rgba?\\(([^)]+)\\)/);
    if (!m) return null;
    const [r, g, b, a = 1] = m[1].split(/[ ,\\/]+/).filter(Boolean).map(Number);
    return [r, g, b, a];
  };
  const over = (top, bottom) => top.slice(0, 3).map((c, i) => c * top[3] + bottom[i] * (1 - top[3])).concat(1);
  const luminance = (rgb) => {
    const [r, g, b] = rgb.slice(0, 3).map((c) => {
      const s = c / 255;
      return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  // The background behind an element: its ancestors' colours, the nearest first; null over a picture.
  const background = (element) => {
    const layers = [];
    for (let node = element; node; node = node.parentElement) {
      const style = getComputedStyle(node);
      if (style.backgroundImage !== "none" || node.tagName === "IMG") return null;
      const colour = parse(style.backgroundColor);
      if (colour && colour[3] > 0) layers.push(colour);
      if (colour && colour[3] === 1) break;
      if (node.tagName === "DIALOG" || node.classList.contains("viewer")) {
        if (node.classList.contains("viewer")) return null;  // over the photo
      }
    }
    let result = [255, 255, 255, 1];
    for (const layer of layers.reverse()) result = over(layer, result);
    return result;
  };
  const failures = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let text = walker.nextNode(); text; text = walker.nextNode()) {
    const element = text.parentElement;
    if (!text.textContent.trim() || !element || !element.checkVisibility({ opacityProperty: true })) continue;
    if (element.closest(".visually-hidden, [aria-hidden=true]")) continue;
    const range = document.createRange();
    range.selectNodeContents(text);
    const box = range.getBoundingClientRect();
    if (box.width === 0 || box.height === 0) continue;
    const style = getComputedStyle(element);
    const back = background(element);
    const fore = parse(style.color);
    if (!back || !fore) continue;
    const shown = over(fore, back);
    const [a, b] = [luminance(shown), luminance(back)].sort((x, y) => y - x);
    const ratio = (a + 0.05) / (b + 0.05);
    const size = parseFloat(style.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
    if (ratio < (large ? 3 : 4.5)) failures.push(`${text.textContent.trim().slice(0, 40)}: ${ratio.toFixed(2)}`);
  }
  return failures;
}"""

# Controls and pictures with no accessible name, and labelled controls whose label leaves out their text.
UNNAMED = """() => {
  const failures = [];
  for (const element of document.querySelectorAll("button, a[href], img, input, summary, [role=img]")) {
    if (!element.checkVisibility()) continue;
    if (element.tagName === "IMG" && element.getAttribute("alt") !== null) continue;
    const label = (element.getAttribute("aria-label") || "").trim();
    const labelledBy = element.getAttribute("aria-labelledby");
    const text = element.tagName === "INPUT" ? "" : element.innerText.replace(/\\s+/g, " ").trim();
    const labelled = element.tagName === "INPUT" && (element.labels?.length || element.placeholder);
    if (!label && !labelledBy && !text && !labelled && !element.title) failures.push(element.outerHTML.slice(0, 80));
    if (label && text && !label.toLowerCase().includes(text.toLowerCase())) failures.push(`${label} / ${text}`);
  }
  return failures;
}"""


def check(page: Page) -> None:
    assert page.evaluate(LOW_CONTRAST) == []
    assert page.evaluate(UNNAMED) == []


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_results_and_viewer_pass_the_checks(device: str, scheme: str, request) -> None:
    page: Page = request.getfixturevalue("page" if device == "desktop" else "phone")
    page.emulate_media(color_scheme=scheme)
    page.goto("/")
    search_for(page, "a green square")
    check(page)
    results(page).nth(1).click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_text("Advanced").click()
    check(page)


def test_the_checks_find_what_they_look_for(page: Page) -> None:
    page.goto("/")
    search_for(page, "a green square")
    page.evaluate("""() => document.querySelector("main").insertAdjacentHTML("beforeend",
        '<p style="color: #999; background: #fff">faint words</p><button></button>' +
        '<button aria-label="Open the photo">Close</button><img src="/thumbnails/1">')""")
    assert [failure.split(":")[0] for failure in page.evaluate(LOW_CONTRAST)] == ["faint words"]
    unnamed = page.evaluate(UNNAMED)
    assert len(unnamed) == 3 and "Open the photo / Close" in unnamed
