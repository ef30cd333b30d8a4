"""Turn interception on for a pytest session, and off again, reference-counted.

In-process pytester runs configure the plugin inside an outer session; only
the first install patches and only the last uninstall restores.
"""

from __future__ import annotations

import threading
from types import ModuleType

from pytest_llmbudget.intercept.importhook import PostImportFinder


def _patch_httpx(module: ModuleType) -> None:
    from pytest_llmbudget.intercept import httpx_adapter

    httpx_adapter.patch(module)


def _patch_requests(module: ModuleType) -> None:
    from pytest_llmbudget.intercept import requests_adapter

    requests_adapter.patch(module)


def _patch_aiohttp(module: ModuleType) -> None:
    from pytest_llmbudget.intercept import aiohttp_adapter

    aiohttp_adapter.patch(module)


PATCHERS = {
    "httpx": _patch_httpx,
    "httpx2": _patch_httpx,
    "requests": _patch_requests,
    "aiohttp": _patch_aiohttp,
}

_lock = threading.Lock()
_state: dict[str, object] = {"users": 0, "finder": None}


def install() -> None:
    with _lock:
        users = int(str(_state["users"]))
        _state["users"] = users + 1
        if users == 0:
            finder = PostImportFinder(PATCHERS)
            _state["finder"] = finder
            finder.install()


def uninstall() -> None:
    with _lock:
        users = int(str(_state["users"])) - 1
        _state["users"] = max(users, 0)
        if users > 0:
            return
        finder = _state["finder"]
        if isinstance(finder, PostImportFinder):
            finder.uninstall()
        _state["finder"] = None
        from pytest_llmbudget.intercept.patching import unpatch_all

        unpatch_all()
