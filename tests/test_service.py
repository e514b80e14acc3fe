"""The HTTP service against real uvicorn servers on loopback: shapes, bad input, security, fuzzing and load.

One server runs as `python -m viewfinder serve` with a search token and a CORS origin (most tests); the live
update tests in test_service_live.py run their own.
"""

from __future__ import annotations

import io
import socket
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
import schemathesis
from cli_helpers import run_cli, write_colour_images
from hypothesis import HealthCheck, given, settings, strategies
from PIL import Image
from schemathesis import GenerationMode
from service_helpers import API_TOKEN, decompression_bomb_png, exif_dated_jpeg, start_server_process

from viewfinder.pipeline.indexer import run_index
from viewfinder.search import ranking

ORIGIN = "http://photos.example"
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("service") / "photos"
    write_colour_images(folder, 24)
    exif_dated_jpeg(folder / "trips" / "dated-2021.jpg", "2021:06:01 12:00:00", colour=(200, 40, 40))
    exif_dated_jpeg(folder / "trips" / "dated-2023.jpg", "2023:03:15 08:30:00", colour=(40, 40, 200))
    Image.new("RGB", (1600, 1200), (90, 160, 90)).save(folder / "large.jpg")
    return folder


@pytest.fixture(scope="module")
def server(library: Path):
    index = library.parent / "index"
    run_index(index, [str(library)], model="test:tiny")
    with start_server_process(index, "--cors-origin", ORIGIN, env={"VIEWFINDER_API_TOKEN": API_TOKEN}) as url:
        yield url


@pytest.fixture
def client(server: str):
    with httpx.Client(base_url=server, headers={"Authorization": f"Bearer {API_TOKEN}"}, timeout=30) as http:
        yield http


def search(client: httpx.Client, **body) -> dict:
    response = client.post("/search", json=body)
    assert response.status_code == 200, response.text
    return response.json()


RESULT_FIELDS = {
    "rank",
    "image_id",
    "image_url",
    "thumbnail_url",
    "similarity",
    "width",
    "height",
    "file_name",
    "folder",
    "size_bytes",
    "taken_at",
    "relevance",
    "match",
    "display_url",
    "words",  # null: the words read in the photo come with a quoted phrase (tests/test_ocr.py)
}


def test_text_search_answers_the_contract_shape_and_repeats_come_from_the_cache(client):
    first = search(client, query="a red sunset", top_k=5)
    assert first["success"] is True and first["query"] == "a red sunset" and first["count"] == 5
    assert set(first["timings_ms"]) == {"encode", "search", "rerank", "total"} and first["cached"] is False
    results = first["results"]
    assert [r["rank"] for r in results] == [1, 2, 3, 4, 5]
    assert all(set(r) == RESULT_FIELDS for r in results)
    assert [r["similarity"] for r in results] == sorted((r["similarity"] for r in results), reverse=True)
    assert all(r["image_url"] == f"/images/{r['image_id']}" and not r["folder"].startswith("/") for r in results)

    again = search(client, query="  a red   sunset ", top_k=5)  # the same query once normalised
    assert again["cached"] is True and again["results"] == results
    assert search(client, query="a red sunset", top_k=4)["cached"] is False


