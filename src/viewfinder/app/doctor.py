"""What this installation has, for `viewfinder doctor`: Python and Viewfinder, its packages and each extra, the
runtimes and the GPU, the model cache and which test models can run, the S3 settings and the default index.

Nothing here fails for a missing part: a missing part is what the report is for.
"""

from __future__ import annotations

import platform
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from functools import cache
from importlib import metadata
from importlib.util import find_spec
from typing import Any

from viewfinder.errors import CORE, CORE_MODULES, EXTRA_MODULES, ViewfinderError
from viewfinder.models.factory import cuda_available
from viewfinder.models.onnx_format import (
    EXPORT_FORMAT,
    META_FILE,
    bundled_export,
    cache_home,
    cache_root,
    export_dir,
)
from viewfinder.models.registry import resolve_model
from viewfinder.sources.s3 import credentials_source, endpoint
from viewfinder.store.indexdir import IndexDir, default_index_path
from viewfinder.version import __version__

TEST_MODELS = ("test:tiny", "test:shapes")


@dataclass(frozen=True)
class Extra:
    """One extra of pyproject.toml, or the packages every install has (CORE): installed when every module it
    brings imports; each module's version (None: not installed)."""

    name: str
    installed: bool
    modules: dict[str, str | None]


@dataclass(frozen=True)
class Runtimes:
    torch: str | None  # the installed version, None when it is not
    onnxruntime: str | None
    onnx_providers: list[str]  # ONNX Runtime's execution providers (CPUExecutionProvider, CUDAExecutionProvider)
    cuda: bool  # torch sees a CUDA GPU
    gpu: str | None


@dataclass(frozen=True)
class TestModel:
    """A test model and the runtimes it can run on now: torch always (with torch installed), ONNX Runtime
    when its export ships with the package or is cached (made with torch, once)."""

    name: str
    onnx_export: bool
    runs_on: list[str]


@dataclass(frozen=True)
class Models:
    cache: str  # Viewfinder's cache folder ($VIEWFINDER_CACHE)
    onnx_exports: str
    hub_cache: str | None  # the Hugging Face cache, where open_clip's weights are downloaded
    test_models: list[TestModel]


@dataclass(frozen=True)
class S3:
    endpoint: str | None  # --s3-endpoint / $AWS_ENDPOINT_URL; None: AWS
    credentials: str | None  # where boto3 finds them (env, shared-credentials-file, ...); None: none found
    problem: str | None  # why they cannot be looked up (an AWS_PROFILE that names no profile)


@dataclass(frozen=True)
class DefaultIndex:
    path: str  # $VIEWFINDER_INDEX, else ./viewfinder-index
    exists: bool


@dataclass(frozen=True)
class Report:
    python: str
    viewfinder: str
    extras: list[Extra]
    runtimes: Runtimes
    models: Models
    s3: S3
    index: DefaultIndex

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def diagnose() -> Report:
    """What this installation has now."""
    extras = [_extra(name, modules) for name, modules in {CORE: CORE_MODULES, **EXTRA_MODULES}.items()]
    installed = {extra.name for extra in extras if extra.installed}
    runtimes = _runtimes()
    index = default_index_path(None)
    return Report(
        python=platform.python_version(),
        viewfinder=__version__,
        extras=extras,
        runtimes=runtimes,
        models=_models(torch="torch" in installed, onnx=runtimes.onnxruntime is not None),
        s3=_s3(looked_up=find_spec("boto3") is not None),
        index=DefaultIndex(str(index), IndexDir(index).exists()),
    )


def _extra(name: str, modules: tuple[str, ...]) -> Extra:
    versions = {module: _version_of(module) for module in modules}
    return Extra(name, all(version is not None for version in versions.values()), versions)


def _version_of(module: str) -> str | None:
    """The version of the distribution that installs the top-level `module`, None when it cannot be imported."""
    if find_spec(module) is None:
        return None
    for distribution in _distributions().get(module, ()):
        try:
            return metadata.version(distribution)
        except metadata.PackageNotFoundError:
            continue
    return "unknown"  # importable, but no installed distribution names it (a source checkout)


@cache
def _distributions() -> Mapping[str, list[str]]:
    return metadata.packages_distributions()


def _s3(looked_up: bool) -> S3:
    if not looked_up:
        return S3(endpoint(), None, None)
    try:
        return S3(endpoint(), credentials_source(), None)
    except ViewfinderError as error:
        return S3(endpoint(), None, str(error))


def _runtimes() -> Runtimes:
    cuda = cuda_available()
    gpu = None
    if cuda:
        import torch

        gpu = torch.cuda.get_device_name(0)
    onnxruntime, providers = _version_of("onnxruntime"), []
    if onnxruntime is not None:
        import onnxruntime as ort

        providers = list(ort.get_available_providers())
    return Runtimes(_version_of("torch"), onnxruntime, providers, cuda, gpu)


def _models(torch: bool, onnx: bool) -> Models:
    tests = []
    for name in TEST_MODELS:
        spec = resolve_model(name)
        # An export of the format before still runs where a new one cannot be made (onnx_runtime.ensure_export).
        cached = any((export_dir(spec, form) / META_FILE).is_file() for form in (EXPORT_FORMAT, EXPORT_FORMAT - 1))
        exported = cached or bundled_export(spec) is not None
        runs_on = [runtime for runtime, ready in (("torch", torch), ("onnx", onnx and exported)) if ready]
        tests.append(TestModel(name, exported, runs_on))
    return Models(str(cache_home()), str(cache_root()), _hub_cache(), tests)


def _hub_cache() -> str | None:
    if find_spec("huggingface_hub") is None:
        return None
    from viewfinder.models.hub import hub_cache_dir

    return hub_cache_dir()
