"""The web UI in a real browser against a real `viewfinder serve` (fixtures in conftest.py).

Screenshots of the main states land in a folder when one is named:
    VIEWFINDER_SCREENSHOTS=docs/screenshots VIEWFINDER_UI_TEST_MODEL=test:shapes pytest tests/web
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import Page, Route, expect

pytestmark = pytest.mark.slow  # a browser driving a real server

SEARCH_BOX = "Describe the images you are looking for"
# A card's accessible name: `Mar 12, 2021: red-circle-08.jpg, strong match`, starting with the day it shows
# (where known) and ending with the match word (where rated).
CARD_NAME = re.compile(r"^(?:([^:]+): )?(.+?)(?:, (strong|possible|weak) match)?$")
PAGE_SIZE = 48  # what the page asks for: more than the test library holds, so every search lists all of it


def search_box(page: Page):
    return page.get_by_role("searchbox", name=SEARCH_BOX)


def search_for(page: Page, text: str) -> None:
    search_box(page).fill(text)
    search_box(page).press("Enter")
    expect_found(page, f"matching “{text}”")


def expect_found(page: Page, description: str) -> None:
    """Waits for the summary line of a finished search, e.g. `Found 36 images matching “red”`."""
    expect(page.get_by_role("status").filter(has_text="Found")).to_contain_text(description)


def results(page: Page):
    return page.get_by_role("list", name="Search results").get_by_role("button")


def shown_results(page: Page, list_name: str = "Search results") -> list[tuple[int, str, str | None]]:
    """(rank, image id, match word as read out) for each card of a list, in page order."""
    cards = page.eval_on_selector_all(
        f"[aria-label='{list_name}'] li",
        """items => items.map(item => [
            item.querySelector('button').getAttribute('aria-label'),
            item.querySelector('button').dataset.rank,
            item.querySelector('img').getAttribute('src'),
        ])""",
    )
    shown = []
    for name, rank, src in cards:
        match = CARD_NAME.match(name).group(3)
        shown.append((int(rank), src.rsplit("/", 1)[1], match))
    return shown


def api_results(page: Page, body: dict, part: str = "results") -> list[tuple[int, str, str | None]]:
    """What the page should show of an answer's `part` (results or weaker), as shown_results reads it."""
    response = page.request.post("/search", data={"top_k": PAGE_SIZE, **body})
    assert response.ok, response.text()
    return [(hit["rank"], hit["image_id"], hit["match"]) for hit in response.json()[part]]


def query_of(page: Page) -> dict[str, list[str]]:
    return parse_qs(urlparse(page.url).query)


def grid_columns(page: Page) -> int:
    """How many cards the result grid shows in its first row at the page's width."""
    tops = page.eval_on_selector_all("[aria-label='Search results'] li", "items => items.map(i => i.offsetTop)")
    return tops.count(tops[0])


def file_name_of(card) -> str:
    """The file name in a card's accessible name, `Mar 12, 2021: red-circle-08.jpg, strong match`."""
    return CARD_NAME.match(card.get_attribute("aria-label")).group(2)


def test_home_page_invites_a_search(page: Page, library: list[Path], snapshot) -> None:
    page.goto("/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Find any photo by describing it")
    expect(page.get_by_text(f"Search {len(library)} images by what is in them")).to_be_visible()
    expect(search_box(page)).to_have_attribute("placeholder", re.compile("Try “.+”"))
    expect(page.get_by_role("list", name="Try").get_by_role("button")).not_to_have_count(0)
    snapshot(page, "home")


def test_typed_query_lists_results_in_rank_order(page: Page, library: list[Path], snapshot) -> None:
    page.goto("/")
    search_for(page, "a red circle")

    shown = shown_results(page)
    assert [rank for rank, _, _ in shown] == list(range(1, len(library) + 1))
    assert shown == api_results(page, {"query": "a red circle"})
    assert "%" not in page.get_by_role("list", name="Search results").inner_text()  # no score on a thumbnail
    expect_found(page, f"Found {len(library)} images matching “a red circle”")
    assert query_of(page) == {"q": ["a red circle"]}
    # Every thumbnail has a text alternative, and every card says what it is.
    thumbnails = page.get_by_role("list", name="Search results").locator("img")
    assert all(alt.endswith(".jpg") for alt in thumbnails.evaluate_all("images => images.map(i => i.alt)"))
    first = results(page).first
    # The card shows the day the photo was taken, and its name starts with what it shows.
    day = first.locator(".result-day").inner_text()
    assert re.fullmatch(r"\w{3} \d{1,2}, 20\d\d", day)
    expect(first).to_have_accessible_name(re.compile(rf"^{re.escape(day)}: .+\.jpg(, \w+ match)?$"))
    # Tiles keep each photo's shape (these are 4:3).
    box = first.locator("img").bounding_box()
    assert abs(box["width"] / box["height"] - 4 / 3) < 0.02
    snapshot(page, "results")
    page.emulate_media(color_scheme="dark")
    snapshot(page, "results-dark")