def test_terms_negatives_example_images_and_filters_combine(client):
    example = search(client, query="green", top_k=1)["results"][0]["image_id"]
    by_example = search(client, image_id=example, top_k=3)
    # "Find similar" lists the other images: the example itself is what the person already has.
    assert by_example["count"] == 3 and example not in [r["image_id"] for r in by_example["results"]]

    mixed = search(
        client,
        terms=[{"text": "mountains", "weight": 0.7}, {"image_id": example, "weight": 0.3}],
        negative="snow",
        top_k=10,
    )
    assert mixed["count"] == 10 and "snow" in mixed["query"]
    # The answer says how the search was read, with the weights given (before they are scaled to sum to 1).
    assert mixed["terms"] == [
        {"text": "mountains", "weight": 0.7},
        {"image_id": example, "weight": 0.3},
        {"text": "snow", "weight": -1.0},
    ]
    typed = search(client, query="70% red circle + 30% green square without blue in July 2023", top_k=3)
    assert typed["terms"] == [
        {"text": "red circle", "weight": 0.7},
        {"text": "green square", "weight": 0.3},
        {"text": "blue", "weight": -1.0},
    ]
    assert typed["filters"]["taken_after"] == "2023-07-01" and typed["filters"]["taken_before"] == "2023-07-31"

    nested = search(client, query="anything", top_k=100, filters={"folder": "nested"})
    assert nested["count"] == 8 and all(r["folder"] == "nested" for r in nested["results"])
    dated = search(client, query="anything", top_k=100, filters={"taken_after": "2022-01-01"})
    assert [r["file_name"] for r in dated["results"]] == ["dated-2023.jpg"]
    assert dated["results"][0]["taken_at"] == "2023-03-15T08:30:00"
    until = search(client, query="anything", top_k=100, filters={"taken_before": "2021-06-01"})
    assert [r["file_name"] for r in until["results"]] == ["dated-2021.jpg"]
    large = search(client, query="anything", top_k=100, filters={"min_width": 1000, "min_height": 1000})
    assert [r["file_name"] for r in large["results"]] == ["large.jpg"]


def test_resolution_rerank_orders_by_the_documented_score_and_is_off_by_default(client):
    plain = search(client, query="a photo", top_k=27)["results"]
    reranked = search(client, query="a photo", top_k=27, rerank={"resolution": 1.0})["results"]
    assert [r["similarity"] for r in plain] == sorted((r["similarity"] for r in plain), reverse=True)
    scores = [r["similarity"] + ranking.resolution(r["width"], r["height"]) for r in reranked]
    assert scores == sorted(scores, reverse=True) and [r["rank"] for r in reranked] == list(range(1, 28))
    assert {r["image_id"] for r in reranked} == {r["image_id"] for r in plain}

    def rank_of_large(results: list[dict]) -> int:
        return next(r["rank"] for r in results if r["file_name"] == "large.jpg")

    assert rank_of_large(reranked) < rank_of_large(plain) or rank_of_large(plain) == 1


def test_uploaded_image_finds_itself_first(client, library):
    path = library / "image-0005.jpg"
    response = client.post("/search/image", files={"image": (path.name, path.read_bytes(), "image/jpeg")})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["results"][0]["file_name"] == path.name and body["results"][0]["similarity"] > 0.99
    assert body["count"] == 27 and body["query"] == "uploaded image"
    assert body["terms"] == [{"image": "uploaded", "weight": 1.0}] and body["filters"]["folder"] is None
    with_text = client.post("/search/image", files={"image": (path.name, path.read_bytes())}, data={"top_k": "3"})
    assert with_text.status_code == 200 and with_text.json()["count"] == 3


def test_an_upload_takes_weights_and_filters_like_a_json_search(client, library):
    """The upload is weighed against its text, and filters narrow it, as `terms` and `filters` do in /search."""
    path = library / "image-0005.jpg"
    upload = {"image": (path.name, path.read_bytes(), "image/jpeg")}
    image_id = next(
        r["image_id"] for r in search(client, query="x", top_k=100)["results"] if r["file_name"] == path.name
    )
    for text_share in (0.2, 0.8):
        fields = {"query": "red", "query_weight": str(text_share), "image_weight": str(1 - text_share), "top_k": "11"}
        by_upload = client.post("/search/image", files=upload, data=fields).json()["results"]
        terms = [{"text": "red", "weight": text_share}, {"image_id": image_id, "weight": 1 - text_share}]
        by_id = search(client, terms=terms, top_k=10)["results"]
        # The same order, less the indexed image itself, which a search by its id leaves out.
        assert [r["image_id"] for r in by_upload if r["image_id"] != image_id][:10] == [r["image_id"] for r in by_id]
    narrowed = client.post("/search/image", files=upload, data={"folder": "trips", "taken_after": "2022-01-01"})
    assert [r["file_name"] for r in narrowed.json()["results"]] == ["dated-2023.jpg"]
    assert narrowed.json()["filters"]["folder"] == "trips"
    bad_date = client.post("/search/image", files=upload, data={"taken_after": "last tuesday"})
    assert bad_date.status_code == 400 and bad_date.json()["success"] is False


