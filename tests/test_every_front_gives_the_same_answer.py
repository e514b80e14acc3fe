"""One search path: the Python API, `viewfinder search --json` and `POST /search` give the same answer.

The index is the demo's (the sample library indexed with `test:shapes`), so relevance ratings and the cut at
min_relevance are real, and queries cover every form a front can send: text, negatives, weights, an indexed
image, filters, rerank, an explicit threshold and the order by date.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_helpers import run_cli_json
from starlette.testclient import TestClient

import viewfinder
from viewfinder.cli import main
from viewfinder.serve.app import create_app

pytestmark = pytest.mark.slow  # the demo model, end to end

# CLI arguments and the same search as a POST /search body (None: made from the arguments by _http_body).
QUERIES = [
    (["a red circle"], {"query": "a red circle"}),
    (["star", "--not", "yellow"], {"query": "star", "negative": "yellow"}),
    (
        ["a blue square", "--text", "a green triangle", "--weight", "0.7", "--weight", "0.3"],
        {"terms": [{"text": "a blue square", "weight": 0.7}, {"text": "a green triangle", "weight": 0.3}]},
    ),
    (["--image", "3"], {"image_id": "3"}),
    (["two circles", "--min-width", "200", "--min-relevance", "0"], None),
    (["a yellow star", "--resolution", "0.5", "-k", "5"], None),
    (["asdfgh qwerty"], {"query": "asdfgh qwerty"}),
    (["a red circle", "--sort", "date"], {"query": "a red circle", "sort": "date"}),
]


@pytest.fixture(scope="module")
def demo_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("golden")
    library, index = root / "library", root / "index"
    assert main(["sample", str(library), "--count", "120", "--seed", "7"]) == 0
    assert main(["index", str(library), "--index", str(index), "--model", "test:shapes"]) == 0
    return index


def _http_body(cli_args: list[str], k: int) -> dict:
    """The POST /search body for the CLI arguments of QUERIES rows that give none explicitly."""
    text, rest = cli_args[0], cli_args[1:]
    options = dict(zip(rest[::2], rest[1::2], strict=True))
    body: dict = {"query": text, "top_k": k}
    if "--min-width" in options:
        body["filters"] = {"min_width": int(options["--min-width"])}
    if "--min-relevance" in options:
        body["min_relevance"] = float(options["--min-relevance"])
    if "--resolution" in options:
        body["rerank"] = {"resolution": float(options["--resolution"])}
    return body


def _python_query(cli_args: list[str], k: int) -> viewfinder.Query:
    body = _http_body(cli_args, k)
    filters = viewfinder.Filters(**body["filters"]) if "filters" in body else None
    rerank = viewfinder.Rerank(**body["rerank"]) if "rerank" in body else None
    return viewfinder.Query((viewfinder.Term(text=body["query"]),), k, filters, rerank, body.get("min_relevance"))


def _essentials(answer: dict) -> dict:
    """What a person sees of an answer: ids in order, their relevance, the threshold and the closest."""

    def rows(hits: list[dict]) -> list[tuple[str, float | None]]:
        return [(hit["image_id"], hit["relevance"]) for hit in hits]

    return {
        "results": rows(answer["results"]),
        "closest": rows(answer["closest"]),
        "min_relevance": answer["min_relevance"],
        "query": answer["query"],
        "sort": answer["sort"],
    }


def _api_answer(answer: viewfinder.Answer) -> dict:
    def rows(hits: list[viewfinder.Hit]) -> list[tuple[str, float | None]]:
        return [(str(hit.image.id), hit.relevance) for hit in hits]

    return {
        "results": rows(answer.hits),
        "closest": rows(answer.closest),
        "min_relevance": answer.min_relevance,
        "query": answer.query,
        "sort": answer.sort,
    }


def test_python_api_cli_and_http_give_the_same_answers(capsys, demo_index):
    client = TestClient(create_app(demo_index, device="cpu"), base_url="http://127.0.0.1")
    seen_cut = seen_closest = False
    with client, viewfinder.open_index(str(demo_index)) as index:
        for cli_args, body in QUERIES:
            k = int(cli_args[cli_args.index("-k") + 1]) if "-k" in cli_args else 20
            cli = _essentials(run_cli_json(capsys, "search", *cli_args, "--index", demo_index))
            response = client.post("/search", json={**(body or _http_body(cli_args, k)), "top_k": k})
            assert response.status_code == 200, response.text
            http = _essentials(response.json())
            if body is None:
                api = _api_answer(index.search(_python_query(cli_args, k)))
            else:
                terms = _terms_of(body)
                api = _api_answer(index.search(terms, k=k, sort=body.get("sort", "relevance")))
            assert cli == http == api, cli_args
            seen_cut |= 0 < len(api["results"]) < k
            seen_closest |= bool(api["closest"])
    # The queries exercise the relevance cut and the closest-few answer, not only full pages.
    assert seen_cut and seen_closest


def _terms_of(body: dict) -> list[viewfinder.Term]:
    terms = [viewfinder.Term(text=body["query"])] if "query" in body else []
    terms += [viewfinder.Term(image_id=body["image_id"])] if "image_id" in body else []
    terms += [viewfinder.Term(text=t["text"], weight=t["weight"]) for t in body.get("terms", [])]
    terms += [viewfinder.Term(text=body["negative"], weight=-1.0)] if "negative" in body else []
    return terms


def test_duplicates_answer_the_same_through_the_cli_and_http(capsys, demo_index):
    cli = run_cli_json(capsys, "duplicates", "--index", demo_index, "--threshold", "0.9")
    with TestClient(create_app(demo_index, device="cpu"), base_url="http://127.0.0.1") as client:
        http = client.get("/duplicates", params={"threshold": 0.9}).json()
    with viewfinder.open_index(str(demo_index)) as index:
        api = [[str(image.id) for image in group.images] for group in index.duplicates(0.9)]
    assert api, "the sample library repeats scenes: some groups are expected at 0.9"
    assert [[i["image_id"] for i in g["images"]] for g in cli["groups"]] == api
    assert [[i["image_id"] for i in g["images"]] for g in http["groups"]] == api


# A line typed with parts, and the same search given as separate terms.
TYPED = [
    (
        "70% a blue square + 30% a green triangle",
        ["a blue square", "--text", "a green triangle", "--weight", "0.7", "--weight", "0.3"],
    ),
    ("a red circle without square", ["a red circle", "--not", "square"]),
    ("star, not yellow", ["star", "--not", "yellow"]),
]


@pytest.mark.parametrize(("line", "separate"), TYPED)
def test_a_typed_line_reads_the_same_everywhere(capsys, demo_index, line: str, separate: list[str]) -> None:
    """The CLI's TEXT, the API's `query` and `Index.search(str)` read a line as the same terms given separately."""
    expected = _essentials(run_cli_json(capsys, "search", *separate, "--index", demo_index))
    cli = _essentials(run_cli_json(capsys, "search", line, "--index", demo_index))
    with TestClient(create_app(demo_index, device="cpu"), base_url="http://127.0.0.1") as client:
        response = client.post("/search", json={"query": line, "top_k": 20})
    assert response.status_code == 200, response.text
    with viewfinder.open_index(str(demo_index)) as index:
        api = _api_answer(index.search(line, k=20))
    assert cli == _essentials(response.json()) == api == expected