def test_loading_state_says_how_many_images_are_searched(page: Page, library: list[Path]) -> None:
    held: list[Route] = []
    page.route("**/search", lambda route: held.append(route))  # the request waits until the test lets it go
    page.goto("/")
    search_box(page).fill("green square")
    search_box(page).press("Enter")
    searching = page.get_by_role("status").filter(has_text="Searching")
    expect(searching).to_have_text(f"Searching {len(library)} images…")
    held[0].continue_()
    expect_found(page, "matching “green square”")


def test_example_chip_runs_its_query(page: Page) -> None:
    page.goto("/")
    chip = page.get_by_role("list", name="Try").get_by_role("button").first
    example = chip.inner_text()
    chip.click()
    expect_found(page, f"matching “{example}”")
    assert query_of(page) == {"q": [example]}
    expect(search_box(page)).to_have_value(example)
    assert shown_results(page) == api_results(page, {"query": example})


def test_result_opens_a_large_view_with_its_metadata(page: Page, snapshot) -> None:
    page.goto("/?q=blue+triangle")
    expect_found(page, "matching “blue triangle”")
    rank, image_id, match = shown_results(page)[1]
    results(page).nth(1).click()

    dialog = page.get_by_role("dialog")
    meta = page.request.get(f"/images/{image_id}/meta").json()
    expect(dialog.get_by_role("heading")).to_have_text(meta["file_name"])
    expect(dialog.get_by_role("img", name=meta["file_name"])).to_be_visible()
    expect(dialog.get_by_text(f"2 of {results(page).count()}", exact=True)).to_be_visible()
    dialog.get_by_text("Advanced").click()  # the scores are folded away
    terms, values = dialog.locator("dt").all_inner_texts(), dialog.locator("dd").all_inner_texts()
    facts = dict(zip(terms, values, strict=True))
    assert facts.get("Match") == (match and f"{match.capitalize()} match")
    assert re.fullmatch(r"-?\d\.\d{3}", facts["Similarity"])
    assert facts["Rank"] == str(rank)
    assert facts["Folder"] == meta["folder"]
    assert facts["Dimensions"] == "320 × 240"
    assert facts["Size"].endswith(("KB", "bytes"))
    assert re.match(r"\w{3} \d{1,2}, 20\d\d", facts["Taken"])
    snapshot(page, "detail")

    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(results(page).nth(1)).to_be_focused()


def test_an_open_photo_has_an_address_that_back_leaves_and_a_link_opens(page: Page) -> None:
    page.goto("/?q=blue+triangle")
    expect_found(page, "matching “blue triangle”")
    shown = shown_results(page)
    results(page).nth(3).click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    assert query_of(page) == {"q": ["blue triangle"], "photo": [shown[3][1]]}
    page.keyboard.press("ArrowRight")  # stepping replaces the address: Back still closes the viewer
    expect(page).to_have_url(re.compile(rf"photo={shown[4][1]}$"))

    page.go_back()
    expect(dialog).to_be_hidden()
    assert query_of(page) == {"q": ["blue triangle"]}
    expect_found(page, "matching “blue triangle”")
    assert shown_results(page) == shown  # the results are still there, not searched again
    expect(results(page).nth(4)).to_be_focused()  # the photo last viewed

    page.goto(f"/?q=blue+triangle&photo={shown[5][1]}")  # a link to an open photo
    expect(dialog).to_be_visible()
    expect(dialog.get_by_text(f"6 of {len(shown)}", exact=True)).to_be_visible()
    page.get_by_role("button", name="Close").click()
    expect(dialog).to_be_hidden()
    expect(page).not_to_have_url(re.compile(r"photo="))  # the dialog says it closed a moment after it hides
    assert query_of(page) == {"q": ["blue triangle"]}
    expect(results(page).nth(5)).to_be_focused()


