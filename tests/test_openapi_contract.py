"""The OpenAPI document is valid OpenAPI 3.1 and says what the server does: an API fuzzer (schemathesis) runs
every route of a live server on loopback against it, so the document and the server cannot drift apart."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import jsonschema
import pytest
from cli_helpers import write_colour_images
from service_helpers import start_server_thread

from viewfinder.pipeline.indexer import run_index
from viewfinder.serve.app import create_app

# The cases each route gets, and a fixed seed: about 20 s on two busy cores, the same cases every run.
EXAMPLES = 12
SEED = 22
CONFIG = Path(__file__).with_name("schemathesis.toml")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    """A real server with the default settings (no tokens, admin disabled) over a small test:tiny index."""
    root = tmp_path_factory.mktemp("contract")
    write_colour_images(root / "library", 6)
    run_index(root / "index", [str(root / "library")], model="test:tiny")
    with start_server_thread(create_app(root / "index", device="cpu")) as url:
        yield url


@pytest.fixture(scope="module")
def document(server: str) -> dict:
    return httpx.get(f"{server}openapi.json").json()


def schema_objects(node: object) -> list[dict]:
    """Every Schema Object of an OpenAPI document: the components' and those inline in parameters and bodies."""
    found = []

    def walk(value: object, in_schema: bool) -> None:
        if isinstance(value, dict):
            if in_schema:
                found.append(value)
            for key, child in value.items():
                walk(child, key == "schema" or (in_schema and key not in ("required", "enum", "const")))
        elif isinstance(value, list):
            for child in value:
                walk(child, in_schema)

    walk(node, False)
    found += list(node["components"]["schemas"].values())  # type: ignore[index]
    return found


def test_the_openapi_document_is_valid_openapi_3_1(document: dict):
    from schemathesis.specs.openapi.definitions import OPENAPI_31

    assert document["openapi"].startswith("3.1")
    jsonschema.Draft202012Validator(OPENAPI_31).validate(document)
    for schema in document["components"]["schemas"].values():
        jsonschema.Draft202012Validator.check_schema(schema)


def test_no_schema_in_the_openapi_document_spells_an_array_as_a_tuple(document: dict):
    """`prefixItems` (how a tuple is spelled) is turned into a list-valued `items` by tools that convert 3.1
    schemas to older drafts, which 3.1 validators then reject: /stats' taken_range was one."""
    for schema in schema_objects(document):
        assert "prefixItems" not in schema, schema
        assert not isinstance(schema.get("items"), list), schema


@pytest.mark.slow
def test_the_server_does_what_its_openapi_document_says(server: str, tmp_path: Path):
    """Every check schemathesis has (5xx, undocumented status codes, response shapes, schema-valid requests
    refused, schema-invalid ones accepted, 401 without credentials), on every route."""
    command = [
        *(sys.executable, "-m", "schemathesis.cli", "--config-file", str(CONFIG), "run", f"{server}openapi.json"),
        # One worker: hypothesis describing strategies on two threads trips a CPython 3.11 bug in ast.parse
        # ("AST constructor recursion depth mismatch"), an error of the fuzzer, not of the server.
        *("--checks", "all", "--max-examples", str(EXAMPLES), "--seed", str(SEED), "--workers", "1"),
        *("--no-shrink", "--phases", "coverage,fuzzing", "--warnings", "off", "--request-timeout", "30"),
    ]
    # In a temporary folder: schemathesis keeps a cache of the crashes it found in the current one.
    run = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]


def test_a_search_whose_terms_are_an_empty_list_is_refused_by_the_document(document: dict):
    """`{"terms": []}` was schema-valid and then refused with 400: the document now asks for one term at least."""
    search = document["components"]["schemas"]["SearchIn"]
    validator = jsonschema.Draft202012Validator({**search, "components": document["components"]})
    assert not validator.is_valid({"terms": []})
    assert not validator.is_valid({"query": None})
    assert validator.is_valid({"terms": [{"text": "red"}]})


def test_optional_multipart_fields_are_not_nullable_and_an_upload_is_not_empty(document: dict):
    form = document["components"]["schemas"]["Body_search_image_search_image_post"]["properties"]
    assert form["image"]["minLength"] == 1
    for name in ("query", "negative", "taken_after", "taken_before", "folder", "min_relevance"):
        assert "null" not in json.dumps(form[name]), (name, form[name])


def test_admin_routes_answer_401_without_a_credential_even_when_disabled(document: dict, server: str):
    for method in ("GET", "POST"):
        response = httpx.request(method, f"{server}admin/reindex")
        assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"
        assert "401" in document["paths"]["/admin/reindex"][method.lower()]["responses"]


def test_the_document_names_the_refusals_of_decode_memory_cross_site_writes_and_bad_parameters(document: dict):
    """Statuses the server answers that the document left out: 403 to a write from another site's page, 413
    and 503 from the decode budget, 422 (in the API's error shape) to a threshold out of range, 415 to a resolve
    not sent as JSON."""
    paths = document["paths"]
    expected = {
        ("/search", "post"): {"403"},
        ("/search/image", "post"): {"403", "413", "503"},
        ("/thumbnails/{image_id}", "get"): {"413", "503"},
        ("/renditions/{image_id}", "get"): {"413", "503"},
        ("/duplicates", "get"): {"422"},
        ("/duplicates/resolve", "post"): {"403", "415", "422"},
        ("/duplicates/resolve-all", "post"): {"403", "415", "422"},
        ("/duplicates/undo", "post"): {"403"},
    }
    for (path, method), codes in expected.items():
        responses = paths[path][method]["responses"]
        assert codes <= set(responses), (path, method, sorted(responses))
        for code in codes:
            assert responses[code]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorOut"}


def test_a_405_names_every_method_of_the_path(server: str):
    """GET and POST /admin/reindex are two routes: the framework's 405 named only the first one's method."""
    response = httpx.put(f"{server}admin/reindex")
    assert response.status_code == 405
    assert {"GET", "POST"} <= {method.strip() for method in response.headers["allow"].split(",")}
