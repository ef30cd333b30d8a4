"""Calls a mock library lets through to the network: replayed, refused or recorded all the same.

respx mocks httpx below the transport, in the connection pool of httpcore.
What it answers never leaves the process, and is neither recorded nor
counted. What it passes through (a route with ``pass_through()``) calls the
pool's original method and goes out to the server: in replay-only mode, or
past a budget, that would be money spent that nothing counts or stops.

The transport, where we sit, cannot tell beforehand which of the two a mock
will do. So the pool's own method is wrapped as well: reached while the
transport above it holds an LLM request, it is a pass-through, and the
request goes through the recorder before it leaves: replayed from the
cassette (the recorded answer goes back up past the mock), refused by
replay-only mode or a limit (nothing is sent), or recorded by the transport
as any live call.
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any

from pytest_llmbudget.intercept.patching import patch_method

if TYPE_CHECKING:
    from pytest_llmbudget.recording.cassette import StoredResponse
    from pytest_llmbudget.recording.recorder import Exchange


class Pending:
    """An LLM request sent through a mocked pool; ``exchange`` is set once it passes through.

    ``pool``, ``method`` and ``target`` name the request: anything else that
    reaches a pool meanwhile (a request a mock's side effect makes, through
    another client or to another URL) is not this one passing through.
    """

    __slots__ = ("_begin", "exchange", "method", "pool", "target")

    def __init__(self, begin: Callable[[], Exchange], pool: Any, request: Any) -> None:
        self._begin = begin
        self.exchange: Exchange | None = None
        self.pool = pool
        self.method = str(request.method).upper()
        self.target = bytes(request.url.raw_path)

    def matches(self, pool: Any, request: Any) -> bool:
        method = request.method
        if isinstance(method, bytes):
            method = method.decode("ascii", errors="replace")
        target = getattr(request.url, "target", None)
        return pool is self.pool and str(method).upper() == self.method and target == self.target


class Replayed(BaseException):
    """Carries a recorded answer from the pool up to the transport, past the mock library.

    A BaseException, so that no ``except Exception`` on the way (the mock's,
    httpx's error mapping) takes it for a failure.
    """

    def __init__(self, response: StoredResponse) -> None:
        super().__init__("replayed")
        self.response = response


PENDING: contextvars.ContextVar[Pending | None] = contextvars.ContextVar(
    "llmbudget_pending_through_mock", default=None
)


def _reached(pool: Any, request: Any) -> None:
    """The pool's own method runs: for the pending LLM request, that means it passed through."""
    __tracebackhide__ = True
    pending = PENDING.get()
    if pending is None or pending.exchange is not None or not pending.matches(pool, request):
        return
    exchange = pending.exchange = pending._begin()  # CassetteMiss or a budget stop: nothing sent
    if exchange.replay is not None:
        raise Replayed(exchange.replay)


def _sync_pool(original: Any) -> Any:
    @functools.wraps(original)
    def handle_request(self: Any, request: Any) -> Any:
        __tracebackhide__ = True
        _reached(self, request)
        return original(self, request)

    return handle_request


def _async_pool(original: Any) -> Any:
    @functools.wraps(original)
    async def handle_async_request(self: Any, request: Any) -> Any:
        __tracebackhide__ = True
        _reached(self, request)
        return await original(self, request)

    return handle_async_request


def patch(module: ModuleType) -> None:
    """Wrap the connection pools of ``httpcore`` or ``httpcore2`` (proxies inherit the method).

    Named ``(self, request)`` as the originals are: respx reads the argument
    names of the method it replaces.
    """
    for pool, name, build in (
        (module.ConnectionPool, "handle_request", _sync_pool),
        (module.AsyncConnectionPool, "handle_async_request", _async_pool),
    ):
        if _own(pool, name):
            patch_method(pool, name, build)


def _own(pool: type, name: str) -> bool:
    """The pool's method is its package's own: not a mock started before we patched.

    Wrapping a mock would take every call it answers for one let through;
    left alone, a mock started that early lets calls through unseen, as
    before this module existed.
    """
    method = pool.__dict__.get(name)
    home = pool.__module__.partition(".")[0]
    return str(getattr(method, "__module__", "") or "").partition(".")[0] == home