def test_a_search_made_while_closing_the_viewer_goes_back_is_kept(page: Page) -> None:
    page.goto("/?q=blue+triangle")
    expect_found(page, "matching “blue triangle”")
    results(page).nth(1).click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    # Close, and once the page has asked the history to go back (the dialog's close event) but before that
    # step lands, search for something else: what a fast typist, or a busy machine, does.
    page.evaluate(
        """() => new Promise((done) => {
            const dialog = document.querySelector("dialog");
            dialog.addEventListener("close", () => queueMicrotask(() => {
                const box = document.querySelector('input[type="search"]');
                Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, "value").set.call(box, "red circle");
                box.dispatchEvent(new Event("input", { bubbles: true }));
                box.form.requestSubmit();
                done();
            }), { once: true });
            dialog.close();
        })"""
    )
    expect_found(page, "matching “red circle”")
    expect(dialog).to_be_hidden()
    assert query_of(page) == {"q": ["red circle"]}
    page.go_back()  # Back goes to the search before, not into the viewer
    expect_found(page, "matching “blue triangle”")
    expect(dialog).to_be_hidden()


def test_find_similar_searches_by_the_open_image(page: Page, snapshot) -> None:
    page.goto("/?q=yellow+circle")
    expect_found(page, "matching “yellow circle”")
    _, image_id, _ = shown_results(page)[2]
    results(page).nth(2).click()
    name = page.get_by_role("dialog").get_by_role("heading").inner_text()
    page.get_by_role("button", name="Find similar").click()

    expect_found(page, f"similar to {name}")
    assert query_of(page) == {"img": [image_id]}
    expect(page.get_by_role("button", name=f"Remove example image {name}")).to_be_visible()
    expect(page.get_by_role("button", name=f"Your photo: {name}")).to_be_visible()  # pinned above the results
    shown = shown_results(page)
    assert image_id not in [shown_id for _, shown_id, _ in shown]  # not among them, though most like itself
    assert shown == api_results(page, {"image_id": image_id})
    snapshot(page, "similar")


def test_uploaded_image_finds_itself_first(page: Page, library: list[Path]) -> None:
    example = library[7]
    page.goto("/")
    page.get_by_label("Choose an image to search by").set_input_files(example)

    expect_found(page, f"similar to {example.name}")
    assert "upload" in query_of(page)
    expect(page.get_by_role("button", name=f"Remove example image {example.name}")).to_be_visible()
    first = results(page).first
    expect(first).to_have_accessible_name(re.compile(rf"^[^:]+: {re.escape(example.name)}(, \w+ match)?$"))


def test_an_uploaded_image_takes_words_a_balance_and_filters(page: Page, library: list[Path]) -> None:
    """The upload weighs against the words and is filtered as the same image would be by its indexed id, which
    a search by id leaves out of its answer (the upload, not being it, finds its indexed twin too)."""
    example = library[7]
    page.goto("/")
    page.get_by_label("Choose an image to search by").set_input_files(example)
    expect_found(page, f"similar to {example.name}")
    image_id = shown_results(page)[0][1]  # the upload finds itself first (the test above)

    search_for(page, "blue")
    slider = page.get_by_role("slider", name="Balance between words and example image")
    slider.focus()
    # The old and the new balance can rank alike: wait for the new answer itself.
    with page.expect_response(lambda response: response.url.endswith("/search/image")):
        page.keyboard.press("ArrowLeft")  # towards the words
    expect(slider).to_have_attribute("aria-valuetext", "60% words, 40% image")
    expect(page.locator(".result-grid.stale")).to_have_count(0)
    terms = [{"text": "blue", "weight": 0.6}, {"image_id": image_id, "weight": 0.4}]
    expected = [hit_id for _, hit_id, _ in api_results(page, {"terms": terms})]
    assert [hit_id for _, hit_id, _ in shown_results(page) if hit_id != image_id] == expected

    folder = example.parent.name
    page.get_by_role("button", name=re.compile("^Filters")).click()
    page.get_by_label("Folder").select_option(folder)
    expected = [hit_id for _, hit_id, _ in api_results(page, {"terms": terms, "filters": {"folder": folder}})]
    expect_found(page, f"Found {len(expected) + 1} images")
    assert [hit_id for _, hit_id, _ in shown_results(page) if hit_id != image_id] == expected
    assert "upload" in query_of(page)


def test_negative_term_changes_the_results(page: Page) -> None:
    page.goto("/")
    search_for(page, "red square")
    before = shown_results(page)

    without = page.get_by_role("searchbox", name="Without")
    without.fill("green")
    without.press("Enter")
    expect_found(page, "matching “red square”, without “green”")

    after = shown_results(page)
    assert query_of(page) == {"q": ["red square"], "not": ["green"]}
    assert after != before
    assert after == api_results(page, {"query": "red square", "negative": "green"})


