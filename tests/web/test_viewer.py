"""The photo viewer on a 5 MP photo: screen-sized pictures, the original only when zoomed past them, zoom."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import BIG_PHOTO, desktop_page, phone_page
from PIL import Image
from playwright.sync_api import Browser, Page, Response, expect

pytestmark = pytest.mark.slow  # a browser driving a real server

SCREEN_LOADED = "image => image.complete && image.naturalWidth > 0"


@pytest.fixture
def big_page(browser: Browser, big_photo_server: tuple[str, Path]) -> Iterator[Page]:
    yield from desktop_page(browser, big_photo_server[0])


@pytest.fixture
def big_phone(browser: Browser, big_photo_server: tuple[str, Path]) -> Iterator[Page]:
    yield from phone_page(browser, big_photo_server[0])


def open_big_photo(page: Page) -> tuple[str, list[Response]]:
    """Opens the big photo's viewer from its link; its id, and every response the page got meanwhile."""
    answer = page.request.post("/search", data={"query": "a photo", "top_k": 10, "min_relevance": 0}).json()
    (image_id,) = [hit["image_id"] for hit in answer["results"] if hit["file_name"] == BIG_PHOTO]
    responses: list[Response] = []
    page.on("response", lambda response: responses.append(response))
    page.goto(f"/?q=a+photo&photo={image_id}")
    picture = page.get_by_role("dialog").get_by_role("img", name=BIG_PHOTO)
    expect(picture).to_be_visible()
    page.wait_for_function(SCREEN_LOADED, arg=picture.element_handle())
    expect(page.get_by_role("dialog").get_by_role("status")).to_have_count(0)  # no longer loading
    return image_id, responses


def bytes_of_photo(responses: list[Response], image_id: str) -> int:
    """What the page downloaded of the photo itself (its thumbnail aside)."""
    shown = [r for r in responses if re.search(rf"/(renditions|images)/{image_id}(\?|$)", r.url)]
    return sum(len(response.body()) for response in shown if response.status == 200)


@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_the_viewer_of_a_large_photo_loads_a_screen_rendition_not_the_original(device, request, big_photo_server):
    page = request.getfixturevalue("big_page" if device == "desktop" else "big_phone")
    image_id, responses = open_big_photo(page)
    original = big_photo_server[1].stat().st_size
    loaded = bytes_of_photo(responses, image_id)
    assert 0 < loaded < original / 3, f"{loaded} bytes of a {original}-byte original"
    assert not any(r.url.endswith(f"/images/{image_id}") for r in responses)
    print(f"{device}: {loaded} of {original} bytes ({loaded / original:.1%})")


def test_double_click_zooms_about_the_pointer_and_fetches_the_original(big_page: Page, snapshot) -> None:
    image_id, _ = open_big_photo(big_page)
    surface = big_page.locator(".viewer-surface")
    expect(surface).to_have_attribute("data-scale", "1.00")
    box = surface.bounding_box()
    with big_page.expect_response(re.compile(rf"/images/{image_id}$")) as original:
        surface.dblclick(position={"x": box["width"] / 3, "y": box["height"] / 3})
    assert original.value.status == 200
    assert float(surface.get_attribute("data-scale")) > 2  # one photo pixel to one screen pixel
    expect(big_page.get_by_role("dialog").get_by_role("status")).to_have_count(0)
    snapshot(big_page, "viewer-zoomed")
    surface.dblclick()
    expect(surface).to_have_attribute("data-scale", "1.00")


def test_the_wheel_and_the_keyboard_zoom_in_and_out_and_never_below_fitted(big_page: Page) -> None:
    open_big_photo(big_page)
    surface = big_page.locator(".viewer-surface")
    box = surface.bounding_box()
    big_page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    big_page.mouse.wheel(0, -200)
    expect(surface).not_to_have_attribute("data-scale", "1.00")
    zoomed = float(surface.get_attribute("data-scale"))
    assert zoomed > 1
    big_page.mouse.wheel(0, 2000)
    expect(surface).to_have_attribute("data-scale", "1.00")
    big_page.keyboard.press("+")  # and the keyboard zooms too
    expect(surface).to_have_attribute("data-scale", "1.50")
    big_page.keyboard.press("-")
    expect(surface).to_have_attribute("data-scale", "1.00")


