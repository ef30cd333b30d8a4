"""Gemini ``generateContent`` / ``streamGenerateContent`` (Google AI and Vertex AI).

``usageMetadata`` keeps thinking apart: ``thoughtsTokenCount`` is billed as
output but not inside ``candidatesTokenCount``, and tool-use prompts
(``toolUsePromptTokenCount``) are billed as input but not inside
``promptTokenCount``. Both are added back for SPEC §4's totals.
"""

from __future__ import annotations

from pytest_llmbudget.providers.base import (
    Extraction,
    RequestJSON,
    as_dict,
    as_int,
    as_list,
    as_str,
    dumps,
    model_name,
)
from pytest_llmbudget.providers.sse import Body
from pytest_llmbudget.records import Usage


def model_from_path(endpoint: str) -> str | None:
    """``…/models/gemini-2.5-flash:generateContent`` → ``gemini-2.5-flash``.

    Gemini requests name their model in the URL, not the body; Vertex adds a
    ``projects/…/publishers/google/`` prefix before the same ``models/`` segment.
    Only ``models/<name>:<method>`` counts: Azure's ``/models/chat/completions``
    names no model.
    """
    start = endpoint.rfind("models/")
    if start < 0:
        return None
    name, colon, _method = endpoint[start + len("models/") :].partition(":")
    return name if colon and name and "/" not in name else None


def usage_of(metadata: dict[str, object]) -> Usage | None:
    """SPEC §4 usage from one ``usageMetadata``, or None when it states no counts."""
    prompt = as_int(metadata.get("promptTokenCount"))
    candidates = as_int(metadata.get("candidatesTokenCount"))
    thoughts = as_int(metadata.get("thoughtsTokenCount"))
    if prompt is None and candidates is None and thoughts is None:
        return None
    prompt = (prompt or 0) + (as_int(metadata.get("toolUsePromptTokenCount")) or 0)
    thoughts = thoughts or 0
    return Usage(
        input_tokens=prompt,
        output_tokens=(candidates or 0) + thoughts,
        cached_tokens=min(as_int(metadata.get("cachedContentTokenCount")) or 0, prompt),
        reasoning_tokens=thoughts,
    )


def _candidate_text(chunk: dict[str, object]) -> list[str]:
    parts: list[str] = []
    for candidate in as_list(chunk.get("candidates")):
        for part in as_list(as_dict(as_dict(candidate).get("content")).get("parts")):
            entry = as_dict(part)
            parts.append(as_str(entry.get("text")))
            call = as_dict(entry.get("functionCall"))
            if call:
                parts += [as_str(call.get("name")), dumps(call.get("args") or {})]
    return parts


def extract_generate(request: RequestJSON, body: Body, *, endpoint: str) -> Extraction:
    """One answer or a stream of chunks (SSE with ``alt=sse``, else a JSON array).

    Each streamed chunk restates the whole ``usageMetadata`` as running
    totals — the prompt count may even shrink between chunks — so the last
    chunk's metadata is the call's usage; nothing is summed.
    """
    metadata: dict[str, object] | None = None
    model: str | None = None
    for chunk in body.chunks:
        stated = chunk.get("usageMetadata")
        if isinstance(stated, dict):
            metadata = stated
        model = model or model_name(chunk.get("modelVersion"))
    return Extraction(
        model=model or model_from_path(endpoint) or model_name(request().get("model")),
        usage=usage_of(metadata) if metadata is not None else None,
        text=lambda: "".join(part for chunk in body.chunks for part in _candidate_text(chunk)),
        streamed=body.streamed or endpoint.endswith(":streamGenerateContent"),
    )
