"""Read model, usage and generated text from LLM answers, and tell quota errors from rate limits.

Pure functions over bytes, standard library only: they run for every
recorded or replayed call, so they must be cheap to import (genai-prices
costs 400 ms and is not needed to *read* usage) and must never raise —
a malformed body, binary garbage or a truncated stream yields what can be
read, with ``usage=None`` when nothing says how many tokens were used.

Token fields follow SPEC §4 (genai-prices' convention) for every provider:
``input_tokens`` includes cache reads and writes, ``output_tokens`` includes
reasoning. Each API family has its own module; calls whose API the URL does
not reveal (``other``) are recognised by the shape of their answer.
"""

from __future__ import annotations

from collections.abc import Callable

from pytest_llmbudget.providers.anthropic import extract_messages
from pytest_llmbudget.providers.base import (
    Extraction,
    RequestJSON,
    as_dict,
    as_str,
    lazy_request,
    model_name,
)
from pytest_llmbudget.providers.cohere import extract_cohere, is_cohere
from pytest_llmbudget.providers.errors import error_kind
from pytest_llmbudget.providers.gemini import extract_generate, model_from_path
from pytest_llmbudget.providers.ollama import extract_ollama
from pytest_llmbudget.providers.openai import extract_chat, extract_embeddings, extract_responses
from pytest_llmbudget.providers.prompts import prompt_text
from pytest_llmbudget.providers.sse import Body, decode, read_body
from pytest_llmbudget.records import Usage

__all__ = ["Extraction", "error_kind", "extract", "prompt_text"]

_Family = Callable[[str, RequestJSON, Body, str], Extraction]

# Endpoints that count a prompt's tokens without generating anything. They are
# free (Anthropic, OpenAI and Gemini do not bill them), so their usage is zero
# billed tokens — not None, which would make the plugin estimate and price a
# generation that never happened. The counted figure is not a cost.
COUNT_TOKENS_SUFFIXES = ("/count_tokens", ":countTokens", "/input_tokens")

# Path segments of account and file management on LLM hosts (uploads, batches,
# model listings): not generations, so zero usage rather than an estimate.
_MANAGEMENT_SEGMENTS = frozenset(
    {"files", "batches", "fine_tuning", "fine-tunes", "uploads", "vector_stores", "cachedContents"}
)


# classify.py's API names (and the shapes ``_sniff`` recognises) → the module that reads them.
_FAMILIES: dict[str, _Family] = {
    "chat": lambda provider, request, body, endpoint: extract_chat(
        request, body, provider=provider
    ),
    "completions": lambda provider, request, body, endpoint: extract_chat(
        request, body, provider=provider
    ),
    "responses": lambda provider, request, body, endpoint: extract_responses(request, body),
    "embeddings": lambda provider, request, body, endpoint: extract_embeddings(request, body),
    "messages": lambda provider, request, body, endpoint: extract_messages(request, body),
    "generate": lambda provider, request, body, endpoint: extract_generate(
        request, body, endpoint=endpoint
    ),
    "ollama-chat": lambda provider, request, body, endpoint: extract_ollama(request, body),
    "ollama-generate": lambda provider, request, body, endpoint: extract_ollama(request, body),
    "cohere": lambda provider, request, body, endpoint: extract_cohere(request, body),
}
_ANTHROPIC_EVENTS = frozenset(
    {"message_start", "message_delta", "message_stop", "content_block_start", "content_block_delta"}
)


def _sniff(body: Body) -> str | None:
    """The family whose shape the answer has, for calls the URL did not classify.

    Covers custom ``llm_hosts``, Vertex's ``:rawPredict`` for Claude, Cohere,
    Gemini's ``:embedContent`` and whatever path a gateway chose.
    """
    for chunk in body.chunks:
        kind = as_str(chunk.get("type"))
        usage = as_dict(chunk.get("usage"))
        if "usageMetadata" in chunk or "candidates" in chunk:
            return "generate"
        if kind in _ANTHROPIC_EVENTS or (kind == "message" and "content" in chunk):
            return "messages"
        if kind.startswith("response.") or chunk.get("object") == "response":
            return "responses"
        if "choices" in chunk or "x_groq" in chunk:
            return "chat"
        if "prompt_eval_count" in chunk or "eval_count" in chunk:
            return "ollama-chat"
        if is_cohere(chunk):
            return "cohere"
        if isinstance(chunk.get("data"), list) and "prompt_tokens" in usage:
            return "embeddings"
        if "prompt_tokens" in usage:
            return "chat"
        if "input_tokens" in usage or "output_tokens" in usage:
            return "responses"
    return None


def _is_management(endpoint: str) -> bool:
    """Files, batches, model listings, and stored answers fetched again by id.

    ``GET /v1/responses/resp_…`` and ``GET /v1/chat/completions/chatcmpl-…``
    return a past answer *with its usage*: reading it must not bill it twice.
    """
    segments = [segment for segment in endpoint.split("/") if segment]
    if any(segment in _MANAGEMENT_SEGMENTS for segment in segments):
        return True
    for name, id_prefix in (("responses", "resp"), ("completions", "chatcmpl")):
        if name in segments:
            after = segments[segments.index(name) + 1 :]
            if after and after[0].startswith(id_prefix):
                return True
    if "models" in segments:
        after = segments[segments.index("models") + 1 :]
        return len(after) <= 1 and not any(":" in segment for segment in after)
    return False


def _request_model(request: RequestJSON, endpoint: str) -> str | None:
    return model_name(request().get("model")) or model_from_path(endpoint)


def extract_unguarded(
    provider: str,
    api: str,
    endpoint: str,
    request_body: bytes,
    response_body: bytes,
    content_type: str,
) -> Extraction:
    """``extract`` without its safety net, so tests can prove the readers themselves never raise."""
    request = lazy_request(decode(request_body))
    body = read_body(response_body, content_type)
    name: str | None = api
    if api not in _FAMILIES:
        if endpoint.endswith(COUNT_TOKENS_SUFFIXES) or _is_management(endpoint):
            return Extraction(
                model=_request_model(request, endpoint),
                usage=Usage(),
                text="",
                streamed=body.streamed,
            )
        name = _sniff(body)
    family = _FAMILIES.get(name or "")
    if family is None:
        named = (model_name(chunk.get("model")) for chunk in body.chunks)
        answer_model = next((model for model in named if model), None)
        return Extraction(
            model=answer_model or _request_model(request, endpoint),
            usage=None,
            text="",
            streamed=body.streamed,
        )
    extraction = family(provider, request, body, endpoint)
    if extraction.model is None:
        return Extraction(
            model=model_from_path(endpoint),
            usage=extraction.usage,
            text=extraction.text,
            streamed=extraction.streamed,
            usage_requested=extraction.usage_requested,
        )
    return extraction


def extract(
    *,
    provider: str,
    api: str,
    endpoint: str,
    request_body: bytes,
    response_body: bytes,
    content_type: str,
) -> Extraction:
    """Model, usage, generated text and stream facts of one call; never raises.

    ``provider`` and ``api`` are classify.py's names; ``endpoint`` is the URL
    path (Gemini names its model there); ``content_type`` is the response's
    (empty when unknown: the body's first bytes then tell SSE from JSON).
    """
    try:
        return extract_unguarded(provider, api, endpoint, request_body, response_body, content_type)
    except Exception:  # the contract is "never raise": no usage is better than a crashed run
        return Extraction(model=None, usage=None, text="", streamed=False)
