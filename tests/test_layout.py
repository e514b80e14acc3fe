"""The package layout: imports go from outer layers to inner ones, never back, and form no circle.

Every `viewfinder` import is read from the source (module level and inside functions alike, since a lazy
import is still a dependency), so the check needs none of the heavy libraries and fails on the first
import that points the wrong way.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
WORLDS = Path(__file__).resolve().parents[1] / "worlds"  # test and training worlds, not shipped

# Lower numbers are inner layers (docs/architecture.md). A module may import modules of its own package and
# of lower layers only: two packages of one layer (sources and images, pipeline and search) stay independent.
LAYERS = {
    "viewfinder.errors": 0,
    "viewfinder.version": 0,
    "viewfinder.settings": 1,  # the settings table: every layer reads it, and it raises errors' type
    "viewfinder.sources": 2,
    "viewfinder.images": 2,
    "viewfinder.models": 3,
    "viewfinder.store": 4,
    "viewfinder.pipeline": 5,
    "viewfinder.search": 5,
    "viewfinder.app": 6,
    "viewfinder.bench": 6,
    "viewfinder.serve": 7,
    "viewfinder.cli": 8,
    "viewfinder.__main__": 9,
    "viewfinder": 9,  # the public API over everything
}

# The fronts parse, call the application layer and render: they may import nothing else of the package. The
# CLI also starts the server (`serve`) and runs the benchmarks, which are tools of their own.
FRONT_IMPORTS = {
    "viewfinder.serve": (
        "viewfinder.app",
        "viewfinder.settings",
        "viewfinder.errors",
        "viewfinder.version",
        "viewfinder.serve",
    ),
    "viewfinder.cli": (
        "viewfinder.app",
        "viewfinder.settings",
        "viewfinder.errors",
        "viewfinder.version",
        "viewfinder.cli",
        "viewfinder.serve.server",
        "viewfinder.bench",
    ),
}


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> set[str]:
    """The viewfinder modules a file imports, anywhere in it."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("viewfinder"):
            for alias in node.names:
                candidate = SRC / f"{node.module}.{alias.name}".replace(".", "/")
                is_module = candidate.with_suffix(".py").exists() or (candidate / "__init__.py").exists()
                found.add(f"{node.module}.{alias.name}" if is_module else node.module)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("viewfinder")}
    return found


def imported_packages(path: Path) -> set[str]:
    """The top-level packages a file imports absolutely, anywhere in it."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
    return found


def graph() -> dict[str, set[str]]:
    return {module_name(path): imported_modules(path) for path in (SRC / "viewfinder").rglob("*.py")}


def layer_of(module: str) -> tuple[str, int]:
    owner = max((prefix for prefix in LAYERS if module == prefix or module.startswith(prefix + ".")), key=len)
    return owner, LAYERS[owner]


def test_every_module_has_a_layer():
    for module in graph():
        assert layer_of(module), module


def test_imports_point_inward_only():
    wrong = []
    for module, imports in graph().items():
        owner, layer = layer_of(module)
        for target in imports:
            target_owner, target_layer = layer_of(target)
            if target_owner != owner and target_layer >= layer:
                wrong.append(f"{module} -> {target}")
    assert not wrong, "imports that point outward or sideways:\n" + "\n".join(sorted(wrong))


def test_fronts_import_only_the_application_layer():
    wrong = []
    for module, imports in graph().items():
        owner, _ = layer_of(module)
        allowed = FRONT_IMPORTS.get(owner)
        if allowed is None:
            continue
        for target in imports:
            if not any(target == prefix or target.startswith(prefix + ".") for prefix in allowed):
                wrong.append(f"{module} -> {target}")
    assert not wrong, "fronts reaching past the application layer:\n" + "\n".join(sorted(wrong))


def test_the_package_never_imports_the_worlds():
    """The wheel ships src/ only: a module that needed worlds/ would work in the repository and fail installed."""
    worlds = {path.name for path in WORLDS.iterdir() if (path / "__init__.py").exists()}
    wrong = [
        f"{module_name(path)} -> {package}"
        for path in (SRC / "viewfinder").rglob("*.py")
        for package in imported_packages(path) & worlds
    ]
    assert worlds and not wrong, "the package imports the worlds:\n" + "\n".join(sorted(wrong))


def test_no_circle_of_imports():
    edges = {module: {t for t in imports if t != module} for module, imports in graph().items()}
    state: dict[str, str] = {}

    def visit(module: str, trail: list[str]) -> None:
        state[module] = "open"
        for target in edges.get(module, ()):
            if state.get(target) == "open":
                raise AssertionError("import circle: " + " -> ".join([*trail, module, target]))
            if target not in state:
                visit(target, [*trail, module])
        state[module] = "done"

    for module in sorted(edges):
        if module not in state:
            visit(module, [])


def imports_faiss(path: Path) -> bool:
    """Whether a file imports the faiss library itself, anywhere in it."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import) and any(alias.name.split(".")[0] == "faiss" for alias in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "faiss":
            return True
    return False


def test_faiss_is_private_to_the_store():
    """Above `store/`, vector stores are reached through its interface (store.vectors), never FAISS itself."""
    wrong = sorted(
        module
        for path in (SRC / "viewfinder").rglob("*.py")
        if layer_of(module := module_name(path))[0] != "viewfinder.store"
        and ("viewfinder.store.faiss_index" in imported_modules(path) or imports_faiss(path))
    )
    assert not wrong, "modules outside store/ that import FAISS:\n" + "\n".join(wrong)


STORAGE_SCHEMES = ("s3://", "://")


def location_tests(path: Path) -> list[int]:
    """Lines that tell a location's kind by its text: `startswith` or `in` against a storage scheme."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "startswith":
            if any(isinstance(arg, ast.Constant) and arg.value in STORAGE_SCHEMES for arg in node.args):
                lines.append(node.lineno)
        elif (
            isinstance(node, ast.Compare) and isinstance(node.left, ast.Constant) and node.left.value in STORAGE_SCHEMES
        ):
            lines.append(node.lineno)
    return lines


def test_only_sources_tell_a_location_by_its_scheme():
    """Whether a location is a folder or object storage is the sources' to say (`source_for`, `is_remote`)."""
    wrong = [
        f"{module}:{line}"
        for path in (SRC / "viewfinder").rglob("*.py")
        if layer_of(module := module_name(path))[0] != "viewfinder.sources"
        for line in location_tests(path)
    ]
    assert not wrong, "scheme tests outside sources/:\n" + "\n".join(sorted(wrong))


def test_the_checker_sees_a_scheme_test(tmp_path):
    path = tmp_path / "probe.py"
    path.write_text('def f(x):\n    return x.startswith("s3://") or "://" in x\n')
    assert location_tests(path) == [2, 2]


def test_the_checker_sees_an_outward_import(tmp_path):
    """The graph reader finds lazy imports inside functions (the kind that once made a circle)."""
    path = tmp_path / "probe.py"
    path.write_text("def f():\n    from viewfinder.serve.app import create_app\n    import faiss.contrib\n")
    assert "viewfinder.serve.app" in imported_modules(path) and imports_faiss(path)


def test_the_checker_sees_a_lazy_import_of_the_worlds(tmp_path):
    path = tmp_path / "probe.py"
    path.write_text("def f():\n    from shapeworld.scenes import scene_of\n    import numpy.linalg\n")
    assert imported_packages(path) == {"shapeworld", "numpy"}
