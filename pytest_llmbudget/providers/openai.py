"""OpenAI's shapes (chat and legacy completions, Responses, embeddings) and their many imitators.

DeepSeek, Groq, Mistral, OpenRouter, xAI, Together, Cerebras, vLLM, LM Studio
and every other "OpenAI-compatible" server answer in these shapes with a few
extra or renamed fields; they are read here too, so one code path prices
them all.
"""

from __future__ import annotations

from decimal import Decimal

from pytest_llmbudget.providers.base import (
    Extraction,
    RequestJSON,
    as_dict,
    as_int,
    as_list,
    as_str,
    dig,
    dumps,
    first_int,
    model_name,
    money,
)
from pytest_llmbudget.providers.sse import Body
from pytest_llmbudget.records import Usage


def reported_cost(usage: dict[str, object]) -> Decimal | None:
    """What the provider says the call cost, when it says so.

    OpenRouter sends ``usage.cost`` (credits, 1 credit = 1 USD). With BYOK
    ("bring your own key") that is only OpenRouter's fee and the upstream
    provider bills ``cost_details.upstream_inference_cost`` to the user's own
    key: both are money the call spent. Perplexity nests ``cost.total_cost``.
    """
    cost = usage.get("cost")
    amount = money(cost) if not isinstance(cost, dict) else money(cost.get("total_cost"))
    if amount is None:
        return None
    if usage.get("is_byok") is True:
        upstream = money(dig(usage, "cost_details", "upstream_inference_cost"))
        if upstream is not None:
            amount += upstream
    return amount


def chat_usage(value: object, *, provider: str = "") -> Usage | None:
    """Usage of a chat/completions answer, in SPEC §4's convention, or None when it states none.

    * ``prompt_tokens`` already includes cached tokens (OpenAI, DeepSeek,
      Mistral); DeepSeek also splits it into ``prompt_cache_hit_tokens`` and
      ``prompt_cache_miss_tokens``, used when ``prompt_tokens`` is missing.
    * OpenAI counts reasoning inside ``completion_tokens``. xAI does not: its
      ``total_tokens`` is prompt + completion + reasoning. The totals tell which
      convention a response follows; without a total, the provider does.
    """
    usage = as_dict(value)
    prompt = as_int(usage.get("prompt_tokens"))
    completion = as_int(usage.get("completion_tokens"))
    hit = as_int(usage.get("prompt_cache_hit_tokens"))
    miss = as_int(usage.get("prompt_cache_miss_tokens"))
    if prompt is None and (hit is not None or miss is not None):
        prompt = (hit or 0) + (miss or 0)
    if prompt is None and completion is None:
        return None
    prompt, completion = prompt or 0, completion or 0
    prompt_details = as_dict(usage.get("prompt_tokens_details"))
    cached = first_int(
        prompt_details.get("cached_tokens"),
        hit,
        usage.get("cached_tokens"),  # Hugging Face's router puts it at the top
        usage.get("cached_prompt_text_tokens"),  # older xAI answers
    )
    cache_write = first_int(
        prompt_details.get("cache_write_tokens"),
        usage.get("cache_write_tokens"),
        usage.get("cache_creation_input_tokens"),
    )
    reasoning = (
        first_int(
            dig(usage, "completion_tokens_details", "reasoning_tokens"),
            usage.get("reasoning_tokens"),
        )
        or 0
    )
    total = as_int(usage.get("total_tokens"))
    if total is not None and reasoning:
        reasoning_outside = total == prompt + completion + reasoning
    else:
        reasoning_outside = provider == "x-ai"
    return Usage(
        input_tokens=prompt,
        output_tokens=completion + reasoning if reasoning_outside else completion,
        cached_tokens=min(cached or 0, prompt),
        cache_write_tokens=cache_write or 0,
        reasoning_tokens=reasoning,
        cost_usd=reported_cost(usage),
    )


def responses_usage(value: object) -> Usage | None:
    """Usage of a Responses API answer (``input_tokens``/``output_tokens`` and their details)."""
    usage = as_dict(value)
    prompt = as_int(usage.get("input_tokens"))
    completion = as_int(usage.get("output_tokens"))
    if prompt is None and completion is None:
        return None
    prompt = prompt or 0
    details = as_dict(usage.get("input_tokens_details"))
    return Usage(
        input_tokens=prompt,
        output_tokens=completion or 0,
        cached_tokens=min(as_int(details.get("cached_tokens")) or 0, prompt),
        cache_write_tokens=as_int(details.get("cache_write_tokens")) or 0,
        reasoning_tokens=as_int(dig(usage, "output_tokens_details", "reasoning_tokens")) or 0,
        cost_usd=reported_cost(usage),
    )


def _content_text(content: object) -> list[str]:
    """A message ``content``: a string, or a list of parts carrying ``text``."""
    if isinstance(content, str):
        return [content]
    return [as_str(as_dict(part).get("text")) for part in as_list(content)]