def test_the_library_overview_gives_the_newest_photos_and_each_folder_with_a_count_and_cover(client):
    answer = search(client, query="anything", top_k=100, min_relevance=0)
    everything = answer["results"] + answer["weaker"]
    assert len(everything) == 27

    def dated_newest_first(images: list[dict]) -> list[str]:
        dated = [i for i in images if i["taken_at"]]
        return [i["image_id"] for i in sorted(dated, key=lambda i: i["taken_at"], reverse=True)]

    whole = client.get("/library/overview", params={"recent": 2})
    assert whole.status_code == 200, whole.text
    assert [i["file_name"] for i in whole.json()["recent"]] == ["dated-2023.jpg", "dated-2021.jpg"]
    tiles = {tile["folder"]: tile for tile in whole.json()["folders"]}
    top = Counter(i["folder"].split("/")[0] for i in everything if i["folder"])
    assert {name: tile["images"] for name, tile in tiles.items()} == top
    for name, tile in tiles.items():
        inside = [i for i in everything if i["folder"] == name or i["folder"].startswith(name + "/")]
        # Its newest photo: the newest dated one where it has any (undated photos come after dated ones).
        dated = dated_newest_first(inside)
        cover = tile["cover"]["image_id"]
        assert cover == dated[0] if dated else cover in {i["image_id"] for i in inside}

    trips = client.get("/library/overview", params={"folder": "trips", "recent": 200}).json()
    assert trips["folder"] == "trips" and trips["folders"] == []
    in_trips = [i for i in everything if i["folder"] == "trips"]
    assert {i["image_id"] for i in trips["recent"]} == {i["image_id"] for i in in_trips}
    dated = dated_newest_first(in_trips)
    assert [i["image_id"] for i in trips["recent"]][: len(dated)] == dated
    assert client.get("/library/overview", params={"recent": 0}).status_code == 422


def test_images_thumbnails_and_meta_are_served_by_id(client, library):
    hit = search(client, query="anything", top_k=100, filters={"min_width": 1000})["results"][0]
    original = client.get(hit["image_url"])
    assert original.status_code == 200 and original.headers["content-type"] == "image/jpeg"
    assert original.content == (library / "large.jpg").read_bytes()

    thumb = client.get(hit["thumbnail_url"])
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
    assert thumb.headers["etag"] and "max-age" in thumb.headers["cache-control"]
    assert Image.open(io.BytesIO(thumb.content)).size == (384, 288)
    cached = list((library.parent / "index" / "thumbnails").glob(f"{hit['image_id']}-*.jpg"))
    assert len(cached) == 1 and cached[0].read_bytes() == thumb.content
    assert client.get(hit["thumbnail_url"]).content == thumb.content
    revalidated = client.get(hit["thumbnail_url"], headers={"If-None-Match": thumb.headers["etag"]})
    assert revalidated.status_code == 304 and not revalidated.content

    meta = client.get(f"/images/{hit['image_id']}/meta").json()
    assert meta == {key: value for key, value in hit.items() if key not in ("rank", "similarity", "relevance", "match")}


def test_health_stats_openapi_and_ui_describe_the_service(client, server):
    assert httpx.get(f"{server}healthz").json() == {"status": "ok", "images": 27}
    stats = client.get("/stats").json()
    assert stats["images"] == 27 and stats["model"] == "test:tiny" and stats["dim"] == 32
    assert stats["index_type"] == "flat" and stats["folders"] == ["nested", "trips"] and stats["generation"] >= 1
    assert stats["taken_range"] == ["2021-06-01T12:00:00", "2023-03-15T08:30:00"] and stats["bytes_on_disk"] > 0
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/search", "/search/image", "/images/{image_id}", "/thumbnails/{image_id}", "/healthz"} <= set(paths)
    assert {"/images/{image_id}/meta", "/stats", "/admin/reindex"} <= set(paths)
    page = httpx.get(server)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "build_web.sh" in page.text or '<div id="root">' in page.text


