"""Hugging Face hub ids: load from the local cache when the hub cannot be reached, and fail at once,
in one line, when the model is not cached either.

huggingface_hub retries an unreachable hub for about a minute, printing a line per retry, before
transformers gives up; offline is the normal case for many users. So before a hub id is loaded, one
short TCP connect to the endpoint (or to the proxy that would carry the request) decides: reachable
→ load as usual; unreachable or ``HF_HUB_OFFLINE`` set → the cached copy, or an error naming the fixes.
"""

from __future__ import annotations

import socket
import urllib.request
from urllib.parse import urlsplit

from xlcli.errors import XlcliError

PROBE_SECONDS = 3.0


def is_cached(model_id: str) -> bool:
    """Whether the local hub cache holds the model's config.json (so it can load with no network)."""
    from huggingface_hub import try_to_load_from_cache

    try:
        return isinstance(try_to_load_from_cache(model_id, "config.json"), str)
    except Exception:  # an id the hub would reject (HFValidationError) is simply not cached
        return False


def reachable(endpoint: str, timeout: float = PROBE_SECONDS) -> bool:
    """One TCP connect to the endpoint's host, or to the proxy requests would use for it."""
    parts = urlsplit(endpoint)
    proxy = urllib.request.getproxies().get(parts.scheme or "https")
    if proxy and not urllib.request.proxy_bypass(parts.hostname or ""):
        parts = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    host = parts.hostname
    if not host:
        return False
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def local_files_only(model_id: str) -> bool:
    """For ``from_pretrained(model_id, local_files_only=...)``: True when the cached copy must be used.

    Raises a one-line :class:`XlcliError` when the model can be found neither on the hub nor in the cache.
    """
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        if is_cached(model_id):
            return True
        raise XlcliError(f"model {model_id}: not in the local Hugging Face cache and HF_HUB_OFFLINE is set; "
                         "download it once with the network, or pass the model's directory")
    if reachable(constants.ENDPOINT):
        return False
    if is_cached(model_id):
        return True
    host = urlsplit(constants.ENDPOINT).hostname or constants.ENDPOINT
    raise XlcliError(f"model {model_id}: not in the local Hugging Face cache and the hub ({host}) cannot be reached; "
                     "connect to the network, set HF_ENDPOINT to a mirror, or pass the model's directory")
