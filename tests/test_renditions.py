"""Display renditions: browsers cannot show TIFF or HEIC originals, so those get a bounded JPEG to display."""

from __future__ import annotations

import io

import httpx
import pytest
from PIL import Image
from service_helpers import start_server_process

from viewfinder.app.index import RENDITION_SIDE, RENDITION_SIDES, THUMBNAIL_SIDE, THUMBNAIL_SIDES
from viewfinder.pipeline.indexer import run_index


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory):
    """A served test:tiny index of a wide TIFF, a HEIC and a PNG; yields the URL and the index directory."""
    folder = tmp_path_factory.mktemp("renditions") / "photos"
    folder.mkdir()
    Image.new("RGB", (3000, 1000), (200, 30, 30)).save(folder / "scan.tiff")
    Image.new("RGB", (64, 48), (30, 30, 200)).save(folder / "plain.png")
    import pillow_heif

    pillow_heif.register_heif_opener()
    Image.new("RGB", (640, 480), (30, 200, 30)).save(folder / "phone.heic", format="HEIF")
    index = folder.parent / "index"
    report = run_index(index, [str(folder)], model="test:tiny")
    assert report.total == 3 and not report.skipped
    with start_server_process(index) as url, httpx.Client(base_url=url, timeout=60) as http:
        yield http, index


def _by_name(http: httpx.Client) -> dict[str, dict]:
    results = http.post("/search", json={"query": "anything", "top_k": 10, "min_relevance": 0}).json()["results"]
    return {result["file_name"]: result for result in results}


def test_results_point_browsers_at_a_rendition_only_for_formats_they_cannot_show(served):
    http, _ = served
    results = _by_name(http)
    for name in ("scan.tiff", "phone.heic"):
        assert results[name]["display_url"] == f"/renditions/{results[name]['image_id']}"
    assert results["plain.png"]["display_url"] == results["plain.png"]["image_url"]
    meta = http.get(f"/images/{results['scan.tiff']['image_id']}/meta").json()
    assert meta["display_url"] == results["scan.tiff"]["display_url"]


def test_a_rendition_is_a_bounded_upright_jpeg_cached_in_the_index_and_the_original_stays(served):
    http, index = served
    results = _by_name(http)
    for name, colour in (("scan.tiff", (200, 30, 30)), ("phone.heic", (30, 200, 30))):
        response = http.get(results[name]["display_url"])
        assert response.status_code == 200 and response.headers["content-type"] == "image/jpeg"
        picture = Image.open(io.BytesIO(response.content))
        assert picture.format == "JPEG" and max(picture.size) <= RENDITION_SIDE
        assert all(abs(a - b) <= 12 for a, b in zip(picture.convert("RGB").getpixel((5, 5)), colour, strict=True))
    wide = Image.open(io.BytesIO(http.get(results["scan.tiff"]["display_url"]).content))
    assert wide.size == (RENDITION_SIDE, round(RENDITION_SIDE / 3))
    assert len(list((index / "renditions").glob("*.jpg"))) == 2
    original = http.get(results["scan.tiff"]["image_url"])
    assert original.headers["content-type"] == "image/tiff" and Image.open(io.BytesIO(original.content)).size == (
        3000,
        1000,
    )


def test_renditions_answer_304_to_their_etag_and_404_json_for_unknown_ids(served):
    http, _ = served
    url = _by_name(http)["scan.tiff"]["display_url"]
    etag = http.get(url).headers["etag"]
    assert http.get(url, headers={"If-None-Match": etag}).status_code == 304
    for bad in ("/renditions/999999", "/renditions/abc", "/renditions/..%2Fcatalog.sqlite"):
        response = http.get(bad)
        assert response.status_code == 404 and response.json()["success"] is False


def test_a_phone_sized_rendition_and_a_sharper_thumbnail_are_made_once_for_any_format(served):
    http, index = served
    results = _by_name(http)
    wide = results["scan.tiff"]["image_id"]
    phone = http.get(f"/renditions/{wide}", params={"size": 1080})
    assert phone.status_code == 200 and phone.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(phone.content)).size == (1080, 360)
    sharp = http.get(f"/thumbnails/{wide}", params={"size": 768})
    assert Image.open(io.BytesIO(sharp.content)).size == (768, 256)
    assert Image.open(io.BytesIO(http.get(f"/thumbnails/{wide}").content)).size == (THUMBNAIL_SIDE, 128)
    # A browser shows a PNG itself, but a screen rendition of it is there too; a small one is never enlarged.
    small = http.get(f"/renditions/{results['plain.png']['image_id']}", params={"size": 1080})
    assert Image.open(io.BytesIO(small.content)).size == (64, 48)
    assert [path.name.split("-")[0] for path in (index / "renditions-1080").glob("*.jpg")].count(wide) == 1
    assert len(list((index / "thumbnails-768").glob("*.jpg"))) == 1
    assert http.get(f"/renditions/{wide}", params={"size": 1080}).content == phone.content  # the cached one


def test_only_the_offered_sizes_are_made(served):
    http, _ = served
    image_id = _by_name(http)["scan.tiff"]["image_id"]
    for path, size in (("renditions", 4000), ("renditions", 384), ("thumbnails", 1080), ("thumbnails", "big")):
        response = http.get(f"/{path}/{image_id}", params={"size": size})
        assert response.status_code == 422 and "size" in response.json()["error"]

    listed = http.get("/openapi.json").json()["paths"]
    for path, sizes in (("/renditions/{image_id}", RENDITION_SIDES), ("/thumbnails/{image_id}", THUMBNAIL_SIDES)):
        (parameter,) = [p for p in listed[path]["get"]["parameters"] if p["name"] == "size"]
        assert sorted(parameter["schema"]["enum"]) == sorted(sizes)