def test_search_token_guards_everything_but_health_and_ui(server):
    for token in (None, "wrong-token"):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        cookies = {"viewfinder_token": token} if token else {}
        with httpx.Client(base_url=server, headers=headers, cookies=cookies) as anonymous:
            for response in (
                anonymous.post("/search", json={"query": "cat"}),
                anonymous.post("/search/image", files={"image": ("a.jpg", b"x")}),
                anonymous.get("/images/1"),
                anonymous.get("/thumbnails/1"),
                anonymous.get("/images/1/meta"),
                anonymous.get("/stats"),
            ):
                assert response.status_code == 401, response.request.url
                assert response.json()["success"] is False and "Bearer" in response.json()["error"]
                assert response.headers["www-authenticate"] == "Bearer"
            assert anonymous.get("/healthz").status_code == 200 and anonymous.get("/").status_code == 200


def test_the_web_ui_may_send_the_search_token_as_a_cookie(server):
    """What the page stores after asking for the token (URL-encoded), so that <img> requests carry it too."""
    with httpx.Client(base_url=server, cookies={"viewfinder_token": quote(API_TOKEN)}) as browser:
        assert browser.post("/search", json={"query": "cat", "top_k": 1}).status_code == 200
        assert browser.get("/thumbnails/1").status_code == 200
        assert browser.get("/stats").status_code == 200


def test_admin_routes_are_forbidden_while_no_admin_token_is_set(client, server):
    """With a credential it is a 403, since no token could open them; without one a 401, as everywhere."""
    for response in (client.post("/admin/reindex"), client.get("/admin/reindex")):
        assert response.status_code == 403 and "VIEWFINDER_ADMIN_TOKEN" in response.json()["error"]
    for method in ("POST", "GET"):
        response = httpx.request(method, f"{server}admin/reindex")
        assert response.status_code == 401 and "VIEWFINDER_ADMIN_TOKEN" in response.json()["error"]


def test_cors_answers_only_the_configured_origin(server):
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
    allowed = httpx.options(f"{server}search", headers={"Origin": ORIGIN, **preflight})
    assert allowed.status_code == 200 and allowed.headers["access-control-allow-origin"] == ORIGIN
    refused = httpx.options(f"{server}search", headers={"Origin": "http://evil.example", **preflight})
    assert refused.status_code == 400 and "access-control-allow-origin" not in refused.headers
    other = httpx.get(f"{server}healthz", headers={"Origin": "http://evil.example"})
    assert "access-control-allow-origin" not in other.headers


JSON_CASES = [
    ({"query": ""}, 422, "at least 1 character"),
    ({"query": "   "}, 400, "empty"),
    ({"query": "x" * 501}, 422, "at most 500 characters"),
    ({}, 400, "empty"),
    ({"query": "cat", "top_k": 0}, 422, "top_k"),
    ({"query": "cat", "top_k": 1001}, 422, "top_k"),
    ({"query": "cat", "top_k": "many"}, 422, "top_k"),
    ({"image_id": "999999"}, 404, "999999"),
    ({"image_id": "../catalog.sqlite"}, 404, "catalog"),
    ({"terms": [{"image_id": "²"}]}, 404, "²"),
    ({"query": "cat", "filters": {"taken_after": "last summer"}}, 400, "not a date"),
    ({"query": "cat", "filters": {"taken_before": "2024-13-45"}}, 400, "not a date"),
    ({"query": "cat", "filters": {"min_width": -1}}, 422, "min_width"),
    ({"query": "cat", "filters": {"min_width": 10**30}}, 422, "min_width"),
    ({"query": "cat", "colour": "red"}, 422, "colour"),
    ({"query": "cat", "terms": [{"text": "a", "image_id": "1"}]}, 400, "exactly one"),
    ({"query": "cat", "negative": "cat"}, 400, "cancel"),
    ({"terms": [{"text": "dog", "weight": -1}]}, 400, "positive"),
    ({"terms": [{"text": "dog", "weight": 1e9}]}, 422, "weight"),
    ({"terms": [{"text": "dog"}] * 17}, 422, "terms"),
    ({"query": "cat", "rerank": {"recency": 2}}, 422, "recency"),
    ({"query": ["cat"]}, 422, "query"),
]


