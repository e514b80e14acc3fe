"""The Lambda deployment: the handler run as Lambda runs it (the Runtime Interface Emulator and awslambdaric,
on loopback) over a snapshot in a real S3 server (SeaweedFS), with torch unimportable; and the SAM template
checked by cfn-lint."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cli_helpers import SRC, write_colour_images
from lambda_helpers import http_event, invoke, run_rie
from s3_helpers import upload_folder

from viewfinder.models.onnx_mapped import map_text_tower
from viewfinder.pipeline.indexer import run_index
from viewfinder.store.snapshots import publish

pytestmark = pytest.mark.slow  # the Lambda Runtime Interface Emulator and a SeaweedFS server

CFN_LINT = str(Path(sys.executable).parent / "cfn-lint")  # the dev extra's console script
DEPLOY = Path(__file__).resolve().parents[1] / "deploy" / "aws-lambda"


def test_handler_answers_http_api_events_from_an_s3_snapshot_without_torch(seaweed, tmp_path, model_cache):
    s3 = seaweed.client()
    s3.create_bucket(Bucket="lambda-photos")
    upload_folder(s3, "lambda-photos", write_colour_images(tmp_path / "c", 5)[0].parents[1], "photos")
    index = tmp_path / "index"
    run_index(index, ["s3://lambda-photos/photos"], model="test:tiny")
    publish(index, "s3://lambda-photos/indexes/main")
    map_text_tower("test:tiny")  # the model cache the image carries: the export, its int8 text tower mapped
    stub = tmp_path / "no-torch" / "torch"
    stub.mkdir(parents=True)
    (stub / "__init__.py").write_text("raise ImportError('torch must not be imported in the Lambda function')\n")
    env = {
        **{key: value for key, value in os.environ.items() if not key.startswith("VIEWFINDER_")},
        "PYTHONPATH": os.pathsep.join([str(stub.parent), str(SRC)]),
        "VIEWFINDER_INDEX": "s3://lambda-photos/indexes/main",
        "VIEWFINDER_CACHE": str(model_cache),
        "VIEWFINDER_SNAPSHOT_CACHE": str(tmp_path / "lambda-tmp"),
        "VIEWFINDER_PRESIGN_TTL": "60",
        "AWS_LAMBDA_FUNCTION_TIMEOUT": "120",
        "VIEWFINDER_POLL_SECONDS": "0",
        "VIEWFINDER_ALLOWED_HOSTS": "*",  # as template.yaml sets it: API Gateway's host names vary
        "LOG_LEVEL": "warn",
    }
    with run_rie("viewfinder.serve.lambda_handler.handler", env, cwd=tmp_path) as url:
        health = invoke(url, http_event("GET", "/healthz"))
        assert health["statusCode"] == 200, health
        assert json.loads(health["body"])["images"] == 5
        found = invoke(url, http_event("POST", "/search", {"query": "a photo", "top_k": 3}))
        assert found["statusCode"] == 200, found
        results = json.loads(found["body"])["results"]
        assert len(results) == 3
        by_date = invoke(url, http_event("POST", "/search", {"query": "a photo", "top_k": 3, "sort": "date"}))
        assert by_date["statusCode"] == 200 and json.loads(by_date["body"])["sort"] == "date", by_date
        assert json.loads(by_date["body"])["results"] == results  # none has a capture date: relevance order
        original = invoke(url, http_event("GET", f"/images/{results[0]['image_id']}"))
        assert original["statusCode"] == 307 and "X-Amz-Signature=" in original["headers"]["location"]
        thumbnail = invoke(url, http_event("GET", f"/thumbnails/{results[0]['image_id']}"))
        assert thumbnail["statusCode"] == 200 and thumbnail["isBase64Encoded"]
        missing = invoke(url, http_event("GET", "/images/999999/meta"))
        assert missing["statusCode"] == 404 and json.loads(missing["body"])["success"] is False
        # A mix held to its terms reads the hits' vectors from the snapshot's index (its catalog keeps none).
        held = {"query": "a photo", "negative": "a dog", "min_relevance": 50, "top_k": 3}
        mixed = invoke(url, http_event("POST", "/search", held))
        assert mixed["statusCode"] == 200, mixed
        answer = json.loads(mixed["body"])
        assert answer["count"] + len(answer["weaker"]) == 3
        blank = invoke(url, http_event("POST", "/search", {"query": "   "}))
        assert blank["statusCode"] == 400 and json.loads(blank["body"])["success"] is False, blank
        invalid = invoke(url, http_event("POST", "/search", {"query": "x", "top_k": 0}))
        assert invalid["statusCode"] == 422 and "top_k" in json.loads(invalid["body"])["error"]
        assert len(list((tmp_path / "lambda-tmp").iterdir())) == 1  # the snapshot went to the function's /tmp

        # A warm environment follows a new snapshot: the next invocation checks the pointer and swaps first.
        write_colour_images(tmp_path / "more", 2, seed=3)
        upload_folder(s3, "lambda-photos", tmp_path / "more", "photos/more")
        run_index(index, ["s3://lambda-photos/photos"])
        publish(index, "s3://lambda-photos/indexes/main")
        health = invoke(url, http_event("GET", "/healthz"))
        assert health["statusCode"] == 200 and json.loads(health["body"])["images"] == 7, health


def test_sam_template_passes_cfn_lint():
    result = subprocess.run([CFN_LINT, str(DEPLOY / "template.yaml")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    broken = DEPLOY.parent.parent / "tests" / ".broken-template.yaml"
    try:  # cfn-lint really checks: a misspelt property fails
        broken.write_text((DEPLOY / "template.yaml").read_text().replace("MemorySize:", "MemorySiz:"))
        failed = subprocess.run([CFN_LINT, str(broken)], capture_output=True, text=True)
    finally:
        broken.unlink(missing_ok=True)
    assert failed.returncode != 0 and "MemorySiz" in failed.stdout
