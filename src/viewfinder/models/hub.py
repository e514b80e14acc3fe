"""The Hugging Face hub as the runtimes see it: what is cached, whether it can be reached, where the cache is."""

from __future__ import annotations

import os
import socket

HUB_HOST = "huggingface.co"


def cached_file(repo: str, filename: str) -> str | None:
    """The path of `filename` of `repo` in the local Hugging Face cache, or None when it is not there."""
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(repo, filename)
    return found if isinstance(found, str) else None


def hub_reachable() -> bool:
    """Whether the hub may be used now: not switched off (HF_HUB_OFFLINE) and answering on its port."""
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false"):
        return False
    try:
        socket.create_connection((HUB_HOST, 443), timeout=3).close()
    except OSError:
        return False
    return True


def hub_cache_dir() -> str:
    from huggingface_hub import constants

    return str(constants.HF_HUB_CACHE)


def first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
