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
    """An LLM request sent through a mocked pool; ``exchange`` is set once it passes through."""

    __slots__ = ("_begin", "exchange")

    def __init__(self, begin: Callable[[], Exchange]) -> None:
        self._begin = begin
        self.exchange: Exchange | None = None


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


def _reached() -> None:
    """The pool's own method runs: for a pending LLM request, that means it passed through."""
    __tracebackhide__ = True
    pending = PENDING.get()
    if pending is None or pending.exchange is not None:
        return
    exchange = pending.exchange = pending._begin()  # CassetteMiss or a budget stop: nothing sent
    if exchange.replay is not None:
        raise Replayed(exchange.replay)


def _sync_pool(original: Any) -> Any:
    @functools.wraps(original)
    def handle_request(self: Any, request: Any) -> Any:
        __tracebackhide__ = True
        _reached()
        return original(self, request)

    return handle_request


def _async_pool(original: Any) -> Any:
    @functools.wraps(original)
    async def handle_async_request(self: Any, request: Any) -> Any:
        __tracebackhide__ = True
        _reached()
        return await original(self, request)

    return handle_async_request


def patch(module: ModuleType) -> None:
    """Wrap the connection pools of ``httpcore`` or ``httpcore2`` (proxies inherit the method).

    Named ``(self, request)`` as the originals are: respx reads the argument
    names of the method it replaces.
    """
    patch_method(module.ConnectionPool, "handle_request", _sync_pool)
    patch_method(module.AsyncConnectionPool, "handle_async_request", _async_pool)