def test_folder_filter_narrows_the_search(page: Page, library: list[Path]) -> None:
    folder = library[0].parent.name
    in_folder = [path for path in library if path.parent.name == folder]
    page.goto("/?q=circle")
    expect_found(page, "matching “circle”")
    filters = page.get_by_role("button", name=re.compile("^Filters"))
    expect(filters).to_have_attribute("aria-expanded", "false")
    filters.click()
    page.get_by_label("Folder").select_option(folder)

    expect_found(page, f"Found {len(in_folder)} images")
    assert query_of(page) == {"q": ["circle"], "folder": [folder]}
    assert shown_results(page) == api_results(page, {"query": "circle", "filters": {"folder": folder}})
    expect(filters).to_have_accessible_name("Filters · 1")

    page.get_by_role("button", name="Clear filters").click()
    expect_found(page, f"Found {len(library)} images")
    assert query_of(page) == {"q": ["circle"]}


def test_balance_slider_weighs_words_against_the_example_image(page: Page) -> None:
    image_id = api_results(page, {"query": "green"})[0][1]
    page.goto(f"/?q=blue&img={image_id}")
    expect_found(page, "matching “blue” and similar to")
    slider = page.get_by_role("slider", name="Balance between words and example image")
    expect(slider).to_have_attribute("aria-valuetext", "50% words, 50% image")
    slider.focus()
    page.keyboard.press("ArrowRight")  # towards the image

    expect(page).to_have_url(re.compile(r"w=0\.4"))
    expect(slider).to_have_attribute("aria-valuetext", "40% words, 60% image")
    terms = [{"text": "blue", "weight": 0.4}, {"image_id": image_id, "weight": 0.6}]
    expected = api_results(page, {"terms": terms})
    expect(results(page).first.locator("img")).to_have_attribute("src", re.compile(rf"/{expected[0][1]}$"))
    assert shown_results(page) == expected


def test_url_holds_the_search_and_history_replays_it(page: Page) -> None:
    page.goto("/?q=green+triangle&not=circle")
    expect_found(page, "matching “green triangle”, without “circle”")
    first = shown_results(page)
    assert first == api_results(page, {"query": "green triangle", "negative": "circle"})

    search_for(page, "yellow square")
    second = shown_results(page)
    assert second != first

    page.go_back()
    expect_found(page, "matching “green triangle”, without “circle”")
    expect(search_box(page)).to_have_value("green triangle")
    expect(page.get_by_role("searchbox", name="Without")).to_have_value("circle")
    assert shown_results(page) == first

    page.go_forward()
    expect_found(page, "matching “yellow square”")
    assert shown_results(page) == second


def test_keyboard_moves_through_results_and_opens_them(page: Page) -> None:
    page.goto("/")
    page.locator("body").press("/")
    expect(search_box(page)).to_be_focused()
    page.keyboard.type("red triangle")
    page.keyboard.press("Enter")
    expect_found(page, "matching “red triangle”")

    page.keyboard.press("ArrowDown")
    expect(results(page).nth(0)).to_be_focused()
    page.keyboard.press("ArrowRight")
    expect(results(page).nth(1)).to_be_focused()
    columns = grid_columns(page)
    page.keyboard.press("ArrowDown")
    expect(results(page).nth(1 + columns)).to_be_focused()
    page.keyboard.press("ArrowUp")
    expect(results(page).nth(1)).to_be_focused()

    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("heading")).to_have_text(file_name_of(results(page).nth(1)))
    page.keyboard.press("ArrowRight")  # the large view steps to the next result
    expect(dialog.get_by_role("heading")).to_have_text(file_name_of(results(page).nth(2)))
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(results(page).nth(2)).to_be_focused()

    page.keyboard.press("/")
    expect(search_box(page)).to_be_focused()


def test_server_error_is_explained(page: Page, snapshot) -> None:
    # A real refusal: the server does not know this image id and says so.
    page.goto("/?img=987654")
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("This search did not work")
    refusal = page.request.post("/search", data={"image_id": "987654"})
    assert refusal.status in range(400, 500)
    expect(alert).to_contain_text(refusal.json()["error"])

    # Any message the API sends is shown as it is.
    message = "The index is being rebuilt; try again in a minute."
    refuse = {"status": 400, "json": {"success": False, "error": message}}
    page.route("**/search", lambda route: route.fulfill(**refuse))
    page.goto("/")
    search_box(page).fill("blue circle")
    search_box(page).press("Enter")
    expect(page.get_by_role("alert")).to_contain_text(message)
    snapshot(page, "error")

    page.unroute("**/search")
    page.get_by_role("button", name="Try again").click()
    expect_found(page, "matching “blue circle”")


