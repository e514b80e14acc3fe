"""The ONNX Runtime runtime: open_clip's towers exported once per model, then run without torch.

The export (which needs torch and open_clip, once) writes `image.onnx`, `text.onnx` (for CLIP, the fused graph of
onnx_text_graph), the tokenizer's vocabulary and `export.json` into a cache folder named after the model's
identity and the export format. Loading reads only those files with onnxruntime and numpy, so a server with a
cached export starts without importing torch.
`int8` variants are made from the fp32 files on first use (onnx_quantize).
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import threading
from collections.abc import Callable, Sequence
from functools import partial
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import numpy as np

from viewfinder.errors import MissingExtraError, ModelUnavailableError, ViewfinderError, needs_extra
from viewfinder.images.preprocess import PreprocessSpec, to_model_input
from viewfinder.models.embedder import Embedder
from viewfinder.models.hf_tokenizer import TOKENIZER_FILE, HfTokenizer
from viewfinder.models.onnx_format import (
    EXPORT_FORMAT,
    META_FILE,
    bundled_export,
    cache_root,
    export_dir,
    make_mapped,
    mapped_file,
)
from viewfinder.models.onnx_layout import hub_layout, mirror_of, write_export
from viewfinder.models.onnx_quantize import QuantizationError, quantized_file
from viewfinder.models.query_registry import QuerySpec
from viewfinder.models.registry import ModelSpec
from viewfinder.models.text_threads import SPIN_US, THREADS, SpareThreadSession, wanted
from viewfinder.models.tokenizer import VOCAB_FILE, ClipTokenizer, clip_tokenizer


def ensure_export(spec: ModelSpec | QuerySpec) -> Path:
    """The model's export folder, made first when it is not cached: copied from the package for the models
    that ship exported, pointed at a model published in ONNX form, else exported (this needs torch).

    The export is written beside the final folder and renamed into place, weights files included: a reader
    never sees half an export, whatever files a tower has.
    """
    folder = export_dir(spec)
    if (folder / META_FILE).is_file():
        return folder
    try:
        export = _export_maker(spec)
    except (MissingExtraError, ModelUnavailableError):  # no torch to export it, or no hub to download it
        # Made by an earlier version (its text tower torch's export), it still runs where the exporter cannot.
        earlier = export_dir(spec, EXPORT_FORMAT - 1)
        if (earlier / META_FILE).is_file():
            return earlier
        raise
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".export-", dir=folder.parent))
    try:
        with _making(spec):
            export(staging)
        try:
            staging.rename(folder)
        except OSError:
            if not (folder / META_FILE).is_file():  # not another process winning the same race
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def _export_maker(spec: ModelSpec | QuerySpec) -> Callable[[Path], None]:
    """What makes the export of `spec` in a staging folder, in the order that needs the least."""
    bundled = bundled_export(spec)
    if bundled is not None:
        # Copied rather than read in place: int8 versions are written beside the export, and the package may be
        # read-only.
        return partial(_copy_export, bundled)
    if isinstance(spec, ModelSpec):
        layout = _published_layout(spec)
        if layout is not None:
            return partial(write_export, spec, layout)
    return _exporter(spec)


def _published_layout(spec: ModelSpec) -> Path | None:
    """The folder of `spec` in the hub's ONNX layout: a local one, a hub repository that has the layout, or,
    where torch cannot export an open_clip `ARCH:TAG` model, its copy in that layout on the hub."""
    if spec.layout is not None:
        return spec.layout
    if spec.arch.startswith("hf-hub:"):
        try:
            return hub_layout(spec.arch.removeprefix("hf-hub:"))
        except ModelUnavailableError:
            if find_spec("torch") is None:
                raise
            return None  # open_clip's own loading says what is missing
    mirror = mirror_of(spec)
    if mirror is not None and find_spec("torch") is None:
        return hub_layout(mirror)
    return None


def _making(spec: ModelSpec | QuerySpec):
    """Without torch (or the exporter's libraries) only a cached or shipped export runs: names the extra that
    makes one."""
    return needs_extra(f"No ONNX export of {spec.name} is cached in {cache_root()}; making it")


def _exporter(spec: ModelSpec | QuerySpec) -> Callable[[Path], None]:
    try:
        with _making(spec):
            if isinstance(spec, QuerySpec):
                from viewfinder.models.query_export import export_query_model

                return partial(export_query_model, spec)
            from viewfinder.models.onnx_export import export_model

            return partial(export_model, spec)
    except ImportError as error:
        raise ModelUnavailableError(
            f"No ONNX export of {spec.name} is cached in {cache_root()} and the exporter cannot run ({error}); "
            "install viewfinder[torch] once to make it."
        ) from error


def _copy_export(source: Path, staging: Path) -> None:
    shutil.copytree(source, staging, dirs_exist_ok=True)


def require_onnxruntime() -> None:
    """Fails at once, naming the extra, where onnxruntime is not installed (towers load later, on first use)."""
    with needs_extra("The ONNX runtime"):
        import onnxruntime  # noqa: F401


class OnnxEmbedder(Embedder):
    """open_clip's towers on ONNX Runtime (CPU), fp32 or int8 (onnx_quantize).

    Each tower loads on first use: indexing never loads the text tower (and its tokenizer), a search by text
    never loads the image tower. Search and serve warm the text tower at start-up with `load_text_tower`.
    A server's text tower (text_threads.use_free_cores) keeps a two-thread session beside the one-thread one,
    both on its weights mapped once (onnx_mapped), and a query takes it when a core is free.
    """

    def __init__(
        self,
        spec: ModelSpec,
        device: str = "cpu",
        int8: bool = False,
        int8_optional: bool = False,
        fp32_image: bool = False,
    ) -> None:
        """`int8_optional`: a tower the quantiser cannot handle runs in fp32 instead of failing. `fp32_image`: the
        image tower stays fp32 while the text tower is int8, for searches by image (an upload): the int8 image
        tower quantises its activations per batch, so an image alone gets another vector than it got in an
        indexing batch, and fp32's is nearer that one (an upload then ranks as its indexed copy does)."""
        if device == "cuda":
            raise ViewfinderError("The ONNX runtime runs on the CPU; use --runtime torch to embed on a GPU.")
        self.spec = spec
        self.device = "cpu"
        self.int8 = int8
        self.int8_optional = int8_optional
        self.fp32_image = fp32_image
        self.runtime = "onnx-int8" if int8 else "onnx"
        require_onnxruntime()
        self.folder = ensure_export(spec)
        meta = json.loads((self.folder / META_FILE).read_text())
        self.dim = int(meta["dim"])
        pre = meta["preprocess"]
        self.preprocess = PreprocessSpec(**{**pre, "mean": tuple(pre["mean"]), "std": tuple(pre["std"])})
        self.trimmed_text = bool(meta["trimmed_text"])
        self._context_length = int(meta["context_length"])
        self._meta = meta
        self._tokenizer: ClipTokenizer | HfTokenizer | None = None
        self._sessions: dict[str, object] = {}
        self._spare_thread: SpareThreadSession | None = None
        self._lock = threading.Lock()

    @property
    def loaded_towers(self) -> tuple[str, ...]:
        """The towers whose sessions exist now ("image", "text")."""
        return tuple(sorted(self._sessions))

    @property
    def tokenizer(self) -> ClipTokenizer | HfTokenizer:
        """The text tower's tokenizer (loading the tower)."""
        return self._text_tower()[1]

    def load_text_tower(self) -> None:
        self._tower("text")

    def load_image_tower(self) -> None:
        self._tower("image")

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        session, tokenizer = self._text_tower()
        tokens = tokenizer(texts, trim=self.trimmed_text)
        if self._spare_thread is not None:
            with self._spare_thread.lend() as two_threads:
                if two_threads is not None:
                    return run_tower(two_threads, tokens)
        return run_tower(session, tokens)

    def encode_images(self, pixels: np.ndarray) -> np.ndarray:
        return run_tower(self._tower("image"), to_model_input(pixels, self.preprocess))

    def _tower(self, name: str):
        session = self._sessions.get(name)
        if session is None:
            with self._lock:
                session = self._sessions.get(name)
                if session is None:
                    if name == "text":
                        self._tokenizer = self._load_tokenizer()
                        if wanted():
                            self._spare_thread = SpareThreadSession(self._session(name, THREADS))
                    session = self._sessions[name] = self._session(name)
        return session

    def _text_tower(self) -> tuple[Any, ClipTokenizer | HfTokenizer]:
        """The text tower's session (onnxruntime is untyped) and its tokenizer, loaded on first use."""
        session = self._tower("text")
        if self._tokenizer is None:  # never: _tower loads the tokenizer before it keeps the text session
            raise RuntimeError(f"the text tower of {self.spec.name} is loaded without its tokenizer")
        return session, self._tokenizer

    def _load_tokenizer(self) -> ClipTokenizer | HfTokenizer:
        if self._meta.get("tokenizer") == "hf":  # exports made before HF towers name no tokenizer: CLIP's
            path = self._file("tokenizer", TOKENIZER_FILE)
            return HfTokenizer(path, self._context_length, int(self._meta["pad_id"]))
        return clip_tokenizer(self.folder / VOCAB_FILE, self._context_length)

    def _file(self, part: str, default: str) -> Path:
        """A file of the export: in its folder, or where a model published in ONNX form keeps it."""
        path = Path(self._meta.get("files", {}).get(part) or self.folder / default)
        if not path.is_file():
            raise ModelUnavailableError(f"{path} of {self.spec.name} is gone; download the model again.")
        return path

    def tower_file(self, name: str) -> Path:
        """The ONNX file the tower `name` (image or text) loads from: fp32's, or its int8 version made on first
        use. A read-only model cache without it (a Lambda image made without map_text_tower) cannot make it:
        like a tower the quantiser cannot handle, that falls back to fp32 where int8 is optional."""
        path = self._file(name, f"{name}.onnx")
        if self.int8 and not (name == "image" and self.fp32_image):
            try:
                path = quantized_file(self.folder, name, path)
            except (QuantizationError, OSError) as error:
                if not self.int8_optional:
                    raise
                logging.getLogger(__name__).info("%s; using fp32", error)
                self.runtime = "onnx"
        return path

    def _session(self, name: str, threads: int = 1):
        import onnxruntime as ort

        path = self.tower_file(name)
        if threads > 1:
            _map(path)  # made first (_tower), so that the one-thread session maps the same weights
        path = mapped_file(path)  # its weights mapped where that form was made (onnx_mapped)
        options = ort.SessionOptions()
        # A text query is one short sequence: on one thread it never waits for a second thread that another
        # process has taken the core from (2-thread runs were 2-3x slower on a busy two-core machine); a
        # server's second session takes two where a core is free (text_threads). Image batches use every core.
        options.intra_op_num_threads = threads if name == "text" else 0  # 0: one thread per core
        if threads > 1:
            options.add_session_config_entry("session.intra_op.allow_spinning", "1")
            options.add_session_config_entry("session.intra_op.spin_duration_us", str(SPIN_US))
        else:
            # Idle pool threads would otherwise spin after each batch, taking the cores the decode threads need.
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if name == "image":
            # A memory pattern plans one block for every intermediate of a batch shape and keeps it; with the
            # arena alone, buffers are reused as they free. Batch 32 of ViT-B-32-256: peak RSS 875 -> 653 MB
            # (fp32), 596 -> 393 MB (int8), at the same speed within noise (BENCHMARKS.md).
            options.enable_mem_pattern = False
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _map(path: Path) -> None:
    """Makes the mapped form of a tower file where it is missing: sessions on it share its weights in the page
    cache instead of holding a copy each (~110 MB for ViT-B/32's int8 text tower). A model cache that cannot take
    it leaves each session its copy."""
    if mapped_file(path) == path:
        try:
            make_mapped(path)
        except OSError as error:
            logging.getLogger(__name__).info("cannot map %s (%s); each session loads its own copy", path, error)


# ONNX's names of the input types a tower may take, as numpy types.
INPUT_TYPES = {"tensor(float)": np.float32, "tensor(int64)": np.int64, "tensor(int32)": np.int32}


def run_tower(session: Any, batch: np.ndarray) -> np.ndarray:
    """Runs a tower on a batch, whatever its input is named and typed; a tower made for a batch of one (as the
    hub's ONNX models are) takes the rows one at a time."""
    spec = session.get_inputs()[0]
    batch = batch.astype(INPUT_TYPES.get(spec.type, batch.dtype), copy=False)
    if spec.shape[0] == 1 and len(batch) != 1:
        return np.concatenate([session.run(None, {spec.name: batch[row : row + 1]})[0] for row in range(len(batch))])
    return session.run(None, {spec.name: batch})[0]