def _message_text(message: dict[str, object]) -> list[str]:
    """Everything generated in one ``message`` or ``delta``: text, reasoning, tool calls."""
    parts = _content_text(message.get("content"))
    for key in ("reasoning_content", "reasoning", "refusal"):
        parts.append(as_str(message.get(key)))
    for call in as_list(message.get("tool_calls")):
        function = as_dict(as_dict(call).get("function"))
        parts += [as_str(function.get("name")), dumps(function.get("arguments") or "")]
    legacy_call = as_dict(message.get("function_call"))
    parts += [as_str(legacy_call.get("name")), as_str(legacy_call.get("arguments"))]
    return parts


def extract_chat(request: RequestJSON, body: Body, *, provider: str = "") -> Extraction:
    """Chat completions and legacy completions, plain or streamed.

    In a stream, usage arrives in one late chunk — only when the request set
    ``stream_options.include_usage`` (OpenAI), always at the end (Mistral),
    or under ``x_groq.usage`` (Groq) — and chunks after it carry
    ``"usage": null``: the last stated usage wins, a null never erases it.
    """
    model: str | None = None
    usage: Usage | None = None
    for chunk in body.chunks:
        model = model or model_name(chunk.get("model"))
        stated = chat_usage(chunk.get("usage"), provider=provider) or chat_usage(
            dig(chunk, "x_groq", "usage"), provider=provider
        )
        if stated is not None:
            usage = stated
    requested: bool | None = None
    if body.streamed:
        requested = dig(request(), "stream_options", "include_usage") is True

    def text() -> str:
        parts: list[str] = []
        for chunk in body.chunks:
            for choice in as_list(chunk.get("choices")):
                entry = as_dict(choice)
                parts.append(as_str(entry.get("text")))  # legacy /completions
                for key in ("message", "delta"):
                    parts += _message_text(as_dict(entry.get(key)))
        return "".join(parts)

    return Extraction(
        model=model or model_name(request().get("model")),
        usage=usage,
        text=text,
        streamed=body.streamed,
        usage_requested=requested,
    )


def _output_text(items: object) -> list[str]:
    """Generated text in a Responses ``output`` list: messages, reasoning, tool-call arguments."""
    parts: list[str] = []
    for item in as_list(items):
        entry = as_dict(item)
        for key in ("content", "summary"):
            for part in as_list(entry.get(key)):
                part_dict = as_dict(part)
                parts += [as_str(part_dict.get("text")), as_str(part_dict.get("refusal"))]
        parts += [as_str(entry.get("arguments")), as_str(entry.get("input"))]
    return parts


def extract_responses(request: RequestJSON, body: Body) -> Extraction:
    """The Responses API, plain or streamed.

    A stream's usage is in the final ``response.completed`` event (or
    ``response.incomplete`` / ``response.failed``) under ``response.usage``;
    earlier ``response.created`` events carry ``"usage": null``. Generated text
    of a stream is the concatenation of its ``*.delta`` events (audio deltas
    are base64, not text).
    """
    model: str | None = None
    usage: Usage | None = None
    for chunk in body.chunks:
        for candidate in (chunk, as_dict(chunk.get("response"))):
            model = model or model_name(candidate.get("model"))
            stated = responses_usage(candidate.get("usage"))
            if stated is not None:
                usage = stated

    def text() -> str:
        parts: list[str] = []
        for chunk in body.chunks:
            if body.streamed:
                kind = as_str(chunk.get("type"))
                if kind.endswith(".delta") and "audio" not in kind:
                    parts.append(as_str(chunk.get("delta")))
            else:
                parts += _output_text(chunk.get("output"))
        return "".join(parts)

    return Extraction(
        model=model or model_name(request().get("model")),
        usage=usage,
        text=text,
        streamed=body.streamed,
    )


def embeddings_usage(value: object) -> Usage | None:
    """Embeddings bill input only: ``prompt_tokens`` (OpenAI), ``total_tokens`` alone (Voyage)."""
    usage = as_dict(value)
    tokens = first_int(
        usage.get("prompt_tokens"), usage.get("input_tokens"), usage.get("total_tokens")
    )
    if tokens is None:
        return None
    return Usage(input_tokens=tokens, cost_usd=reported_cost(usage))


def extract_embeddings(request: RequestJSON, body: Body) -> Extraction:
    """``/embeddings``: no generated text, so ``output_text`` stays empty."""
    model: str | None = None
    usage: Usage | None = None
    for chunk in body.chunks:
        model = model or model_name(chunk.get("model"))
        usage = embeddings_usage(chunk.get("usage")) or usage
    return Extraction(
        model=model or model_name(request().get("model")),
        usage=usage,
        text="",
        streamed=False,
    )
