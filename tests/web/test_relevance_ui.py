"""Relevance in the browser: the ranked list never hides right answers (the results, then the less likely ones
under a divider, one click away), the match said in a word rather than a percentage, "Find similar" with the
query photo pinned, the relevance control, sorting by capture date, and TIFF originals shown through their
JPEG rendition. Served with the test:shapes model over a library that holds no stars (conftest.shapes_server),
and over a library where one concept fills a third of the pictures (conftest.third_server).

The relevance method decides how many images pass the cut and is tuned on its own: these tests compare the
page with the API's answer, or set the cut themselves, rather than count what passes.
"""

from __future__ import annotations

import re
from collections import Counter
from urllib.parse import quote_plus

import pytest
from playwright.sync_api import Page, expect
from test_ui import CARD_NAME, PAGE_SIZE, api_results, expect_found, query_of, results, search_box, shown_results

pytestmark = pytest.mark.slow  # a browser driving a real server

WEAKER = "Less likely matches"
MATCH_WORDS = ("Strong match", "Possible match", "Weak match")


def every_card(page: Page):
    """The cards of both lists, results then the less likely ones, in page order."""
    return page.locator(".result-button")


def weaker_cards(page: Page):
    return page.get_by_role("list", name=WEAKER).get_by_role("button")


def show_weaker(page: Page):
    return page.get_by_role("button", name=re.compile(r"^Show weaker matches \(\d+\)$"))


def reveal_weaker(page: Page) -> None:
    """Clicks "Show weaker matches" where the answer has weaker ones still hidden."""
    if show_weaker(page).count():
        show_weaker(page).click()
        expect(show_weaker(page)).to_have_count(0)


def expect_settled(page: Page) -> None:
    """Waits for the answer on show to be the latest one (the summary names no search in progress)."""
    expect(page.get_by_role("status").filter(has_text="Found")).to_be_visible()
    expect(page.locator(".result-grid.stale")).to_have_count(0)


def image_ids(page: Page) -> list[str]:
    """The image id of every card on show, in page order."""
    sources = every_card(page).locator("img").evaluate_all("images => images.map(i => i.getAttribute('src'))")
    return [src.rsplit("/", 1)[1] for src in sources]


def dialog_facts(page: Page) -> dict[str, str]:
    dialog = page.get_by_role("dialog")
    return dict(zip(dialog.locator("dt").all_inner_texts(), dialog.locator("dd").all_inner_texts(), strict=True))


def cut_after(page: Page, query: str, passing: int) -> float:
    """A min_relevance that about `passing` of the query's top hits reach, whatever the method rates them."""
    answer = page.request.post("/search", data={"query": query, "top_k": PAGE_SIZE, "min_relevance": 0}).json()
    return answer["results"][passing - 1]["relevance"]


def test_results_say_their_match_in_a_word_and_carry_no_percentage(shapes_page: Page, snapshot) -> None:
    shapes_page.goto("/")
    search_box(shapes_page).fill("a red circle")
    search_box(shapes_page).press("Enter")
    expect_found(shapes_page, "")
    first = every_card(shapes_page).first
    expect(first).to_have_attribute("data-rank", "1")
    expect(first).to_have_accessible_name(re.compile(r".+, (strong|possible|weak) match$"))
    texts = every_card(shapes_page).all_inner_texts()
    assert texts and not any("%" in text for text in texts)  # no score stamped on any thumbnail
    snapshot(shapes_page, "relevance-results")
    shapes_page.emulate_media(color_scheme="dark")
    snapshot(shapes_page, "relevance-results-dark")

    word = CARD_NAME.match(first.get_attribute("aria-label")).group(3)
    first.click()
    facts = dialog_facts(shapes_page)
    assert facts["Match"] == f"{word.capitalize()} match" and facts["Match"] in MATCH_WORDS
    assert "%" not in shapes_page.get_by_role("dialog").inner_text()
    snapshot(shapes_page, "detail-match")


def test_a_red_circle_without_squares_shows_images_and_never_an_empty_page(shapes_page: Page, snapshot) -> None:
    shapes_page.goto("/?q=a+red+circle")
    expect_found(shapes_page, "")
    without = shapes_page.get_by_role("searchbox", name="Without")
    without.fill("square")
    without.press("Enter")
    expect(shapes_page).to_have_url(re.compile(r"not=square"))
    expect_settled(shapes_page)
    expect(every_card(shapes_page).first).to_be_visible()
    expect(shapes_page.get_by_role("heading", name="No images match")).to_have_count(0)
    snapshot(shapes_page, "without")


