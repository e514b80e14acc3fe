"""Puts the test models' ONNX exports inside the package (src/viewfinder/models/exports), so that a wheel runs
`test:tiny` and `test:shapes` without torch. scripts/build_dist.sh runs it; it needs torch (exports are made with
it, once per model, and cached)."""

from __future__ import annotations

import shutil

from viewfinder.app.doctor import TEST_MODELS
from viewfinder.models.onnx_format import BUNDLED_ROOT
from viewfinder.models.onnx_runtime import ensure_export
from viewfinder.models.registry import resolve_model


def main() -> None:
    shutil.rmtree(BUNDLED_ROOT, ignore_errors=True)
    for name in TEST_MODELS:
        export = ensure_export(resolve_model(name))
        # int8 towers (text.int8-s8o or -u8o, image.int8-s8 or -s7, and a quantiser failure noted
        # beside them) are made from the fp32 ones on first use, on the user's machine (its CPU picks the method),
        # and so are mapped forms (a server's, onnx_mapped).
        skipped = shutil.ignore_patterns("*.int8*", "*.mapped.*")
        shutil.copytree(export, BUNDLED_ROOT / name.replace(":", "-"), ignore=skipped)
        print(f"bundled {name} from {export}")


if __name__ == "__main__":
    main()
