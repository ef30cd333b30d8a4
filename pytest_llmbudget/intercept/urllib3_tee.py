"""Copy a live ``requests`` answer into its exchange as the client reads it.

Why: reading the whole body before handing the response back would hold a
``stream=True`` stream until its last event (the first chunk of a slow SSE
answer arrived seconds late), and a client breaking out of a stream early
would wait for all of it. Instead the urllib3 response that ``requests``
reads from is left to be read by ``requests`` itself; its reading methods,
on that one response object, copy what they return into the exchange. The
recording is made when the body has been read to its end, or when the
test ends first (``truncated``: the client stopped reading, or closed it).

Every byte ``requests`` hands out comes through ``read``, ``read1`` or
``read_chunked`` (``stream`` and ``iter_content`` call them). Chunks read
decoded and chunks read raw are told apart: a body read both ways cannot be
stored faithfully and is not recorded.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_llmbudget.recording.recorder import Exchange


class _Tee:
    __slots__ = ("_done", "_encoded", "_exchange", "_raw", "_read_decoded", "_read_raw")

    def __init__(self, raw: Any, exchange: Exchange, encoded: bool) -> None:
        self._raw = raw
        self._exchange = exchange
        self._encoded = encoded  # the answer has a Content-Encoding
        self._read_decoded = False
        self._read_raw = False
        self._done = False

    def took(self, data: bytes, decode_content: bool | None) -> None:
        if not data:
            return
        decode = self._raw.decode_content if decode_content is None else decode_content
        if decode or not self._encoded:
            self._read_decoded = True
        else:
            self._read_raw = True
        self._exchange.feed(data)

    def at_end(self) -> bool:
        """Read to its end: the connection's body is exhausted and nothing is left buffered."""
        raw = self._raw
        buffered = getattr(raw, "_decoded_buffer", None)
        return bool(raw.closed) and not (buffered is not None and len(buffered))

    def finish(self, *, truncated: bool) -> None:
        if self._done:
            return
        self._done = True
        if self._read_decoded and self._read_raw:
            self._exchange.abort()  # half decoded, half not: no faithful recording
        else:
            self._exchange.complete(truncated=truncated, decoded=not self._read_raw)

    def fail(self) -> None:
        self._done = True
        self._exchange.abort()


def _decode_argument(args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool | None:
    if "decode_content" in kwargs:
        return bool(kwargs["decode_content"]) if kwargs["decode_content"] is not None else None
    return bool(args[1]) if len(args) > 1 and args[1] is not None else None


def _reader(tee: _Tee, original: Callable[..., bytes], *, whole: bool) -> Callable[..., bytes]:
    """``read`` (``whole``: without ``amt`` it reads to the end) or ``read1``."""

    @functools.wraps(original)
    def read(*args: Any, **kwargs: Any) -> bytes:
        try:
            data = original(*args, **kwargs)
        except Exception:
            tee.fail()
            raise
        tee.took(data, _decode_argument(args, kwargs))
        amt = kwargs.get("amt", args[0] if args else None)
        if (whole and amt is None) or (not data and amt != 0) or tee.at_end():
            tee.finish(truncated=False)
        return data

    return read


def _chunked_reader(tee: _Tee, original: Callable[..., Iterator[bytes]]) -> Callable[..., Any]:
    @functools.wraps(original)
    def read_chunked(*args: Any, **kwargs: Any) -> Iterator[bytes]:
        decode = _decode_argument(args, kwargs)
        try:
            for chunk in original(*args, **kwargs):
                tee.took(chunk, decode)
                yield chunk
        except Exception:
            tee.fail()
            raise
        tee.finish(truncated=False)

    return read_chunked


def tee(raw: Any, exchange: Exchange, encoded: bool) -> bool:
    """Copy what is read from urllib3 response ``raw`` into ``exchange``; False if we cannot."""
    needed = ("read", "read_chunked", "closed", "decode_content")
    if not all(hasattr(raw, name) for name in needed) or not hasattr(raw, "__dict__"):
        return False
    copier = _Tee(raw, exchange, encoded)
    # On this one object only: its class, and every other response, stay as they are.
    # Closing is not hooked: a response closed unread (or collected) is recorded,
    # truncated, when the test ends, never from inside a finalizer.
    raw.read = _reader(copier, raw.read, whole=True)
    if hasattr(raw, "read1"):
        raw.read1 = _reader(copier, raw.read1, whole=False)
    raw.read_chunked = _chunked_reader(copier, raw.read_chunked)
    return True
