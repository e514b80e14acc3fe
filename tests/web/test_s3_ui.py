"""The web UI, unchanged, over photos in S3: the library in a real S3 server (SeaweedFS on loopback), indexed
from its bucket, published as a snapshot and served from that snapshot. Thumbnails come from the index; the
large view follows `/images/{id}`'s redirect to a presigned URL that the S3 server itself checks."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from test_ui import expect_found, results, shown_results

pytestmark = pytest.mark.slow  # a browser driving a real server

IMAGE_LOADED = "image => image.complete && image.naturalWidth > 0"


def test_the_web_ui_searches_photos_in_s3_and_shows_originals_through_presigned_urls(s3_page: Page, seaweed) -> None:
    page = s3_page
    page.goto("/?q=red+circle")
    expect_found(page, "matching “red circle”")
    thumbnails = page.locator("[aria-label='Search results'] img")
    assert thumbnails.count() == len(shown_results(page)) == 36
    for first_row in range(4):  # thumbnails come from the index, never from the bucket
        page.wait_for_function(IMAGE_LOADED, arg=thumbnails.nth(first_row).element_handle())

    with page.expect_response(lambda response: response.url.startswith(seaweed.endpoint)) as original:
        results(page).first.click()
    assert "X-Amz-Signature=" in original.value.url and original.value.status == 200
    picture = page.get_by_role("dialog").get_by_role("img")
    expect(picture).to_be_visible()
    page.wait_for_function(IMAGE_LOADED, arg=picture.element_handle())