def test_weaker_matches_wait_under_a_divider_one_click_away(shapes_page: Page, snapshot) -> None:
    # The cut is set where five results pass, so both lists are there however the method rates.
    cut = cut_after(shapes_page, "a red circle", 5)
    shapes_page.goto(f"/?q=a+red+circle&rel={cut}")
    expect_found(shapes_page, "matching “a red circle”")
    request = {"query": "a red circle", "min_relevance": cut}
    shown, weaker = api_results(shapes_page, request), api_results(shapes_page, request, "weaker")
    assert shown and weaker
    assert shown_results(shapes_page) == shown
    expect(shapes_page.get_by_role("heading", name=WEAKER)).to_be_visible()
    expect(weaker_cards(shapes_page)).to_have_count(0)  # hidden until asked for
    expect(show_weaker(shapes_page)).to_have_text(f"Show weaker matches ({len(weaker)})")
    snapshot(shapes_page, "weaker-hidden")
    shapes_page.emulate_media(color_scheme="dark")
    snapshot(shapes_page, "weaker-hidden-dark")
    shapes_page.emulate_media(color_scheme="light")

    show_weaker(shapes_page).click()
    expect(weaker_cards(shapes_page)).to_have_count(len(weaker))
    assert shown_results(shapes_page, WEAKER) == weaker  # best first, after the results
    expect(weaker_cards(shapes_page).first).to_be_focused()  # focus goes on where the button was

    # The keyboard and the large view go on from the last result into the weaker ones.
    results(shapes_page).last.focus()
    shapes_page.keyboard.press("ArrowRight")
    expect(weaker_cards(shapes_page).first).to_be_focused()
    results(shapes_page).last.click()
    dialog = shapes_page.get_by_role("dialog")
    shapes_page.keyboard.press("ArrowRight")
    name = CARD_NAME.match(weaker_cards(shapes_page).first.get_attribute("aria-label")).group(2)
    expect(dialog.get_by_role("heading")).to_have_text(name)
    assert dialog_facts(shapes_page)["Match"] in MATCH_WORDS


def test_no_clear_match_shows_the_closest_at_once_and_the_rest_one_click_away(
    shapes_page: Page, shapes_phone: Page, snapshot
) -> None:
    # No star is in the library, and nothing is rated past 100: no result passes.
    query = "a blue star"
    answer = shapes_page.request.post("/search", data={"query": query, "top_k": PAGE_SIZE, "min_relevance": 100})
    closest, weaker = answer.json()["closest"], answer.json()["weaker"]
    assert answer.json()["count"] == 0 and closest

    for page in (shapes_page, shapes_phone):
        page.goto(f"/?q={quote_plus(query)}&rel=100")
        expect(page.get_by_role("heading", name="No clear matches")).to_be_visible()
        expect(page.get_by_role("heading", name=WEAKER)).to_be_visible()
        expect(weaker_cards(page)).to_have_count(len(closest))
        expect(page.get_by_role("list", name="Search results")).to_have_count(0)
        expect(show_weaker(page)).to_have_text(f"Show weaker matches ({len(weaker) - len(closest)})")
    snapshot(shapes_page, "no-clear-matches")
    snapshot(shapes_phone, "phone-no-clear-matches")
    show_weaker(shapes_phone).scroll_into_view_if_needed()
    snapshot(shapes_phone, "phone-show-weaker")
    shapes_page.emulate_media(color_scheme="dark")
    snapshot(shapes_page, "no-clear-matches-dark")

    show_weaker(shapes_page).click()
    expect(weaker_cards(shapes_page)).to_have_count(len(weaker))
    weaker_cards(shapes_page).first.click()  # the weaker ones open in the large view like any result
    assert dialog_facts(shapes_page)["Match"] in MATCH_WORDS


def test_find_similar_pins_your_photo_and_leaves_it_out_of_the_results(shapes_page: Page, snapshot) -> None:
    shapes_page.goto("/?q=a+red+circle")
    expect_found(shapes_page, "")
    image_id = image_ids(shapes_page)[0]
    every_card(shapes_page).first.click()
    name = shapes_page.get_by_role("dialog").get_by_role("heading").inner_text()
    shapes_page.get_by_role("button", name="Find similar").click()

    expect_found(shapes_page, f"similar to {name}")
    assert query_of(shapes_page) == {"img": [image_id]}
    pinned = shapes_page.get_by_role("button", name=f"Your photo: {name}")
    expect(pinned).to_be_visible()
    expect(pinned.locator("img")).to_have_attribute("src", f"/thumbnails/{image_id}")
    reveal_weaker(shapes_page)
    assert image_ids(shapes_page) and image_id not in image_ids(shapes_page)
    snapshot(shapes_page, "similar-your-photo")

    pinned.click()  # opens it large, said to be the photo the search started from
    dialog = shapes_page.get_by_role("dialog")
    expect(dialog.get_by_role("heading")).to_have_text(name)
    expect(dialog.get_by_text("Your photo", exact=True)).to_be_visible()
    expect(dialog.get_by_role("button", name="Find similar")).to_have_count(0)
    shapes_page.keyboard.press("Escape")
    expect(pinned).to_be_focused()