@pytest.mark.parametrize(("body", "status", "words"), JSON_CASES)
def test_bad_search_bodies_get_a_4xx_json_error_naming_the_problem(client, body, status, words):
    response = client.post("/search", json=body)
    assert response.status_code == status, response.text
    assert response.json()["success"] is False and words in response.json()["error"]


RAW_CASES = [
    (b'{"query": ', "application/json", 400, "not valid JSON"),
    (b'{"query": "cat", "top_k": NaN}', "application/json", 422, "top_k"),
    (b"[1, 2]", "application/json", 422, "JSON object"),
    (b"null", "application/json", 422, "JSON object"),
    (b"", "application/json", 422, "JSON object"),
    (b"[" * 10_000 + b"]" * 10_000, "application/json", 400, "parsing"),
    (b'{"query": "cat", "filters": {"folder": "\\ud800"}}', "application/json", 422, "unicode"),
    (b'{"query": "cat\\udfff"}', "application/json", 422, "unicode"),
    (b'{"query": "cat"}', "text/plain", 415, "application/json"),
    (b'{"query": "cat"}', None, 415, "application/json"),
    (b'{"query": "' + b"a" * 70_000 + b'"}', "application/json", 413, "64 KB"),
]


@pytest.mark.parametrize(("content", "content_type", "status", "words"), RAW_CASES)
def test_malformed_or_mistyped_bodies_get_a_4xx_json_error(client, content, content_type, status, words):
    headers = {"Content-Type": content_type} if content_type else {}
    response = client.post("/search", content=content, headers=headers)
    assert response.status_code == status, response.text
    assert response.json()["success"] is False and words in response.json()["error"]


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/images/999999", 404),
        ("GET", "/images/abc", 404),
        ("GET", "/images/-1", 404),
        ("GET", "/images/%2e%2e%2fcatalog.sqlite", 404),
        ("GET", "/images/..%2F..%2Fetc%2Fpasswd", 404),
        ("GET", "/thumbnails/1e3", 404),
        ("GET", "/images/1/meta/more", 404),
        ("GET", "/nothing-here", 404),
        ("DELETE", "/search", 405),
        ("GET", "/search", 405),
        ("PUT", "/images/1", 405),
    ],
)
def test_unknown_ids_routes_and_methods_get_a_4xx_json_error(client, method, path, status):
    response = client.request(method, path)
    assert response.status_code == status, response.text
    assert response.json()["success"] is False and response.json()["error"]


def test_bad_uploads_get_a_4xx_json_error(client, tmp_path):
    def upload(data: bytes, **fields):
        return client.post("/search/image", files={"image": ("upload.png", data, "image/png")}, data=fields)

    cases = [
        (upload(b"this is not an image"), 400, "not an image"),
        (upload(b""), 400, "empty"),
        (upload(decompression_bomb_png(30_000, 30_000)), 400, "too large"),
        (upload(decompression_bomb_png(12_000, 12_000)), 400, "too large"),
        (upload(_png(1, 100_000)), 400, "too elongated"),  # 275 bytes that once took seconds and gigabytes
        (upload(_png(100_000_000, 1)), 400, "too elongated"),
        (upload(b"\x89PNG\r\n\x1a\n" + b"\0" * 100), 400, "cannot be used"),
        (upload(b"x" * (21 * 2**20)), 413, "20 MB"),
        (upload(Image.new("RGB", (8, 8)).tobytes(), top_k="0"), 422, "top_k"),
        (client.post("/search/image", data={"top_k": "3"}, files={"other": ("a", b"a")}), 422, "image"),
        (client.post("/search/image", json={"image": "aGVsbG8="}), 415, "multipart"),
        (client.post("/search/image", content=_chunked_upload(21 * 2**20), headers=_MULTIPART), 413, "20 MB"),
    ]
    for response, status, words in cases:
        assert response.status_code == status, response.text
        assert response.json()["success"] is False and words in response.json()["error"]


