"""Memory for decoding images (issue 22, item 6): a budget of bytes for the decodes in flight, estimated from
image headers; one decode for concurrent first requests of a rendition; no uploads from other sites' pages.

The images are small; their headers claim sizes, and the budget's accounting is what is measured."""

from __future__ import annotations

import io
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import write_colour_images
from PIL import Image
from service_helpers import decompression_bomb_png
from starlette.testclient import TestClient

from viewfinder.app import Index
from viewfinder.app.limits import decode_budget
from viewfinder.images.decode import decode_memory
from viewfinder.pipeline.indexer import run_index
from viewfinder.serve.app import create_app
from viewfinder.settings import DECODE_MEMORY_MB


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A test:tiny index of a few small pictures and a float TIFF (32-bit samples: the costliest kind)."""
    root = tmp_path_factory.mktemp("limits")
    write_colour_images(root / "photos", 3)
    samples = np.linspace(0, 1, 1200 * 900, dtype=np.float32).reshape(900, 1200)
    Image.fromarray(samples, mode="F").save(root / "photos" / "scan.tiff")
    run_index(root / "index", [str(root / "photos")], model="test:tiny")
    return root / "index"


@pytest.fixture(autouse=True)
def default_budget():
    """The budget is the process's: each test leaves it as it found it."""
    yield
    decode_budget.resize(DECODE_MEMORY_MB * 2**20)
    decode_budget.wait_seconds = 30.0


def png_bytes(width: int = 96, height: int = 72) -> bytes:
    data = io.BytesIO()
    Image.new("RGB", (width, height), (200, 40, 40)).save(data, "PNG")
    return data.getvalue()


def upload(client: TestClient, data: bytes, **headers: str):
    return client.post("/search/image", files={"image": ("query.png", data)}, data={"top_k": "3"}, headers=headers)


def test_the_memory_a_decode_takes_is_estimated_from_the_header_alone():
    """A 341 KB PNG of 120 MP peaked at 1.07 GB, a float TIFF of as many pixels at 1.95 GB: the estimate
    bounds both, and reads no pixel (the crafted PNG's data could not fill its claimed size)."""
    assert decode_memory(decompression_bomb_png(12_000, 10_000)) >= 1.07e9
    floats = io.BytesIO()
    Image.new("F", (1200, 1000)).save(floats, "TIFF")
    per_pixel_float = decode_memory(floats.getvalue()) / 1.2e6
    assert per_pixel_float * 120e6 >= 1.95e9


def test_an_upload_whose_header_claims_more_memory_than_the_budget_is_refused_before_decoding(index: Path):
    """It used to decode (here 1 GB for 100 MP of 3 bytes) before finding the data truncated."""
    with TestClient(create_app(index, device="cpu", decode_memory_mb=256), base_url="http://localhost") as client:
        granted = decode_budget.granted
        response = upload(client, decompression_bomb_png(10_000, 10_000))
        assert response.status_code == 413, response.text
        assert "VIEWFINDER_DECODE_MEMORY" in response.json()["error"]
        assert decode_budget.granted == granted and decode_budget.in_use == 0


def test_uploads_wait_for_decode_memory_and_get_503_when_none_frees(index: Path):
    """Four 120 MP uploads at once took 3.7 GB: decodes now take turns within the budget."""
    with TestClient(create_app(index, device="cpu", decode_memory_mb=64), base_url="http://localhost") as client:
        decode_budget.wait_seconds = 0
        with decode_budget.reserve(decode_budget.limit - 1000, "another upload"):
            busy = upload(client, png_bytes())
            assert busy.status_code == 503 and busy.headers["retry-after"]
            assert "retry" in busy.json()["error"]
        decode_budget.wait_seconds = 30.0
        granted = decode_budget.granted
        with decode_budget.reserve(decode_budget.limit - 1000, "another upload"):
            results: list = []
            waiting = threading.Thread(target=lambda: results.append(upload(client, png_bytes())))
            waiting.start()
            time.sleep(0.3)  # the upload is waiting for memory while this reservation holds it
            assert not results
        waiting.join()
        assert results[0].status_code == 200, results[0].text
        assert decode_budget.granted == granted + 2 and decode_budget.in_use == 0


def test_concurrent_first_renditions_of_one_image_decode_it_once(index: Path):
    """Two first-time renditions of one float TIFF both decoded it (1.95 GB each at 120 MP)."""
    with Index(index, device="cpu") as opened:
        (tiff,) = [image for image in opened.catalog.images(range(1, 10)).values() if image.format == "TIFF"]
        made: list[bytes] = []
        # The first decode waits for memory held here, so every request arrives while it is in progress.
        with decode_budget.reserve(decode_budget.limit, "a held decode"):
            granted = decode_budget.granted
            threads = [threading.Thread(target=lambda: made.append(opened.rendition(tiff.id).data)) for _ in range(4)]
            for thread in threads:
                thread.start()
            time.sleep(0.3)  # let them all ask
        for thread in threads:
            thread.join()
        assert len(made) == 4 and len(set(made)) == 1
        assert decode_budget.granted == granted + 1 and decode_budget.in_use == 0


def test_a_cross_site_upload_is_refused_and_the_own_site_and_listed_origins_are_not(index: Path):
    """A multipart POST needs no preflight: any page a user visited could make their browser upload."""
    allowed = "https://photos.example"
    with TestClient(create_app(index, device="cpu", cors_origins=[allowed]), base_url="http://localhost") as client:
        for origin in ("https://evil.example", "null", "http://localhost:8080", "http://localhost.evil.example"):
            response = upload(client, png_bytes(), Origin=origin)
            assert response.status_code == 403, (origin, response.text)
            assert "another site" in response.json()["error"]
        assert (
            client.post("/search", json={"query": "red"}, headers={"Origin": "https://evil.example"}).status_code == 403
        )
        for origin in ("http://localhost", allowed):
            assert upload(client, png_bytes(), Origin=origin).status_code == 200, origin
        assert upload(client, png_bytes()).status_code == 200  # no Origin: not a browser's page
        assert client.get("/stats", headers={"Origin": "https://evil.example"}).status_code == 200