def test_a_concept_filling_a_third_of_the_library_fills_the_first_page(third_page: Page, third_library) -> None:
    pair, count = Counter(path.name.rsplit("-", 1)[0] for path in third_library).most_common(1)[0]
    assert count == len(third_library) // 3 <= PAGE_SIZE
    pictures = {path.name for path in third_library if path.name.startswith(f"{pair}-")}
    colour, shape = pair.split("-")
    third_page.goto(f"/?q={quote_plus(f'a {colour} {shape}')}")
    expect_found(third_page, "")
    expect(every_card(third_page).first).to_be_visible()

    def names() -> list[str]:
        labels = every_card(third_page).evaluate_all("cards => cards.map(card => card.getAttribute('aria-label'))")
        return [CARD_NAME.match(label).group(2) for label in labels]

    # Above the divider, at the server's default cut: the pair's pictures, and only those.
    shown = names()
    right = set(shown) & pictures
    assert len(right) >= 0.8 * len(pictures) and len(right) >= 0.9 * len(shown)
    reveal_weaker(third_page)
    # Every picture of the pair is on the first page, before anything else.
    assert set(names()[: len(pictures)]) == pictures


def test_the_relevance_control_offers_words_and_is_kept_in_the_url(shapes_page: Page) -> None:
    shapes_page.goto("/?q=a+red+circle")
    expect_found(shapes_page, "")
    shapes_page.get_by_role("button", name=re.compile("^Filters")).click()
    control = shapes_page.get_by_label("Relevance")
    expect(control).to_have_value("")
    # The server's own default, named as the server answers it.
    default = shapes_page.request.post("/search", data={"query": "a red circle"}).json()["min_relevance"]
    expect(control.locator("option:checked")).to_have_text(f"Default: at least {round(default)} of 100")
    assert not any("%" in option for option in control.locator("option").all_inner_texts())

    control.select_option(label="Any: list every result")
    expect(shapes_page).to_have_url(re.compile(r"rel=0"))
    expect_settled(shapes_page)
    expect(show_weaker(shapes_page)).to_have_count(0)  # every hit of the top k passes a cut of 0
    expect(results(shapes_page)).to_have_count(PAGE_SIZE)

    control.select_option(label="Strong matches only")
    expect(shapes_page).to_have_url(re.compile(r"rel=80"))
    control.select_option(value="")
    expect(shapes_page).not_to_have_url(re.compile(r"rel="))


def test_newest_first_sorts_by_capture_date_and_is_kept_in_the_url(page: Page) -> None:
    """Needs the server's `sort` request field."""
    page.goto("/?q=red")
    expect_found(page, "matching “red”")
    sort = page.get_by_role("group", name="Sort results")
    expect(sort.get_by_role("button", name="Best match")).to_have_attribute("aria-pressed", "true")

    sort.get_by_role("button", name="Newest first").click()
    expect(sort.get_by_role("button", name="Newest first")).to_have_attribute("aria-pressed", "true")
    expect(page).to_have_url(re.compile(r"sort=date"))
    expect_settled(page)
    taken = [page.request.get(f"/images/{image_id}/meta").json()["taken_at"] for image_id in image_ids(page)]
    assert taken and taken == sorted(taken, reverse=True)

    sort.get_by_role("button", name="Best match").click()
    expect(page).not_to_have_url(re.compile(r"sort="))
    expect_settled(page)
    assert shown_results(page) == api_results(page, {"query": "red"})


def test_a_tiff_original_is_shown_through_its_jpeg_rendition(shapes_page: Page) -> None:
    shapes_page.goto("/?q=a+red+circle&rel=0")
    card = shapes_page.get_by_role("button", name=re.compile(r"scan-of-a-picture\.tiff"))
    card.click()
    picture = shapes_page.get_by_role("dialog").get_by_role("img", name="scan-of-a-picture.tiff")
    expect(picture).to_have_attribute("src", re.compile(r"^/renditions/\d+\?size=(1080|2048)$"))
    shapes_page.wait_for_function("image => image.complete && image.naturalWidth > 0", arg=picture.element_handle())


def test_more_results_load_as_the_list_scrolls_and_the_count_says_what_it_counts(third_page: Page, third_library):
    third_page.goto("/?q=a+red+circle&rel=0")
    summary = third_page.get_by_role("status").filter(has_text="Found")
    expect(summary).to_contain_text(f"Found the best {PAGE_SIZE} images matching “a red circle”, more as you scroll")
    expect(every_card(third_page)).to_have_count(PAGE_SIZE)
    every_card(third_page).last.scroll_into_view_if_needed()
    expect(every_card(third_page)).to_have_count(len(third_library))  # the whole library, the limit doubled
    expect(summary).to_contain_text(f"Found {len(third_library)} images matching “a red circle”")
    assert query_of(third_page)["k"] == [str(2 * PAGE_SIZE)]
    expect(third_page.get_by_role("button", name="Show more results")).to_have_count(0)
