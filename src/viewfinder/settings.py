"""Every setting of Viewfinder, declared once: name, type, default, environment variable, help and range.

The command line builds its options from this table (`add_option`); `serve`, the Lambda handler and the
library read the environment through it (`value`); docs/settings.md is generated from it (`reference`:
`python -m viewfinder.settings > docs/settings.md`). A setting's value is its flag where the command has one,
else its environment variable, else its default. A value of the wrong type or out of range is a SettingError
when the command or the handler starts (one line, exit 2), never a failure later.
"""

from __future__ import annotations

import argparse
import math
import os
from dataclasses import dataclass
from typing import Any, Literal, get_args

from viewfinder.errors import ViewfinderError

DEVICES = ("auto", "cpu", "cuda")
RUNTIMES = ("auto", "torch", "onnx", "onnx-int8")
ENGINES = ("local", "ray")
# The orders a search answers in: by relevance, or the results that pass the relevance cut newest first.
Sort = Literal["relevance", "date"]
SORTS: tuple[str, ...] = get_args(Sort)
DEFAULT_INDEX = "viewfinder-index"
HOST = "127.0.0.1"
PORT = 8000
BATCH_SIZE = 32
RECONCILE_SECONDS = 300.0
PRESIGN_TTL = 15 * 60
# S3 refuses a SigV4 presigned URL valid for longer than seven days: every redirect would fail.
MAX_PRESIGN_TTL = 7 * 24 * 3600
LAMBDA_POLL_SECONDS = 60.0
# The largest image file read: decode refuses a bigger file, and a bigger S3 object is not fetched.
MAX_IMAGE_BYTES = 200 * 2**20
# Megabytes the images being decoded at once may take (uploads, thumbnails, renditions): the largest image
# the decoder takes at all (120 MP of 32-bit samples) is estimated at 2.4 GB.
DECODE_MEMORY_MB = 3072


class SettingError(ViewfinderError):
    """A setting given a value of the wrong type or out of its range (by a flag or an environment variable)."""


@dataclass(frozen=True)
class Setting:
    """One setting: how it is given (flag, environment variable), its type, default and allowed values."""

    name: str  # also the argparse dest of its flag
    kind: type  # str, int, float or bool; list: a repeatable flag, or a comma-separated variable
    default: Any
    help: str
    flag: str | None = None
    env: str | None = None
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    metavar: str | None = None
    default_text: str = ""  # the default in words, where it is decided at run time

    def parse(self, text: str, where: str) -> Any:
        """The value `text` stands for; SettingError naming `where` (the flag or variable and the text) if none."""
        if self.kind is list:
            return tuple(item.strip() for item in text.split(",") if item.strip())
        if self.kind is bool:
            return text.strip().lower() not in ("", "0", "false", "no", "off")
        if self.kind in (int, float):
            try:
                number = self.kind(text)
            except ValueError:
                number = math.nan
            if not math.isfinite(number):
                raise SettingError(f"{where}: not {'a whole number' if self.kind is int else 'a number'}.")
            too_low = self.minimum is not None and number < self.minimum
            too_high = self.maximum is not None and number > self.maximum
            if too_low or too_high:
                raise SettingError(f"{where}: must be {self.range_text()}.")
            return number
        if self.choices and text not in self.choices:
            raise SettingError(f"{where}: must be one of {', '.join(self.choices)}.")
        return str(text)  # a plain str, never add_option's _FromEnvironment (it would not pickle to Ray workers)

    def from_argument(self, text: str) -> Any:
        """argparse's `type`: a flag's text, or the default add_option read from the environment."""
        where = f"{text.variable}={text}" if isinstance(text, _FromEnvironment) else f"{self.flag} {text}"
        return self.parse(text, where)

    def range_text(self) -> str:
        """The allowed values in words ('' when any value of the type goes)."""
        if self.choices:
            return "one of " + ", ".join(self.choices)
        low, high = (None if bound is None else f"{bound:g}" for bound in (self.minimum, self.maximum))
        if low is not None and high is not None:
            return f"between {low} and {high}"
        return f"at least {low}" if low is not None else f"at most {high}" if high is not None else ""

    def default_words(self) -> str:
        """The default as the docs and --help show it."""
        if self.default_text:
            return self.default_text
        if self.default in (None, ()):
            return "none"
        if isinstance(self.default, bool):
            return "on" if self.default else "off"
        return f"{self.default:g}" if isinstance(self.default, float) else str(self.default)


