"""Indexed files replaced after indexing (a link to a secret, a FIFO, other content) are never served, and a
slow or blocking file cannot hold the server's threads."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from cli_helpers import write_colour_images
from service_helpers import start_server_process, start_server_thread

from viewfinder.pipeline.indexer import run_index
from viewfinder.serve.app import create_app
from viewfinder.sources import FolderSource

SECRET = b"root:x:0:0:root:/root:/bin/bash\n"


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("hardening") / "photos"
    write_colour_images(folder, 8)
    (folder / "linked.jpg").symlink_to(folder / "image-0001.jpg")  # a linked photo inside the library
    (folder.parent / "secret.txt").write_bytes(SECRET)
    return folder


@pytest.fixture(scope="module")
def server(library: Path):
    index = library.parent / "index"
    run_index(index, [str(library)], model="test:tiny")
    # No thumbnail made ahead of time: these tests replace files that no request has viewed yet.
    with start_server_process(index, env={"VIEWFINDER_WARM_THUMBNAILS": "0"}) as url:
        yield url


@pytest.fixture
def client(server: str):
    with httpx.Client(base_url=server, timeout=20) as http:
        yield http


def image_id(client: httpx.Client, file_name: str) -> str:
    results = client.post("/search", json={"query": "anything", "top_k": 100}).json()["results"]
    return next(hit["image_id"] for hit in results if hit["file_name"] == file_name)


def assert_not_found(response: httpx.Response) -> None:
    assert response.status_code == 404, response.text
    assert response.json()["success"] is False and "re-run indexing" in response.json()["error"]
    assert SECRET not in response.content


def test_an_indexed_file_replaced_by_a_link_to_a_file_outside_the_library_is_not_served(client, library):
    number = image_id(client, "image-0002.jpg")
    path = library / "image-0002.jpg"
    path.unlink()
    path.symlink_to(library.parent / "secret.txt")
    assert_not_found(client.get(f"/images/{number}"))
    assert_not_found(client.get(f"/thumbnails/{number}"))


def test_an_indexed_file_replaced_by_a_link_to_another_photo_or_other_content_is_not_served(client, library):
    linked, rewritten = image_id(client, "image-0003.jpg"), image_id(client, "image-0005.jpg")
    (library / "nested" / "image-0003.jpg").unlink()
    (library / "nested" / "image-0003.jpg").symlink_to(library / "image-0004.png")
    (library / "image-0005.jpg").write_bytes(SECRET)
    for number in (linked, rewritten):
        assert_not_found(client.get(f"/images/{number}"))
        assert_not_found(client.get(f"/thumbnails/{number}"))


def test_an_indexed_file_replaced_by_another_with_the_same_size_and_mtime_is_not_served(client, library):
    number = image_id(client, "image-0007.jpg")
    path = library / "image-0007.jpg"
    facts = path.stat()
    replacement = library.parent / "replacement.jpg"
    replacement.write_bytes(SECRET.ljust(facts.st_size, b"#"))  # same size, other content, another inode
    os.utime(replacement, ns=(facts.st_atime_ns, facts.st_mtime_ns))
    os.replace(replacement, path)
    assert (path.stat().st_size, path.stat().st_mtime_ns) == (facts.st_size, facts.st_mtime_ns)
    assert_not_found(client.get(f"/images/{number}"))


def test_a_photo_indexed_through_a_link_inside_the_library_is_still_served(client, library):
    response = client.get(f"/images/{image_id(client, 'linked.jpg')}")
    assert response.status_code == 200 and response.content == (library / "image-0001.jpg").read_bytes()
    assert client.get(f"/thumbnails/{image_id(client, 'linked.jpg')}").status_code == 200


def test_an_indexed_file_replaced_by_a_fifo_answers_404_and_leaves_the_server_responsive(client, library):
    number = image_id(client, "image-0006.jpg")
    path = library / "nested" / "image-0006.jpg"
    path.unlink()
    os.mkfifo(path)
    # More requests than the server has threads: opening a FIFO for reading blocks until a writer comes, so
    # before the fix every thread hung here. The client's timeout turns a regression into a failure.
    urls = [f"/images/{number}", f"/thumbnails/{number}"] * 45
    with ThreadPoolExecutor(max_workers=16) as pool:
        responses = list(pool.map(client.get, urls))
    for response in responses:
        assert_not_found(response)
    assert client.get("/healthz", timeout=10).status_code == 200


def test_the_checked_file_is_sent_even_if_its_path_is_swapped_for_a_link_before_the_body(tmp_path, monkeypatch):
    folder = tmp_path / "photos"
    write_colour_images(folder, 2)
    (tmp_path / "secret.txt").write_bytes(SECRET)
    index = tmp_path / "index"
    run_index(index, [str(folder)], model="test:tiny")
    real_original = FolderSource.original

    def open_then_swap(source, image, ttl_seconds):
        given = real_original(source, image, ttl_seconds)
        # The race an attacker would try to win: the check has passed, the body is not sent yet.
        original = Path(image.path).read_bytes()
        Path(image.path).unlink()
        Path(image.path).symlink_to(tmp_path / "secret.txt")
        swapped.append(original)
        return given

    swapped: list[bytes] = []
    monkeypatch.setattr(FolderSource, "original", open_then_swap)
    with start_server_thread(create_app(index, device="cpu")) as url, httpx.Client(base_url=url, timeout=20) as client:
        number = image_id(client, "image-0001.jpg")
        response = client.get(f"/images/{number}")
        assert response.status_code == 200 and response.content == swapped[0]
        assert response.headers["content-length"] == str(len(swapped[0])) and "etag" in response.headers
