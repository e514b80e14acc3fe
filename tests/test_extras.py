"""Each optional extra, missing: a command that needs it says in one line which extra to install (exit 2).

Every case runs in a process of its own in which the extra's packages cannot be imported (extras_helpers), as
after `pip install viewfinder` without that extra.
"""

from __future__ import annotations

import json
import re
import shutil
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from cli_helpers import write_colour_images
from extras_helpers import CLI, run_cli_without, run_without

from viewfinder.errors import CORE, CORE_MODULES, EXTRA_MODULES, MissingExtraError, extra_of, missing_extra

ROOT = Path(__file__).resolve().parents[1]
# The extras of pyproject.toml that are tools of the repository, not parts of Viewfinder a command imports.
NOT_IMPORTED = {"dev", "realbench", "all"}


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    write_colour_images(folder, 2)
    return folder


def assert_names_the_extra(result, extra: str) -> None:
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.startswith("viewfinder: error: ")
    assert f"needs the [{extra}] extra" in result.stderr and f"pip install 'viewfinder[{extra}]'" in result.stderr


# What each extra is needed for, as a command line (PHOTOS and INDEX stand for a library and a new index).
COMMANDS = {
    # A model with no ONNX export shipped or cached is exported with torch, once.
    "torch": ["index", "PHOTOS", "--index", "INDEX", "--model", "random:ViT-B-32"],
    "ray": ["index", "PHOTOS", "--index", "INDEX", "--model", "test:tiny", "--engine", "ray"],
    "milvus": ["index", "PHOTOS", "--index", "INDEX", "--model", "test:tiny", "--store", "milvus"],
    "ocr": ["index", "PHOTOS", "--index", "INDEX", "--model", "test:tiny", "--ocr"],
}


@pytest.mark.parametrize("extra", sorted(COMMANDS))
def test_a_command_without_its_extra_names_it(extra: str, photos: Path, tmp_path: Path) -> None:
    places = {"PHOTOS": str(photos), "INDEX": str(tmp_path / "index")}
    args = [places.get(arg, arg) for arg in COMMANDS[extra]]
    # A cache of its own: no ONNX export made by an earlier test lets indexing go without torch.
    result = run_cli_without(EXTRA_MODULES[extra], *args, env={"VIEWFINDER_CACHE": str(tmp_path / "cache")})
    assert_names_the_extra(result, extra)


def test_torch_is_named_where_only_torch_can_run_the_model(photos: Path, tmp_path: Path) -> None:
    args = ["index", photos, "--index", tmp_path / "index", "--model", "test:tiny", "--runtime", "torch"]
    assert_names_the_extra(run_cli_without(EXTRA_MODULES["torch"], *args), "torch")


def test_a_package_every_install_has_missing_says_to_reinstall(tmp_path: Path) -> None:
    """serve, watch, S3 and ONNX Runtime come with every install: a broken one is named, not an extra."""
    result = run_cli_without(["uvicorn"], "serve", "--index", tmp_path / "index")
    assert result.returncode == 2, result.stderr
    assert result.stderr == (
        "viewfinder: error: `viewfinder serve` needs uvicorn, which every install of viewfinder has, and it is not "
        "installed here: pip install --force-reinstall viewfinder\n"
    )


def test_the_lambda_handler_without_mangum_names_the_extra(tmp_path: Path) -> None:
    """The Lambda runtime imports the handler at a cold start; its init error is the exception's type and text."""
    env = {"AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9", "VIEWFINDER_INDEX": str(tmp_path / "index")}
    result = run_without(EXTRA_MODULES["lambda"], "import viewfinder.serve.lambda_handler\n", env=env)
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last == (
        "viewfinder.errors.MissingExtraError: The Lambda handler needs the [lambda] extra (mangum is not installed):"
        " pip install 'viewfinder[lambda]'"
    )


def test_every_extra_that_a_command_imports_has_its_modules_listed() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    installing = {extra for extra, packages in declared.items() if packages}
    assert set(EXTRA_MODULES) == installing - NOT_IMPORTED


