"""Cohere's own API (``/v2/chat``, ``/v1/chat``, ``/v2/embed``, ``/v1/embed``).

api.cohere.com is not a host the plugin knows, so these calls arrive only
through ``llm_hosts`` (provider ``custom``, API ``other``) and are recognised
by their shape. Cohere states two sets of counts: ``tokens`` (what the model
read and wrote, cached tokens included) and ``billed_units`` (a discounted
figure that is not "input minus cache"). Like genai-prices we take
``tokens`` with ``cached_tokens`` when present, ``billed_units`` otherwise.
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
    model_name,
)
from pytest_llmbudget.providers.sse import Body
from pytest_llmbudget.records import Usage


def _usage_block(chunk: dict[str, object]) -> dict[str, object]:
    """Where a chunk keeps its counts: ``usage`` (v2), ``meta`` (v1, embed), a stream's end."""
    for candidate in (
        chunk.get("usage"),
        dig(chunk, "delta", "usage"),  # v2 stream: message-end
        chunk.get("meta"),
        dig(chunk, "response", "meta"),  # v1 stream: stream-end
    ):
        if isinstance(candidate, dict) and ("tokens" in candidate or "billed_units" in candidate):
            return candidate
    return {}


def usage_of(chunk: dict[str, object]) -> Usage | None:
    """SPEC §4 usage of one Cohere answer or stream event, or None when it states none."""
    block = _usage_block(chunk)
    counts = as_dict(block.get("tokens")) or as_dict(block.get("billed_units"))
    prompt = as_int(counts.get("input_tokens"))
    generated = as_int(counts.get("output_tokens"))
    images = as_int(counts.get("image_tokens"))
    if prompt is None and generated is None and images is None:
        return None
    prompt = (prompt or 0) + (images or 0)
    return Usage(
        input_tokens=prompt,
        output_tokens=generated or 0,
        cached_tokens=min(as_int(block.get("cached_tokens")) or 0, prompt),
    )


def is_cohere(chunk: dict[str, object]) -> bool:
    """Whether a JSON object has Cohere's usage shape (used to recognise ``other`` calls)."""
    return bool(_usage_block(chunk))


def extract_cohere(request: RequestJSON, body: Body) -> Extraction:
    """Chat or embed; Cohere's chat answers do not name their model, so the request's is used."""
    model: str | None = None
    usage: Usage | None = None
    parts: list[str] = []
    for chunk in body.chunks:
        model = model or model_name(chunk.get("model"))
        usage = usage_of(chunk) or usage
        parts.append(as_str(chunk.get("text")))  # v1 answers and stream text-generation events
        for content in as_list(as_dict(chunk.get("message")).get("content")):
            parts.append(as_str(as_dict(content).get("text")))
        parts.append(as_str(dig(chunk, "delta", "message", "content", "text")))
    return Extraction(
        model=model or model_name(request().get("model")),
        usage=usage,
        text="".join(parts),
        streamed=body.streamed,
    )
