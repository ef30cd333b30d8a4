"""Patch a client library the moment it is imported, and not before.

Importing httpx, requests or aiohttp ourselves at plugin load would slow down
every run; waiting until a test starts would miss a library a test imports
lazily. A meta-path finder wraps the loader of the few module names we care
about and applies the patch right after the module has executed.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from types import ModuleType
from typing import Any

Patcher = Callable[[ModuleType], None]


class _PatchingLoader(importlib.abc.Loader):
    def __init__(self, inner: importlib.abc.Loader, patcher: Patcher) -> None:
        self._inner = inner
        self._patcher = patcher

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._inner.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._inner.exec_module(module)
        self._patcher(module)

    def __getattr__(self, name: str) -> Any:
        # get_data, is_package, resource readers...: whatever else the inner loader offers.
        return getattr(self._inner, name)


class PostImportFinder(importlib.abc.MetaPathFinder):
    """Finds nothing itself; decorates the real finder's answer for watched names."""

    def __init__(self, patchers: Mapping[str, Patcher]) -> None:
        self._patchers = patchers
        self._local = threading.local()

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        patcher = self._patchers.get(fullname)
        if patcher is None or getattr(self._local, "busy", False):
            return None
        self._local.busy = True
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            self._local.busy = False
        if spec is None or spec.loader is None:
            return None
        spec.loader = _PatchingLoader(spec.loader, patcher)
        return spec

    def install(self) -> None:
        """Patch what is loaded already; watch for the rest."""
        for name, patcher in self._patchers.items():
            module = sys.modules.get(name)
            if module is not None:
                patcher(module)
        if self not in sys.meta_path:
            sys.meta_path.insert(0, self)

    def uninstall(self) -> None:
        if self in sys.meta_path:
            sys.meta_path.remove(self)
