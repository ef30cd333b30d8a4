"""Whether a body the client stopped reading is nonetheless the whole answer.

A tee sees that the client closed a response before reading it to the end,
but not why: a test breaking out of a stream, or an SDK that stops at the
stream's own end marker. The openai SDK does the latter: it stops at
``data: [DONE]`` and closes the response without reading the chunked
encoding's last, empty chunk. Flagging such a recording ``truncated`` would
mark every openai stream as cut short; the body itself tells the two apart.
"""

from __future__ import annotations

from collections.abc import Sequence

_DONE_EVENTS = (b"data: [DONE]", b"data:[DONE]")


def _header(headers: Sequence[tuple[str, str]], name: str) -> str:
    return next((value for key, value in headers if key.lower() == name), "")


def _ends_with_done(body: bytes) -> bool:
    """The last event of an SSE body is the ``[DONE]`` sentinel, dispatched by its blank line."""
    # The sentinel event is short: the tail holds it, however long the stream.
    text = body[-512:].replace(b"\r\n", b"\n").replace(b"\r", b"\n").rstrip(b" \t")
    events = text.rstrip(b"\n")
    if len(text) - len(events) < 2:
        return False  # the last event's blank line has not arrived: it was not dispatched
    last = events.rsplit(b"\n\n", 1)[-1]
    return any(line.strip() in _DONE_EVENTS for line in last.split(b"\n"))


def is_whole(headers: Sequence[tuple[str, str]], body: bytes, *, sent_size: int | None) -> bool:
    """True when ``body`` (decompressed, if it was) is all the server meant to send.

    ``sent_size``: how many bytes came over the wire, which ``Content-Length``
    counts; None when the client decompressed them before we saw them.
    """
    length = _header(headers, "content-length").strip()
    if length.isdigit() and sent_size is not None:
        return sent_size == int(length)
    if "text/event-stream" in _header(headers, "content-type").lower():
        return _ends_with_done(body)
    return False
