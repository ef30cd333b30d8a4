"""The text a request sends to the model, for token estimates when the answer states no usage.

One walk serves every API: it reads the request fields that hold model
input (chat ``messages``, Anthropic ``system``, Responses ``input`` and
``instructions``, Gemini ``contents`` and ``systemInstruction``, embeddings
``input``, completions ``prompt``, Cohere ``texts``, tool definitions) and
collects their strings, skipping ids, roles and binary payloads (a base64
image would otherwise count as hundreds of thousands of "tokens").
"""

from __future__ import annotations

from pytest_llmbudget.providers.base import as_dict, dumps, loads
from pytest_llmbudget.providers.sse import decode

# Top-level request fields that hold what the model reads.
_INPUT_FIELDS = (
    "instructions",
    "system",
    "preamble",
    "systemInstruction",
    "system_instruction",
    "messages",
    "input",
    "prompt",
    "contents",
    "texts",
    "query",
    "documents",
    "message",
    "chat_history",
    "suffix",
    "content",  # Gemini :embedContent
    "requests",  # Gemini :batchEmbedContents
)
# Tool and function definitions are billed input too; they are counted as compact JSON.
_SCHEMA_FIELDS = ("tools", "functions", "functionDeclarations")
# Keys whose strings are labels, ids or binary data, not text the model reads as tokens.
_SKIPPED_KEYS = frozenset(
    {
        "role",
        "type",
        "id",
        "tool_call_id",
        "call_id",
        "tool_use_id",
        "model",
        "signature",
        "thoughtSignature",
        "thought_signature",
        "encrypted_content",
        "data",
        "inlineData",
        "inline_data",
        "image_url",
        "image",
        "images",
        "file_data",
        "fileData",
        "file_id",
        "file_url",
        "input_audio",
        "source",
        "mimeType",
        "mime_type",
        "media_type",
        "cache_control",
        "status",
    }
)
_MAX_DEPTH = 64


def _is_binary(text: str) -> bool:
    return text.startswith("data:") and ";base64," in text[:200]


def _walk(value: object, out: list[str], depth: int = 0) -> None:
    if depth > _MAX_DEPTH:
        return
    if isinstance(value, str):
        if not _is_binary(value):
            out.append(value)
    elif isinstance(value, list):
        for item in value:
            _walk(item, out, depth + 1)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key in _SKIPPED_KEYS:
                continue
            if key in ("arguments", "args", "input") and isinstance(item, dict):
                out.append(dumps(item))  # tool-call arguments the model wrote earlier
            else:
                _walk(item, out, depth + 1)


def prompt_text(*, api: str, request_body: bytes) -> str:
    """Every input string of a JSON request, joined by newlines; ``""`` when the body is not JSON.

    ``api`` is accepted for callers' symmetry with ``extract``; the fields
    read do not depend on it, since each field name means input wherever it
    appears (and an ``other`` call is read the same way).
    """
    try:
        document = as_dict(loads(decode(request_body)))
        out: list[str] = []
        for field in _INPUT_FIELDS:
            _walk(document.get(field), out)
        for field in _SCHEMA_FIELDS:
            tools = document.get(field)
            if tools:
                out.append(dumps(tools))
        return "\n".join(part for part in out if part)
    except Exception:  # never raise: an estimate from nothing is 0 tokens, not a crash
        return ""
