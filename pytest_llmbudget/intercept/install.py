"""Turn interception on for a pytest session, and off again, reference-counted.

In-process pytester runs configure the plugin inside an outer session; only
the first install patches and only the last uninstall restores.
"""

from __future__ import annotations

import threading
from types import ModuleType

from pytest_llmbudget.intercept.importhook import Patcher, PostImportFinder


def _patch_httpx(module: ModuleType) -> None:
    from pytest_llmbudget.intercept import httpx_adapter

    httpx_adapter.patch(module)


def _patch_httpcore(module: ModuleType) -> None:
    from pytest_llmbudget.intercept import passthrough

    passthrough.patch(module)


def _patch_requests(module: ModuleType) -> None:
    from pytest_llmbudget.intercept import requests_adapter

    requests_adapter.patch(module)


def _patch_aiohttp(module: ModuleType) -> None:
    from pytest_llmbudget.intercept import aiohttp_adapter

    aiohttp_adapter.patch(module)


def _patch_vcrpy(module: ModuleType) -> None:
    from pytest_llmbudget.vcrcompat import bridge

    bridge.patch(module)


PATCHERS: dict[str, Patcher] = {
    "httpx": _patch_httpx,
    "httpx2": _patch_httpx,
    "httpcore": _patch_httpcore,
    "httpcore2": _patch_httpcore,
    "requests": _patch_requests,
    "aiohttp": _patch_aiohttp,
    "vcr.cassette": _patch_vcrpy,
}


class _Interception:
    __slots__ = ("_finder", "_lock", "_users")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users = 0
        self._finder: PostImportFinder | None = None

    def acquire(self) -> None:
        with self._lock:
            self._users += 1
            if self._finder is None:
                self._finder = PostImportFinder(PATCHERS)
                self._finder.install()

    def release(self) -> None:
        with self._lock:
            self._users = max(self._users - 1, 0)
            if self._users or self._finder is None:
                return
            self._finder.uninstall()
            self._finder = None
            from pytest_llmbudget.intercept import tls
            from pytest_llmbudget.intercept.patching import unpatch_all

            unpatch_all()
            tls.forget()


_INTERCEPTION = _Interception()
install = _INTERCEPTION.acquire
uninstall = _INTERCEPTION.release
