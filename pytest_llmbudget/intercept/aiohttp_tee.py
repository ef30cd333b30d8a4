"""Copy a live aiohttp answer into its exchange as the client reads it.

Why: reading the whole body before handing the response back (what vcrpy's
aiohttp stub does when it records) holds a streamed answer until its last
event, and a client breaking out of a stream early waits for all of it.

How: the response's ``StreamReader`` is given, on this one object, a
subclass of its own class that adds nothing to its layout (so the object
can take it) and copies each piece it hands out. Every read of a
``StreamReader`` (``read``, ``readany``, ``readline``, ``iter_chunked``,
``async for``...) takes its bytes through ``_read_nowait_chunk``. The
recording is made once the body is read to its end (the reader is at EOF);
when the client releases the response before that, it is made then, marked
``truncated``. Anything else (another reader class, another aiohttp whose
reader lacks these methods) is left to the whole-body path.
"""

from __future__ import annotations

import functools
from typing import Any

from pytest_llmbudget.recording.recorder import Exchange


class _Copy:
    __slots__ = ("decoded", "done", "exchange")

    def __init__(self, exchange: Exchange, decoded: bool) -> None:
        self.exchange = exchange
        self.decoded = decoded
        self.done = False

    def finish(self, reader: Any, *, truncated: bool) -> None:
        if self.done:
            return
        self.done = True
        _COPIES.pop(id(reader), None)
        self.exchange.complete(truncated=truncated, decoded=self.decoded)


# Keyed by the reader's id: a slotted StreamReader has no room for our state and
# cannot be weakly referenced. An entry leaves when its recording is made.
_COPIES: dict[int, _Copy] = {}


@functools.cache
def _copying_class() -> type:
    import aiohttp

    base: Any = aiohttp.StreamReader

    class CopyingStreamReader(base):  # type: ignore[misc]
        __slots__ = ()

        def _read_nowait_chunk(self, n: int) -> bytes:
            data: bytes = super()._read_nowait_chunk(n)
            copy = _COPIES.get(id(self))
            if copy is not None:
                if data:
                    copy.exchange.feed(data)
                if self.at_eof():
                    copy.finish(self, truncated=False)
            return data

    CopyingStreamReader.__name__ = base.__name__
    CopyingStreamReader.__qualname__ = base.__qualname__
    return CopyingStreamReader


def can_tee(response: Any) -> bool:
    """Whether ``response``'s body can be copied as it is read."""
    import aiohttp

    base = aiohttp.StreamReader
    content = getattr(response, "content", None)
    return (
        type(content) is base
        and callable(getattr(base, "_read_nowait_chunk", None))
        and callable(getattr(content, "on_eof", None))
        and callable(getattr(content, "at_eof", None))
        and hasattr(response, "__dict__")
    )


def tee(response: Any, exchange: Exchange, *, decoded: bool) -> None:
    """Copy what the client reads of ``response`` into ``exchange`` (see :func:`can_tee`)."""
    content = response.content
    content.__class__ = _copying_class()
    copy = _COPIES[id(content)] = _Copy(exchange, decoded)

    def at_eof() -> None:  # the body has all arrived; done if it was all read too
        if content.at_eof():
            copy.finish(content, truncated=False)

    content.on_eof(at_eof)
    for name in ("release", "close"):
        original = getattr(response, name)
        setattr(response, name, _then_finish(original, copy, content))


def _then_finish(original: Any, copy: _Copy, content: Any) -> Any:
    @functools.wraps(original)
    def call(*args: Any, **kwargs: Any) -> Any:
        read_all = content.at_eof()
        try:
            return original(*args, **kwargs)
        finally:
            copy.finish(content, truncated=not read_all)

    return call