class _FromEnvironment(str):
    """A flag's default read from its environment variable: argparse converts it as it converts a flag's
    text (so a bad value fails only the commands that take the flag), and errors name the variable."""

    variable: str

    def __new__(cls, text: str, variable: str) -> _FromEnvironment:
        instance = super().__new__(cls, text)
        instance.variable = variable
        return instance


_TABLE = (
    Setting(
        "index", str, DEFAULT_INDEX, "the index directory, or for `serve` an s3://BUCKET/indexes/NAME snapshot",
        flag="--index", env="VIEWFINDER_INDEX", metavar="DIR", default_text=f"./{DEFAULT_INDEX}",
    ),
    Setting(
        "s3_endpoint", str, None, "an S3-compatible store to use instead of AWS",
        flag="--s3-endpoint", env="AWS_ENDPOINT_URL", metavar="URL", default_text="AWS",
    ),
    Setting(
        "device", str, "auto", "where the model runs (auto: a CUDA GPU when torch sees one, else the CPU)",
        flag="--device", choices=DEVICES,
    ),
    Setting(
        "runtime", str, "auto",
        "embedding runtime (auto: torch with --device cuda, and for index on a GPU it finds; else ONNX Runtime,"
        " int8: the image tower for index, the text tower for search and serve; onnx: fp32)",
        flag="--runtime", env="VIEWFINDER_RUNTIME", choices=RUNTIMES,
    ),
    Setting(
        "engine", str, "local", "where decoding and embedding run: this process (local) or a Ray cluster (ray)",
        flag="--engine", choices=ENGINES,
    ),
    Setting(
        "store", str, None,
        "vector store of a new index: faiss, milvus (Milvus Lite in the index directory), milvus:PATH.db or"
        " milvus:http://HOST:19530",
        flag="--store", metavar="STORE", default_text="faiss, or an existing index's",
    ),
    Setting("batch_size", int, BATCH_SIZE, "images embedded at once", flag="--batch-size", minimum=1, metavar="N"),
    Setting(
        "reconcile", float, RECONCILE_SECONDS, "seconds between full rescans of watched folders",
        flag="--reconcile", minimum=1, metavar="SECONDS",
    ),
    Setting(
        "query_model", str, None,
        "encode text queries with this multilingual model aligned to the index's model, e.g."
        " M-CLIP/XLM-Roberta-Large-Vit-B-32 for a ViT-B-32:openai index (no image is embedded again)",
        flag="--query-model", metavar="NAME", default_text="the index's model",
    ),
    Setting(
        "min_relevance", float, None, "only results rated at least P% relevant (0 shows all)",
        flag="--min-relevance", minimum=0, maximum=100, metavar="P",
        default_text="50, or 0 for random-weight models",
    ),
    Setting(
        "sort", str, "relevance",
        "order of the results: relevance (best first) or date (newest first by capture date, undated last; each"
        " result keeps its rank by relevance)",
        flag="--sort", choices=SORTS,
    ),
    Setting("host", str, HOST, "address `serve` listens on", flag="--host"),
    Setting("port", int, PORT, "port `serve` listens on; 0 picks a free one", flag="--port", minimum=0,
            maximum=65535),
    Setting(
        "presign_ttl", int, PRESIGN_TTL,
        "seconds the link /images/{id} redirects to stays valid for an image in S3 (S3 allows at most 7 days)",
        flag="--presign-ttl", env="VIEWFINDER_PRESIGN_TTL", minimum=1, maximum=MAX_PRESIGN_TTL,
        metavar="SECONDS",
    ),
    Setting(
        "allowed_hosts", list, (),
        "host names the service answers to besides loopback (and any IP address when `serve` listens beyond"
        " loopback); '*' allows any (the Lambda deployment sets it)",
        flag="--allowed-host", env="VIEWFINDER_ALLOWED_HOSTS", metavar="NAME",
    ),
    Setting(
        "cors_origins", list, (), "web origins allowed to call the API from a browser",
        flag="--cors-origin", env="VIEWFINDER_CORS_ORIGINS", metavar="ORIGIN",
    ),
    Setting(
        "review_folder", str, None,
        "folder `serve` moves the duplicates its page resolves to (outside the sources; undo moves them back)",
        flag="--review-folder", env="VIEWFINDER_REVIEW_FOLDER", metavar="DIR",
        default_text="viewfinder-review beside the index",
    ),
    Setting(
        "warm_thumbnails", bool, True,
        "`serve` makes the thumbnails local photos lack in the background, so searches find them made",
        env="VIEWFINDER_WARM_THUMBNAILS",
    ),
    Setting("api_token", str, None, "bearer token every route but /, /assets, /healthz and /openapi.json needs",
            env="VIEWFINDER_API_TOKEN"),
    Setting("admin_token", str, None, "bearer token /admin needs (unset: /admin is disabled)",
            env="VIEWFINDER_ADMIN_TOKEN"),
    Setting(
        "decode_memory", int, DECODE_MEMORY_MB,
        "megabytes the images a server decodes at once may take, estimated from their headers; more waits,"
        " then gets 503 (one image that alone needs more gets 413)",
        env="VIEWFINDER_DECODE_MEMORY", minimum=64,
    ),
    Setting(
        "poll_seconds", float, LAMBDA_POLL_SECONDS,
        "Lambda: seconds before an invocation checks for a newer published snapshot first",
        env="VIEWFINDER_POLL_SECONDS", minimum=0,
    ),
    Setting("cache", str, None, "Viewfinder's cache folder (ONNX exports, benchmark images)",
            env="VIEWFINDER_CACHE", default_text="~/.cache/viewfinder"),
    Setting(
        "snapshot_cache", str, None,
        "where downloaded snapshots are kept (the Lambda image sets /tmp/viewfinder-snapshots)",
        env="VIEWFINDER_SNAPSHOT_CACHE", default_text="the cache folder's snapshots/",
    ),
    Setting("debug", bool, False, "show the traceback of an unexpected error", env="VIEWFINDER_DEBUG"),
)  # fmt: skip