@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_tiles_keep_each_photo_shape_and_are_sharp_on_dense_screens(device, request, snapshot) -> None:
    page = request.getfixturevalue("big_page" if device == "desktop" else "big_phone")
    page.goto("/?q=a+photo")
    expect(page.get_by_role("status").filter(has_text="Found")).to_be_visible()
    answer = page.request.post("/search", data={"query": "a photo", "top_k": 48, "min_relevance": 0}).json()
    photos = {hit["image_id"]: hit for hit in answer["results"]}
    shapes = sorted(round(hit["width"] / hit["height"], 2) for hit in photos.values())
    assert shapes == [0.67, 1.33, 1.56, 8.0]
    density = page.evaluate("devicePixelRatio")
    for card in page.locator(".result-frame img").all():
        page.wait_for_function(SCREEN_LOADED, arg=card.element_handle())
        box = card.bounding_box()
        photo = photos[card.get_attribute("src").rsplit("/", 1)[1]]
        assert box["width"] / box["height"] == pytest.approx(photo["width"] / photo["height"], rel=0.03)
        # The thumbnail holds about as many pixels as the tile shows on this screen, or all the photo has.
        chosen = page.request.get(card.evaluate("image => image.currentSrc")).body()
        pixels = Image.open(io.BytesIO(chosen)).width
        assert pixels >= 0.9 * min(box["width"] * density, photo["width"]), (device, photo["file_name"], box)
    snapshot(page, f"{'phone-' if device == 'phone' else ''}grid-shapes")


def test_square_tiles_crop_every_photo_alike_and_the_choice_is_kept(big_page: Page) -> None:
    big_page.goto("/?q=a+photo")
    expect(big_page.get_by_role("status").filter(has_text="Found")).to_be_visible()
    shape = big_page.get_by_role("group", name="Thumbnail shape")
    expect(shape.get_by_role("button", name="Fit")).to_have_attribute("aria-pressed", "true")
    shape.get_by_role("button", name="Square").click()
    expect(shape.get_by_role("button", name="Square")).to_have_attribute("aria-pressed", "true")
    frames = big_page.locator(".result-frame")
    for box in (frame.bounding_box() for frame in frames.all()):
        assert box is not None and box["width"] == pytest.approx(box["height"], abs=1)

    big_page.reload()  # a way of looking, kept by this browser rather than in the search's address
    expect(
        big_page.get_by_role("group", name="Thumbnail shape").get_by_role("button", name="Square")
    ).to_have_attribute("aria-pressed", "true")
    assert "square" not in big_page.url


def touch(page: Page, gesture: list[tuple[str, list[tuple[float, float]]]]) -> None:
    """Sends touch events as a touch screen does (each a kind and the fingers' points, in page pixels)."""
    session = page.context.new_cdp_session(page)
    for kind, points in gesture:
        fingers = [{"x": x, "y": y, "id": number} for number, (x, y) in enumerate(points)]
        session.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": fingers})
        # One event a frame, as fingers on glass give them: Chromium drops touch moves sent faster.
        page.evaluate("() => new Promise(requestAnimationFrame)")
    session.detach()


