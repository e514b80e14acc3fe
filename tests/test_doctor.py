"""`viewfinder doctor`: what is installed and set, in plain lines and as JSON, without ever failing or printing a
secret."""

from __future__ import annotations

import json
import platform
from importlib import metadata
from pathlib import Path

import pytest
from cli_helpers import run_cli, run_cli_json, write_colour_images
from extras_helpers import run_cli_without

from viewfinder.errors import CORE, CORE_MODULES, EXTRA_MODULES
from viewfinder.models import onnx_format
from viewfinder.version import __version__

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"


def test_json_report_has_every_part(capsys, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, model_cache: Path) -> None:
    monkeypatch.setenv("VIEWFINDER_INDEX", str(tmp_path / "index"))
    code, out, err = run_cli(capsys, "doctor", "--json")
    assert code == 0 and err == ""
    report = json.loads(out)
    assert set(report) == {"python", "viewfinder", "extras", "runtimes", "models", "s3", "index"}
    assert (report["python"], report["viewfinder"]) == (platform.python_version(), __version__)
    parts = {CORE: CORE_MODULES, **EXTRA_MODULES}
    assert [extra["name"] for extra in report["extras"]] == list(parts)
    for extra in report["extras"]:
        assert list(extra["modules"]) == list(parts[extra["name"]])
        assert extra["installed"] == all(version is not None for version in extra["modules"].values())
    runtimes = report["runtimes"]
    assert set(runtimes) == {"torch", "onnxruntime", "onnx_providers", "cuda", "gpu"}
    assert runtimes["gpu"] is None or runtimes["cuda"]
    torch = next(extra for extra in report["extras"] if extra["name"] == "torch")
    assert runtimes["torch"] == torch["modules"]["torch"]
    models = report["models"]
    assert models["cache"] == str(model_cache) and models["onnx_exports"] == str(model_cache / "onnx")
    assert [model["name"] for model in models["test_models"]] == ["test:tiny", "test:shapes"]
    for model in models["test_models"]:
        assert ("torch" in model["runs_on"]) == (torch["installed"])
        assert ("onnx" in model["runs_on"]) == (model["onnx_export"] and runtimes["onnxruntime"] is not None)
    assert report["index"] == {"path": str(tmp_path / "index"), "exists": False}


@pytest.mark.slow
def test_json_report_sees_the_default_index_and_the_export_indexing_made(
    capsys, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    index = tmp_path / "index"
    write_colour_images(tmp_path / "photos", 2)
    monkeypatch.setenv("VIEWFINDER_CACHE", str(tmp_path / "cache"))  # no export of test:tiny yet
    monkeypatch.setattr(onnx_format, "BUNDLED_ROOT", tmp_path / "none shipped")  # a tree scripts/build_dist.sh ran in
    tiny = run_cli_json(capsys, "doctor")["models"]["test_models"][0]
    assert tiny["name"] == "test:tiny" and not tiny["onnx_export"] and "onnx" not in tiny["runs_on"]
    run_cli_json(capsys, "index", tmp_path / "photos", "--index", index, "--model", "test:tiny", "--runtime", "onnx")
    monkeypatch.setenv("VIEWFINDER_INDEX", str(index))
    report = run_cli_json(capsys, "doctor")
    assert report["index"] == {"path": str(index), "exists": True}
    assert report["models"]["test_models"][0] == {
        "name": "test:tiny",
        "onnx_export": True,
        "runs_on": ["torch", "onnx"],
    }


def test_plain_report_names_a_missing_extra_and_hides_secrets(tmp_path: Path) -> None:
    env = {
        "AWS_ENDPOINT_URL": "http://127.0.0.1:8333",
        "AWS_ACCESS_KEY_ID": "AKIAEXAMPLEKEYID",
        "AWS_SECRET_ACCESS_KEY": SECRET,
        "VIEWFINDER_INDEX": str(tmp_path / "nowhere"),
    }
    result = run_cli_without(["watchdog"], "doctor", env=env)
    assert result.returncode == 0 and result.stderr == ""
    lines = result.stdout.splitlines()
    assert lines[0] == f"Python {platform.python_version()}, Viewfinder {__version__}"
    core = next(line for line in lines if line.split()[0] == "core")
    assert core.split(None, 1)[1] == "not installed (watchdog missing): pip install --force-reinstall viewfinder"
    assert "S3 endpoint: http://127.0.0.1:8333" in lines and "S3 credentials: found (env)" in lines
    assert SECRET not in result.stdout and "AKIAEXAMPLEKEYID" not in result.stdout
    assert f"default index: {tmp_path / 'nowhere'} (no index there yet)" in lines
    assert any(line.startswith("runtimes: torch ") for line in lines)

    as_json = json.loads(run_cli_without(["watchdog"], "doctor", "--json", env=env).stdout)
    core_json = next(extra for extra in as_json["extras"] if extra["name"] == "core")
    assert core_json["installed"] is False and core_json["modules"]["watchdog"] is None
    assert core_json["modules"]["onnxruntime"] == metadata.version("onnxruntime")
    assert as_json["s3"] == {"endpoint": "http://127.0.0.1:8333", "credentials": "env", "problem": None}
    assert SECRET not in json.dumps(as_json)


def test_a_wrong_aws_profile_is_reported_not_raised(capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_PROFILE", "no-such-profile")
    code, out, err = run_cli(capsys, "doctor")
    assert code == 0 and err == ""
    line = next(line for line in out.splitlines() if line.startswith("S3 credentials: "))
    assert "cannot be looked up" in line and "no-such-profile" in line
