"""Anthropic's Messages API, plain JSON or SSE.

Anthropic's ``input_tokens`` leaves out cache reads and cache writes, unlike
OpenAI and Gemini: SPEC §4 adds them back so that ``input_tokens`` means
"every input token billed" for every provider.
"""

from __future__ import annotations

from pytest_llmbudget.providers.base import (
    Extraction,
    RequestJSON,
    as_dict,
    as_int,
    as_list,
    as_str,
    dig,
    dumps,
    model_name,
)
from pytest_llmbudget.providers.sse import Body
from pytest_llmbudget.records import Usage

_COUNTS = (
    "input_tokens",
    "output_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
)


def _merge(figures: dict[str, int], usage: object) -> None:
    """Take every count ``usage`` states: later statements replace earlier ones, never add to them.

    ``message_start`` states input and cache counts and a placeholder
    ``output_tokens: 1``; ``message_delta`` restates running totals (with
    server tools even a larger ``input_tokens``). A count a later event leaves
    out keeps its earlier value.
    """
    stated = as_dict(usage)
    for key in _COUNTS:
        number = as_int(stated.get(key))
        if number is not None:
            figures[key] = number
    thinking = as_int(dig(stated, "output_tokens_details", "thinking_tokens"))
    if thinking is not None:
        figures["thinking_tokens"] = thinking


def usage_of(figures: dict[str, int]) -> Usage | None:
    """SPEC §4 usage from Anthropic's counts, or None when none were stated."""
    if "input_tokens" not in figures and "output_tokens" not in figures:
        return None
    cache_read = figures.get("cache_read_input_tokens", 0)
    cache_write = figures.get("cache_creation_input_tokens", 0)
    return Usage(
        input_tokens=figures.get("input_tokens", 0) + cache_read + cache_write,
        output_tokens=figures.get("output_tokens", 0),
        cached_tokens=cache_read,
        cache_write_tokens=cache_write,
        reasoning_tokens=figures.get("thinking_tokens", 0),
    )


def _block_text(block: dict[str, object]) -> list[str]:
    """Generated text of a content block or block delta (signatures, redacted data: not text)."""
    parts = [as_str(block.get(key)) for key in ("text", "thinking", "partial_json")]
    if block.get("type") in ("tool_use", "server_tool_use") and block.get("input"):
        parts.append(dumps(block.get("input")))
    return parts


def extract_messages(request: RequestJSON, body: Body) -> Extraction:
    """``/v1/messages``: usage from the message, or from ``message_start`` + ``message_delta``."""
    figures: dict[str, int] = {}
    model: str | None = None
    for chunk in body.chunks:
        kind = chunk.get("type")
        message = as_dict(chunk.get("message")) if kind == "message_start" else chunk
        model = model or model_name(message.get("model"))
        if kind in ("message_start", "message_delta", "message", None):
            _merge(figures, message.get("usage"))

    def text() -> str:
        parts: list[str] = []
        for chunk in body.chunks:
            kind = chunk.get("type")
            message = as_dict(chunk.get("message")) if kind == "message_start" else chunk
            for block in as_list(message.get("content")):
                parts += _block_text(as_dict(block))
            parts += _block_text(as_dict(chunk.get("content_block")))
            if kind == "content_block_delta":
                parts += _block_text(as_dict(chunk.get("delta")))
        return "".join(parts)

    return Extraction(
        model=model or model_name(request().get("model")),
        usage=usage_of(figures),
        text=text,
        streamed=body.streamed,
    )