def _png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (width, height), 128).save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


_MULTIPART = {"Content-Type": "multipart/form-data; boundary=vf-boundary"}


def _chunked_upload(size: int):
    """A multipart upload streamed without a Content-Length, so only counting can stop it."""
    yield b'--vf-boundary\r\nContent-Disposition: form-data; name="image"; filename="a.jpg"\r\n\r\n'
    for _ in range(size // 2**20 + 1):
        yield b"\xff" * 2**20


@pytest.mark.slow  # hundreds of generated requests
def test_fuzzed_requests_from_the_openapi_spec_never_get_a_server_error(server):
    """Schemathesis generates valid and invalid requests for every route in /openapi.json (bounded), but those
    that move the library's files (resolving duplicates; tests/test_openapi_contract.py fuzzes them on a server
    of their own): this module's later tests need the library as it was indexed."""
    schema = schemathesis.openapi.from_url(f"{server}openapi.json", headers=AUTH).exclude(path_regex="^/duplicates/")
    modes = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    requests = strategies.one_of(*(schema.as_strategy(mode) for mode in modes))
    seen: set[int] = set()

    @given(case=requests)
    @settings(max_examples=300, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
    def call(case) -> None:
        response = case.call(headers=AUTH, timeout=30)
        seen.add(response.status_code)
        where = f"{case.method} {case.formatted_path} -> {response.status_code} {response.text_lossy()[:300]}"
        assert response.status_code < 500, where
        if 400 <= response.status_code < 500:
            assert response.json()["success"] is False and response.json()["error"], where

    call()
    assert 200 in seen and seen & {400, 404, 422}


def test_concurrent_clients_all_get_answers(server):
    """16 clients × 25 mixed requests at once (bounded), with no error and no wrong answer."""
    failures: list[str] = []
    lock = threading.Lock()

    def client_session(number: int) -> int:
        done = 0
        headers = {"Authorization": f"Bearer {API_TOKEN}"}
        with httpx.Client(base_url=server, headers=headers, timeout=60) as http:
            for step in range(25):
                kind = step % 5
                if kind == 0:
                    response = http.get(f"/thumbnails/{1 + (number + step) % 24}")
                elif kind == 1:
                    response = http.get(f"/images/{1 + step % 24}/meta")
                elif kind == 2:
                    response = http.get("/healthz")
                else:
                    response = http.post("/search", json={"query": f"colour {number} {step % 7}", "top_k": 20})
                ok = response.status_code == 200 and (kind != 3 or response.json()["count"] == 20)
                if not ok:
                    with lock:
                        failures.append(f"{response.request.url}: {response.status_code} {response.text[:200]}")
                done += 1
        return done

    with ThreadPoolExecutor(max_workers=16) as pool:
        completed = sum(pool.map(client_session, range(16)))
    assert failures == [] and completed == 16 * 25


def test_serve_on_a_taken_or_impossible_port_exits_2_with_a_clear_message(capsys, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        code, _, err = run_cli(capsys, "serve", "--index", tmp_path, "--port", taken.getsockname()[1])
    assert code == 2 and "Cannot listen on 127.0.0.1" in err and "--port" in err
    code, _, err = run_cli(capsys, "serve", "--index", tmp_path, "--port", 70000)
    assert code == 2 and "--port 70000: must be between 0 and 65535" in err