SETTINGS: dict[str, Setting] = {setting.name: setting for setting in _TABLE}


def from_environment(name: str) -> Any:
    """A setting's value from its environment variable (validated); None when the variable is unset or empty."""
    setting = SETTINGS[name]
    text = os.environ.get(setting.env or "", "")
    return setting.parse(text, f"{setting.env}={text}") if text else None


def value(name: str) -> Any:
    """A setting's value: its environment variable (validated), else its default."""
    given = from_environment(name)
    return SETTINGS[name].default if given is None else given


def add_option(parser: argparse.ArgumentParser, name: str, help: str | None = None) -> None:
    """Adds a setting's flag to a command: its default is the environment variable, else the table's default.

    A repeatable flag (a list setting) defaults to none given: its reader falls back to the variable.
    """
    setting = SETTINGS[name]
    if setting.flag is None:  # a bug in a command's options, not bad input
        raise ValueError(f"The setting {name} has no flag: it is given by ${setting.env} only.")
    words = f"${setting.env}, else {setting.default_words()}" if setting.env else setting.default_words()
    repeatable = "; repeatable" if setting.kind is list else ""
    text = f"{help or setting.help}{repeatable} (default: {words})".replace("%", "%%")
    if setting.kind is list:
        parser.add_argument(setting.flag, dest=name, action="append", default=[], metavar=setting.metavar, help=text)
        return
    default = setting.default
    if setting.env and (variable := os.environ.get(setting.env, "")):
        default = _FromEnvironment(variable, setting.env)
    parser.add_argument(
        setting.flag,
        dest=name,
        type=setting.from_argument,
        default=default,
        choices=setting.choices or None,
        metavar=setting.metavar,
        help=text,
    )


def reference() -> str:
    """docs/settings.md: the table in Markdown."""
    lines = [
        "# Settings",
        "",
        "Every setting of Viewfinder, generated from the table in `src/viewfinder/settings.py`",
        "(`python -m viewfinder.settings > docs/settings.md`; `tests/test_settings.py` fails when they differ).",
        "",
        "A setting's value is its flag where a command has one, else its environment variable, else its default.",
        "A repeatable flag replaces the variable's list (comma-separated) when given. A value of the wrong type or",
        "out of range stops the command, `serve` or the Lambda handler at start with one line (exit 2).",
        "",
        "| Setting | Flag | Environment variable | Type | Default | Allowed | Description |",
        "|---|---|---|---|---|---|---|",
    ]
    for setting in _TABLE:
        kind = "list" if setting.kind is list else setting.kind.__name__
        cells = [
            setting.name,
            f"`{setting.flag}`" if setting.flag else "",
            f"`{setting.env}`" if setting.env else "",
            kind,
            setting.default_words(),
            setting.range_text(),
            setting.help,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(reference(), end="")
