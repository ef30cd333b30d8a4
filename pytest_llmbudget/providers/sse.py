"""Cut a response body into the JSON objects it carries: plain JSON, SSE, NDJSON or a JSON array.

Every family module then reads a list of "chunks": one for a plain JSON
answer, one per event for a stream. Streams are often cut short (a test
that stops reading, a killed recording), so everything here keeps what can
be read and drops the rest instead of failing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from pytest_llmbudget.providers.base import loads

_DECODER = json.JSONDecoder()
_WHITESPACE = " \t\r\n"


@dataclass(frozen=True, slots=True)
class SseEvent:
    """One dispatched server-sent event: its ``event:`` name and joined ``data:`` lines."""

    event: str
    data: str


@dataclass(frozen=True, slots=True)
class Body:
    """A response body as JSON objects, and whether it came as a stream."""

    chunks: list[dict[str, object]]
    streamed: bool


def decode(body: bytes) -> str:
    """Bodies are UTF-8 JSON or SSE; anything else becomes replacement characters, not an error."""
    return body.decode("utf-8", errors="replace").lstrip("\ufeff")


def parse_sse(text: str) -> list[SseEvent]:
    """Events per the WHATWG EventSource rules, tolerant of a missing final blank line.

    Lines end with LF, CRLF or CR (Gemini's stream uses CRLF); ``data:`` lines
    of one event are joined with LF; lines starting with ``:`` are comments
    (OpenRouter sends ``: OPENROUTER PROCESSING``). An event cut off before its
    blank line is still returned: its JSON decides whether it is usable.
    """
    events: list[SseEvent] = []
    name = ""
    data: list[str] = []
    # Only CR and LF end lines: str.splitlines() would also cut at U+2028 and
    # friends, which JSON strings may hold unescaped.
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if not line:
            if data:
                events.append(SseEvent(name, "\n".join(data)))
            name, data = "", []
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "data":
            data.append(value)
        elif field == "event":
            name = value
    if data:
        events.append(SseEvent(name, "\n".join(data)))
    return events


def json_values(text: str) -> list[object]:
    """Successive JSON values in ``text``: NDJSON, concatenated objects or the items of an array.

    Gemini's ``streamGenerateContent`` without ``alt=sse`` answers one JSON
    array that grows chunk by chunk; cut short, it is not valid JSON, yet
    every complete item in it is. Array brackets and commas between values
    are skipped, so ``[{…},{…}`` yields both objects; a line that does not
    parse is skipped to the next line.
    """
    values: list[object] = []
    position, end = 0, len(text)
    while position < end:
        while position < end and (text[position] in _WHITESPACE or text[position] in "[],"):
            position += 1
        if position >= end:
            break
        try:
            value, position = _DECODER.raw_decode(text, position)
        except (ValueError, RecursionError):
            newline = text.find("\n", position)
            if newline < 0:
                break
            position = newline + 1
            continue
        values.append(value)
    return values


def looks_like_sse(text: str) -> bool:
    """An SSE body starts with a field line (``data:``, ``event:``, ``id:``…) or a ``:`` comment."""
    head = text.lstrip()[:16]
    return head.startswith((":", "data:", "event:", "id:", "retry:"))


def _objects(values: list[object]) -> list[dict[str, object]]:
    objects: list[dict[str, object]] = []
    for value in values:
        if isinstance(value, dict):
            objects.append(value)
        elif isinstance(value, list):
            objects.extend(item for item in value if isinstance(item, dict))
    return objects


def read_body(body: bytes, content_type: str) -> Body:
    """Split ``body`` into JSON objects, telling streams from plain answers.

    The content type decides when present; recorded cassettes sometimes lost
    their headers, so the body's first bytes decide otherwise. A JSON array
    (Gemini's stream without ``alt=sse``) and NDJSON (Ollama) count as streamed.
    """
    text = decode(body)
    lowered = content_type.lower()
    if "event-stream" in lowered:
        # An error answer may keep the stream's content type yet be one JSON object.
        as_sse = not text.lstrip().startswith(("{", "["))
    else:
        as_sse = not lowered.startswith("application/json") and looks_like_sse(text)
    if as_sse:
        chunks: list[dict[str, object]] = []
        for event in parse_sse(text):
            data = event.data.strip()
            if not data or data == "[DONE]":
                continue
            chunks.extend(_objects([loads(data)]))
        return Body(chunks, streamed=True)
    document = loads(text)
    if isinstance(document, dict):
        return Body([document], streamed="ndjson" in lowered)
    if isinstance(document, list):
        return Body(_objects(document), streamed=True)
    values = json_values(text)
    # Several values (NDJSON) or a cut-off JSON array are a stream; one value is a plain answer.
    streamed = len(values) > 1 or "ndjson" in lowered or text.lstrip().startswith("[")
    return Body(_objects(values), streamed=streamed)