def distribution_name(requirement: str) -> str:
    return re.split(r"[=<>\[ ;]", requirement)[0].lower().replace("_", "-")


def test_the_core_modules_are_those_of_the_dependencies() -> None:
    """Each module named as every install's comes from a package of [project] dependencies (or one they need,
    as botocore for boto3)."""
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {distribution_name(requirement) for requirement in dependencies}
    names |= {distribution_name(need) for name in set(names) for need in metadata.requires(name) or ()}
    providers = metadata.packages_distributions()
    for module in CORE_MODULES:
        assert {name.lower().replace("_", "-") for name in providers[module]} & names, module


def test_a_missing_module_is_named_by_its_extra_through_a_chain() -> None:
    assert extra_of("open_clip.tokenizer") == "torch" and extra_of("numpy") is None and extra_of("boto3") == CORE
    try:
        try:
            import ray_of_hope_not_installed  # noqa: F401
        except ModuleNotFoundError as inner:
            inner.name = "pymilvus.exceptions"  # as when pymilvus is missing
            raise RuntimeError("while opening the store") from inner
    except RuntimeError as error:
        found = missing_extra(error, "--store milvus")
    assert isinstance(found, MissingExtraError) and (found.extra, found.module) == ("milvus", "pymilvus")
    assert missing_extra(ModuleNotFoundError("No module named 'numpyx'", name="numpyx")) is None


@pytest.mark.slow
def test_without_torch_a_cached_onnx_export_indexes_and_searches(
    photos: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Torch is only asked for where it is needed: with the model's export cached, ONNX Runtime does it all."""
    from viewfinder.models.onnx_runtime import ensure_export
    from viewfinder.models.registry import resolve_model

    monkeypatch.setenv("VIEWFINDER_CACHE", str(tmp_path / "cache"))
    ensure_export(resolve_model("test:tiny"))  # made here, with torch, once
    index, env = tmp_path / "index", {"VIEWFINDER_CACHE": str(tmp_path / "cache")}
    hidden = EXTRA_MODULES["torch"]
    built = run_cli_without(hidden, "index", photos, "--index", index, "--model", "test:tiny", env=env)
    assert built.returncode == 0, built.stderr
    found = run_cli_without(hidden, "search", "a gradient", "--index", index, "--json", env=env)
    assert found.returncode == 0, found.stderr
    report = json.loads(run_cli_without(hidden, "doctor", "--json", env=env).stdout)
    assert report["runtimes"]["torch"] is None
    assert report["models"]["test_models"][0] == {"name": "test:tiny", "onnx_export": True, "runs_on": ["onnx"]}


@pytest.mark.slow
def test_without_torch_the_test_models_run_from_the_exports_the_package_ships(
    photos: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As after `pip install viewfinder`: an empty cache, no torch, the export inside the package."""
    from viewfinder.models.onnx_runtime import ensure_export
    from viewfinder.models.registry import resolve_model

    monkeypatch.setenv("VIEWFINDER_CACHE", str(tmp_path / "build-cache"))
    shipped = tmp_path / "exports"
    shutil.copytree(ensure_export(resolve_model("test:tiny")), shipped / "test-tiny")  # as scripts/build_dist.sh
    packaged = f"import viewfinder.models.onnx_format as f, pathlib\nf.BUNDLED_ROOT = pathlib.Path({str(shipped)!r})\n"
    env = {"VIEWFINDER_CACHE": str(tmp_path / "user-cache")}

    def cli(*args):
        return run_without(EXTRA_MODULES["torch"], packaged + CLI, *args, env=env)

    report = json.loads(cli("doctor", "--json").stdout)
    assert report["models"]["test_models"][0] == {"name": "test:tiny", "onnx_export": True, "runs_on": ["onnx"]}
    index = tmp_path / "index"
    built = cli("index", photos, "--index", index, "--model", "test:tiny")
    assert built.returncode == 0, built.stderr
    found = cli("search", "a gradient", "--index", index, "--json", "--min-relevance", "0")
    assert found.returncode == 0, found.stderr
    assert len(json.loads(found.stdout)["results"]) == 2