def test_unreachable_server_is_explained(page: Page) -> None:
    page.goto("/")
    page.route("**/search", lambda route: route.abort("connectionrefused"))
    search_box(page).fill("green circle")
    search_box(page).press("Enter")
    expect(page.get_by_role("alert")).to_contain_text("Viewfinder is not answering")

    page.unroute("**/search")
    page.get_by_role("button", name="Try again").click()
    expect_found(page, "matching “green circle”")


def test_offline_state_recovers_when_the_connection_returns(page: Page, snapshot) -> None:
    page.goto("/?q=red")
    expect_found(page, "matching “red”")
    page.context.set_offline(True)
    search_box(page).fill("blue")
    search_box(page).press("Enter")
    expect(page.get_by_role("alert")).to_contain_text("You are offline")
    expect(page.get_by_role("status").filter(has_text="You are offline")).to_be_visible()
    snapshot(page, "offline")

    page.context.set_offline(False)
    expect_found(page, "matching “blue”")


def test_phone_layout_fits_without_sideways_scrolling(phone: Page, snapshot) -> None:
    phone.goto("/")
    snapshot(phone, "phone-home")
    search_for(phone, "yellow triangle")
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390
    assert grid_columns(phone) == 2
    snapshot(phone, "phone-results")
    results(phone).first.tap()
    expect(phone.get_by_role("button", name="Find similar")).to_be_in_viewport()
    snapshot(phone, "phone-detail")


# Every control on show smaller than a fingertip (44 CSS pixels) in either direction, described.
SMALL_TARGETS = """() => [...document.querySelectorAll('button, a, input, select, summary')]
    .map(control => [control, control.getBoundingClientRect()])
    .filter(([, box]) => box.width > 0 && box.height > 0 && (box.width < 44 || box.height < 44))
    .map(([control, box]) => `${control.outerHTML.slice(0, 80)}: ${box.width} x ${box.height}`)"""


def test_every_control_on_a_touch_screen_is_fingertip_sized(phone: Page) -> None:
    phone.goto("/")
    assert phone.evaluate(SMALL_TARGETS) == []
    search_for(phone, "yellow triangle")
    assert phone.evaluate(SMALL_TARGETS) == []
    results(phone).first.tap()
    expect(phone.get_by_role("dialog")).to_be_visible()
    phone.get_by_role("dialog").get_by_text("Advanced").tap()
    assert phone.evaluate(SMALL_TARGETS) == []


def test_a_token_guarded_server_asks_for_its_token_and_then_shows_images(browser, token_server, snapshot) -> None:
    url, token = token_server
    context = browser.new_context(base_url=url, viewport={"width": 1280, "height": 860})
    page = context.new_page()
    asking = page.get_by_role("alert").filter(has_text="This server needs an access token")
    page.goto("/?q=red")
    expect(asking).to_be_visible()  # in place of results
    page.goto("/")
    expect(asking).to_be_visible()  # on the home page, before any search
    snapshot(page, "token")

    # A wrong token is refused where it was typed, rather than the page reloading into the same question.
    page.get_by_label("Access token").fill("not-the-token")
    page.get_by_role("button", name="Use token").click()
    expect(asking).to_contain_text("The server did not accept that token")
    expect(page.get_by_label("Access token")).to_have_attribute("aria-invalid", "true")
    page.get_by_label("Access token").fill(token)
    with page.expect_navigation():
        page.get_by_role("button", name="Use token").click()
    expect(page.get_by_role("list", name="Try").get_by_role("button").first).to_be_visible()
    expect(asking).to_have_count(0)
    search_for(page, "red")
    # The thumbnails, which no script can add a header to, come through with the token as well.
    thumbnails = results(page).locator("img")
    thumbnails.nth(5).wait_for()
    page.wait_for_function("images => images.every(image => image.complete)", arg=thumbnails.element_handles()[:6])
    widths = thumbnails.evaluate_all("images => images.slice(0, 6).map(image => image.naturalWidth)")
    assert len(widths) == 6 and min(widths) > 0
    context.close()
