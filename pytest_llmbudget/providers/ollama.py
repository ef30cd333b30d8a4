"""Ollama's native ``/api/chat`` and ``/api/generate``: one JSON answer, or NDJSON lines by default.

Ollama streams unless the request says ``"stream": false``. Only the final
line (``"done": true``) carries ``prompt_eval_count`` and ``eval_count``;
Ollama leaves ``prompt_eval_count`` out when the whole prompt came from its
cache, which then counts as zero billed input (a local model costs nothing
anyway; the counts feed token budgets).
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


def usage_of(chunk: dict[str, object]) -> Usage | None:
    """Usage stated by one Ollama line, or None when it states none."""
    prompt = as_int(chunk.get("prompt_eval_count"))
    generated = as_int(chunk.get("eval_count"))
    if prompt is None and generated is None:
        return None
    return Usage(input_tokens=prompt or 0, output_tokens=generated or 0)


def extract_ollama(request: RequestJSON, body: Body) -> Extraction:
    """Text is ``message.content`` (chat) or ``response`` (generate), plus thinking and tools."""
    model: str | None = None
    usage: Usage | None = None
    parts: list[str] = []
    for chunk in body.chunks:
        model = model or model_name(chunk.get("model"))
        usage = usage_of(chunk) or usage
        message = as_dict(chunk.get("message"))
        parts += [as_str(chunk.get("response")), as_str(chunk.get("thinking"))]
        parts += [as_str(message.get("content")), as_str(message.get("thinking"))]
        for call in as_list(message.get("tool_calls")):
            function = as_dict(as_dict(call).get("function"))
            parts += [as_str(function.get("name")), dumps(function.get("arguments") or {})]
    return Extraction(
        model=model or model_name(request().get("model")),
        usage=usage,
        text="".join(parts),
        streamed=body.streamed,
    )