def test_on_a_touch_screen_a_swipe_changes_photo_and_pinch_and_double_tap_zoom(big_phone: Page) -> None:
    open_big_photo(big_phone)
    dialog = big_phone.get_by_role("dialog")
    expect(dialog.get_by_text("2 of 4", exact=True)).to_be_visible()
    surface = big_phone.locator(".viewer-surface")
    box = surface.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    swipe_left = [("touchStart", [(x + 100, y)]), ("touchMove", [(x, y)]), ("touchMove", [(x - 100, y)])]
    touch(big_phone, [*swipe_left, ("touchEnd", [])])
    expect(dialog.get_by_text("3 of 4", exact=True)).to_be_visible()
    swipe_right = [("touchStart", [(x - 100, y)]), ("touchMove", [(x, y)]), ("touchMove", [(x + 100, y)])]
    touch(big_phone, [*swipe_right, ("touchEnd", [])])
    expect(dialog.get_by_text("2 of 4", exact=True)).to_be_visible()

    pinch = [("touchStart", [(x - 20, y), (x + 20, y)]), ("touchMove", [(x - 60, y), (x + 60, y)])]
    touch(big_phone, [*pinch, ("touchMove", [(x - 80, y), (x + 80, y)]), ("touchEnd", [])])
    expect(surface).not_to_have_attribute("data-scale", "1.00")
    assert float(surface.get_attribute("data-scale")) == pytest.approx(4, rel=0.05)  # fingers 4x further apart
    touch(big_phone, [*swipe_left, ("touchEnd", [])])  # a zoomed photo pans instead
    expect(dialog.get_by_text("2 of 4", exact=True)).to_be_visible()

    tap = [("touchStart", [(x, y)]), ("touchEnd", [])]
    touch(big_phone, tap + tap)  # a double tap goes back to fitted
    expect(surface).to_have_attribute("data-scale", "1.00")
    touch(big_phone, tap + tap)  # and zooms in again
    expect(surface).not_to_have_attribute("data-scale", "1.00")


def test_the_viewer_says_it_is_loading_and_fetches_the_photos_either_side_ahead(big_page: Page) -> None:
    answer = big_page.request.post("/search", data={"query": "a photo", "top_k": 10, "min_relevance": 0}).json()
    order = [hit["file_name"] for hit in answer["results"]]
    ids = {hit["file_name"]: hit["image_id"] for hit in answer["results"]}
    place = order.index(BIG_PHOTO)
    either_side = [name for name in order[max(0, place - 1) : place + 2] if name != BIG_PHOTO]
    held = []
    big_page.route(re.compile(rf"/renditions/{ids[BIG_PHOTO]}"), lambda route: held.append(route))  # held back
    requested: list[str] = []
    big_page.on("request", lambda request: requested.append(request.url))
    big_page.goto("/?q=a+photo")
    expect(big_page.get_by_role("status").filter(has_text="Found")).to_be_visible()
    with big_page.expect_request(re.compile(rf"/renditions/{ids[BIG_PHOTO]}")):
        big_page.get_by_role("button", name=re.compile(re.escape(BIG_PHOTO))).click()
    loading = big_page.get_by_role("dialog").get_by_role("status")
    expect(loading).to_have_text("Loading the photo")
    for route in held:
        route.continue_()
    expect(loading).to_have_count(0)
    # Each at the size this stage shows it: a screen rendition, or a small photo's original.
    for name in either_side:
        assert any(re.search(rf"/(images|renditions)/{ids[name]}(\?size=\d+)?$", url) for url in requested), name
    for name in set(order) - {BIG_PHOTO, *either_side}:
        assert not any(re.search(rf"/(images|renditions)/{ids[name]}", url) for url in requested), name


def test_a_small_photo_is_shown_at_its_own_size_not_stretched(big_page: Page) -> None:
    answer = big_page.request.post("/search", data={"query": "a photo", "top_k": 10, "min_relevance": 0}).json()
    (small,) = [hit for hit in answer["results"] if hit["file_name"] == "small.jpg"]
    big_page.goto(f"/?q=a+photo&photo={small['image_id']}")
    picture = big_page.get_by_role("dialog").get_by_role("img", name="small.jpg")
    expect(picture).to_be_visible()
    box = picture.bounding_box()
    assert (box["width"], box["height"]) == (small["width"], small["height"]) == (320, 240)
