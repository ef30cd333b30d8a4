"""Usage extraction and error kinds, one API family at a time, from small literal bodies.

The shapes follow real answers (see ../shared/corpus and test_corpus.py);
each trap the corpus README lists has its own test here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_llmbudget.providers import (
    Extraction,
    error_kind,
    extract,
    extract_unguarded,
    prompt_text,
)
from pytest_llmbudget.providers.errors import classify_error
from pytest_llmbudget.providers.sse import json_values, parse_sse, read_body
from pytest_llmbudget.records import Usage

SSE = "text/event-stream; charset=utf-8"
JSON = "application/json"


def body_of(value: object) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    return json.dumps(value).encode()


def sse(*events: object, done: bool = False, crlf: bool = False) -> str:
    """An SSE body: a dict is one ``data:`` line, a (name, dict) pair adds ``event: name``."""
    parts = []
    for event in events:
        if isinstance(event, tuple):
            name, data = event
            parts.append(f"event: {name}\ndata: {json.dumps(data)}\n\n")
        else:
            parts.append(f"data: {json.dumps(event)}\n\n")
    if done:
        parts.append("data: [DONE]\n\n")
    text = "".join(parts)
    return text.replace("\n", "\r\n") if crlf else text


def run(
    api: str,
    response: object,
    *,
    request: object = None,
    provider: str = "openai",
    endpoint: str = "/v1/chat/completions",
    content_type: str = JSON,
) -> Extraction:
    return extract(
        provider=provider,
        api=api,
        endpoint=endpoint,
        request_body=body_of(request if request is not None else {"model": "requested-model"}),
        response_body=body_of(response),
        content_type=content_type,
    )


def tokens(usage: Usage | None) -> tuple[int, int, int, int, int]:
    """(input, output, cached, reasoning, cache_write) — the order of the corpus manifest."""
    assert usage is not None
    return (
        usage.input_tokens,
        usage.output_tokens,
        usage.cached_tokens,
        usage.reasoning_tokens,
        usage.cache_write_tokens,
    )


# --- OpenAI chat completions and compatibles ---------------------------------


def test_chat_json_reads_cached_reasoning_and_cache_writes() -> None:
    answer = {
        "model": "gpt-5.6-sol",
        "choices": [{"message": {"role": "assistant", "content": "OK"}}],
        "usage": {
            "prompt_tokens": 4020,
            "completion_tokens": 90,
            "total_tokens": 4110,
            "prompt_tokens_details": {"cached_tokens": 2000, "cache_write_tokens": 12},
            "completion_tokens_details": {"reasoning_tokens": 64},
        },
    }
    result = run("chat", answer)
    assert result.model == "gpt-5.6-sol"
    # OpenAI counts cached tokens inside prompt_tokens and reasoning inside completion_tokens.
    assert tokens(result.usage) == (4020, 90, 2000, 64, 12)
    assert result.output_text == "OK"
    assert result.streamed is False
    assert result.usage_requested is None
    assert result.usage is not None
    assert result.usage.cost_usd is None


def test_chat_output_text_includes_tool_calls_and_reasoning() -> None:
    answer = {
        "choices": [
            {
                "message": {
                    "content": None,
                    "reasoning_content": "think ",
                    "tool_calls": [
                        {"function": {"name": "get_capital", "arguments": '{"country":"UK"}'}}
                    ],
                }
            }
        ],
        "usage": {"prompt_tokens": 5, "completion_tokens": 7},
    }
    result = run("chat", answer)
    assert result.output_text == 'think get_capital{"country":"UK"}'
    assert result.model == "requested-model"  # the answer names none: the request's


STREAM_REQUEST = {"model": "gpt-4o-mini", "stream": True, "stream_options": {"include_usage": True}}


def chat_chunk(
    content: str | None = None, usage: object = None, **extra: object
) -> dict[str, object]:
    delta = {} if content is None else {"content": content}
    choices = [] if usage else [{"index": 0, "delta": delta}]
    return {"model": "gpt-4o-mini-2024-07-18", "choices": choices, "usage": usage, **extra}


def test_chat_stream_with_include_usage_reads_the_last_chunk() -> None:
    body = sse(
        chat_chunk("The"),
        chat_chunk(" capital"),
        chat_chunk(usage={"prompt_tokens": 53, "completion_tokens": 15, "total_tokens": 68}),
        # OpenAI's moderation sends chunks after the usage chunk, with "usage": null.
        chat_chunk(None, moderation={"flagged": False}),
        done=True,
    )
    result = run("chat", body, request=STREAM_REQUEST, content_type=SSE)
    assert tokens(result.usage) == (53, 15, 0, 0, 0)
    assert result.output_text == "The capital"
    assert result.model == "gpt-4o-mini-2024-07-18"
    assert result.streamed is True
    assert result.usage_requested is True


def test_chat_stream_without_include_usage_has_no_usage() -> None:
    body = sse(chat_chunk("Hello"), chat_chunk(" world"), done=True)
    request = {"model": "gpt-4o-mini", "stream": True}
    result = run("chat", body, request=request, content_type=SSE)
    assert result.usage is None
    assert result.usage_requested is False
    assert result.output_text == "Hello world"
    assert result.streamed is True


def test_chat_stream_is_recognised_without_a_content_type() -> None:
    body = sse(chat_chunk("Hi"), chat_chunk(usage={"prompt_tokens": 3, "completion_tokens": 1}))
    result = run("chat", body, request=STREAM_REQUEST, content_type="")
    assert result.streamed is True
    assert tokens(result.usage) == (3, 1, 0, 0, 0)


def test_groq_stream_usage_under_x_groq() -> None:
    last = {
        "model": "groq/compound",
        "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
        "x_groq": {
            "usage": {"prompt_tokens": 5003, "completion_tokens": 359, "total_tokens": 5362}
        },
    }
    body = sse(chat_chunk("Sunny"), last, done=True)
    result = run(
        "chat",
        body,
        request={"model": "compound-beta", "stream": True},
        provider="groq",
        content_type=SSE,
    )
    assert tokens(result.usage) == (5003, 359, 0, 0, 0)
    assert result.usage_requested is False  # usage came anyway: Groq always sends it


def test_mistral_stream_usage_without_asking() -> None:
    last = {
        "model": "magistral-medium-latest",
        "choices": [{"index": 0, "delta": {"content": ""}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 10, "total_tokens": 242, "completion_tokens": 232},
    }
    result = run(
        "chat", sse(chat_chunk("Look"), last, done=True), provider="mistral", content_type=SSE
    )
    assert tokens(result.usage) == (10, 232, 0, 0, 0)


def test_deepseek_cache_hits_and_misses() -> None:
    usage = {
        "prompt_tokens": 976,
        "completion_tokens": 61,
        "total_tokens": 1037,
        "prompt_cache_hit_tokens": 896,
        "prompt_cache_miss_tokens": 80,
        "completion_tokens_details": {"reasoning_tokens": 25},
    }
    result = run("chat", {"model": "deepseek-v4-flash", "usage": usage}, provider="deepseek")
    assert tokens(result.usage) == (976, 61, 896, 25, 0)


def test_deepseek_hit_and_miss_alone_make_the_input() -> None:
    usage = {"completion_tokens": 3, "prompt_cache_hit_tokens": 64, "prompt_cache_miss_tokens": 6}
    result = run("chat", {"usage": usage}, provider="deepseek")
    assert tokens(result.usage) == (70, 3, 64, 0, 0)


def test_openrouter_reported_cost_wins() -> None:
    usage = {
        "prompt_tokens": 43,
        "completion_tokens": 36,
        "total_tokens": 79,
        "cost": 0.000669,
        "is_byok": False,
        "completion_tokens_details": {"reasoning_tokens": 13},
    }
    result = run(
        "chat", {"model": "anthropic/claude-sonnet-4.5", "usage": usage}, provider="openrouter"
    )
    assert tokens(result.usage) == (43, 36, 0, 13, 0)
    assert result.usage is not None
    assert result.usage.cost_usd == Decimal("0.000669")


def test_openrouter_byok_adds_the_upstream_cost() -> None:
    usage = {
        "prompt_tokens": 10,
        "completion_tokens": 2,
        "cost": 0.0001,
        "is_byok": True,
        "cost_details": {"upstream_inference_cost": 0.002},
    }
    result = run("chat", {"usage": usage}, provider="openrouter")
    assert result.usage is not None
    assert result.usage.cost_usd == Decimal("0.0021")


def test_xai_reasoning_outside_completion_tokens_is_added() -> None:
    # xAI: total = prompt + completion + reasoning, so reasoning is not inside completion.
    usage = {
        "prompt_tokens": 20,
        "completion_tokens": 11,
        "total_tokens": 1340,
        "completion_tokens_details": {"reasoning_tokens": 1309},
    }
    result = run("chat", {"model": "grok-4", "usage": usage}, provider="x-ai")
    assert tokens(result.usage) == (20, 1320, 0, 1309, 0)


def test_huggingface_top_level_cached_tokens() -> None:
    usage = {"cached_tokens": 2, "completion_tokens": 197, "prompt_tokens": 4, "total_tokens": 201}
    assert tokens(run("chat", {"usage": usage}).usage) == (4, 197, 2, 0, 0)


def test_legacy_completions_json_and_stream() -> None:
    answer = {
        "model": "gpt-3.5-turbo-instruct",
        "choices": [{"text": "Hello there"}],
        "usage": {"prompt_tokens": 2, "completion_tokens": 2},
    }
    result = run("completions", answer, endpoint="/v1/completions")
    assert result.output_text == "Hello there"
    assert tokens(result.usage) == (2, 2, 0, 0, 0)
    stream = sse({"choices": [{"text": "Hel"}]}, {"choices": [{"text": "lo"}]}, done=True)
    streamed = run(
        "completions",
        stream,
        request={"model": "gpt-3.5-turbo-instruct", "stream": True},
        endpoint="/v1/completions",
        content_type=SSE,
    )
    assert streamed.output_text == "Hello"
    assert streamed.usage is None
    assert streamed.usage_requested is False


# --- OpenAI Responses API -----------------------------------------------------


RESPONSES_USAGE = {
    "input_tokens": 4020,
    "input_tokens_details": {"cached_tokens": 4012, "cache_write_tokens": 0},
    "output_tokens": 1351,
    "output_tokens_details": {"reasoning_tokens": 1024},
    "total_tokens": 5371,
}


def test_responses_json() -> None:
    answer = {
        "object": "response",
        "model": "gpt-5-2025-08-07",
        "output": [
            {"type": "reasoning", "summary": []},
            {"type": "message", "content": [{"type": "output_text", "text": "Paris."}]},
            {"type": "function_call", "name": "f", "arguments": '{"x":1}'},
        ],
        "usage": RESPONSES_USAGE,
    }
    result = run("responses", answer, endpoint="/v1/responses")
    assert tokens(result.usage) == (4020, 1351, 4012, 1024, 0)
    assert result.model == "gpt-5-2025-08-07"
    assert result.output_text == 'Paris.{"x":1}'
    assert result.usage_requested is None


def responses_event(kind: str, **fields: object) -> tuple[str, dict[str, object]]:
    return kind, {"type": kind, **fields}


@pytest.mark.parametrize("final", ["response.completed", "response.incomplete", "response.failed"])
def test_responses_stream_usage_from_the_final_event(final: str) -> None:
    body = sse(
        responses_event("response.created", response={"model": "gpt-5", "usage": None}),
        responses_event("response.output_text.delta", delta="Par"),
        responses_event("response.output_text.delta", delta="is."),
        responses_event("response.output_audio.delta", delta="QUJD"),  # base64, not text
        responses_event(final, response={"model": "gpt-5-2025-08-07", "usage": RESPONSES_USAGE}),
    )
    result = run("responses", body, endpoint="/v1/responses", content_type=SSE)
    assert tokens(result.usage) == (4020, 1351, 4012, 1024, 0)
    assert result.output_text == "Paris."
    assert result.model == "gpt-5"
    assert result.streamed is True
    assert result.usage_requested is None


def test_responses_stream_cut_before_completion_has_no_usage() -> None:
    body = (
        sse(
            responses_event("response.created", response={"model": "gpt-5", "usage": None}),
            responses_event("response.output_text.delta", delta="Par"),
        )
        + 'event: response.completed\ndata: {"type":"response.completed","respo'
    )
    result = run("responses", body, endpoint="/v1/responses", content_type=SSE)
    assert result.usage is None
    assert result.output_text == "Par"


# --- embeddings -----------------------------------------------------------------


def test_openai_embeddings() -> None:
    answer = {
        "data": [{"embedding": "AAAA", "index": 0}],
        "model": "text-embedding-3-small",
        "usage": {"prompt_tokens": 4, "total_tokens": 4},
    }
    result = run("embeddings", answer, endpoint="/v1/embeddings")
    assert tokens(result.usage) == (4, 0, 0, 0, 0)
    assert result.output_text == ""


def test_voyage_embeddings_state_only_total_tokens() -> None:
    answer = {"data": [], "model": "voyage-3.5", "usage": {"total_tokens": 3}}
    result = run("embeddings", answer, endpoint="/v1/embeddings")
    assert tokens(result.usage) == (3, 0, 0, 0, 0)
    assert result.model == "voyage-3.5"


# --- Anthropic ------------------------------------------------------------------


def test_anthropic_input_includes_cache_reads_and_writes() -> None:
    answer = {
        "type": "message",
        "model": "claude-sonnet-4-6",
        "content": [
            {"type": "thinking", "thinking": "hmm ", "signature": "c2ln"},
            {"type": "text", "text": "Done."},
            {"type": "tool_use", "name": "f", "input": {"a": 1}},
        ],
        "usage": {
            "input_tokens": 10,
            "cache_read_input_tokens": 4332,
            "cache_creation_input_tokens": 4513,
            "output_tokens": 211,
        },
    }
    result = run("messages", answer, provider="anthropic", endpoint="/v1/messages")
    # Anthropic's input_tokens leaves the cache out; SPEC §4 puts it back.
    assert tokens(result.usage) == (10 + 4332 + 4513, 211, 4332, 0, 4513)
    assert result.output_text == 'hmm Done.{"a":1}'
    assert result.model == "claude-sonnet-4-6"


def test_anthropic_thinking_tokens_are_reasoning() -> None:
    usage = {
        "input_tokens": 2,
        "output_tokens": 40,
        "output_tokens_details": {"thinking_tokens": 30},
    }
    result = run(
        "messages", {"type": "message", "content": [], "usage": usage}, endpoint="/v1/messages"
    )
    assert tokens(result.usage) == (2, 40, 0, 30, 0)


MESSAGE_START = (
    "message_start",
    {
        "type": "message_start",
        "message": {
            "model": "claude-sonnet-4-5-20250929",
            "content": [],
            "usage": {
                "input_tokens": 20,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 100,
                "output_tokens": 1,
            },
        },
    },
)


def anthropic_delta(text: str) -> tuple[str, dict[str, object]]:
    return (
        "content_block_delta",
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}},
    )


def test_anthropic_stream_last_usage_wins_never_sums() -> None:
    body = sse(
        MESSAGE_START,
        ("ping", {"type": "ping"}),
        anthropic_delta("1+1="),
        anthropic_delta("2"),
        ("message_delta", {"type": "message_delta", "delta": {}, "usage": {"output_tokens": 5}}),
        ("message_stop", {"type": "message_stop"}),
    )
    result = run("messages", body, provider="anthropic", endpoint="/v1/messages", content_type=SSE)
    # message_start's output_tokens: 1 is a placeholder: 5, not 6. Input keeps message_start's.
    assert tokens(result.usage) == (120, 5, 100, 0, 0)
    assert result.output_text == "1+1=2"
    assert result.model == "claude-sonnet-4-5-20250929"
    assert result.streamed is True


def test_anthropic_message_delta_restating_input_replaces_it() -> None:
    final = {
        "type": "message_delta",
        "usage": {"input_tokens": 4714, "cache_read_input_tokens": 0, "output_tokens": 304},
    }
    body = sse(MESSAGE_START, ("message_delta", final))
    result = run("messages", body, provider="anthropic", endpoint="/v1/messages", content_type=SSE)
    assert tokens(result.usage) == (4714, 304, 0, 0, 0)


def test_anthropic_tool_input_deltas_are_output_text() -> None:
    body = sse(
        MESSAGE_START,
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "delta": {"type": "input_json_delta", "partial_json": '{"a"'},
            },
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "delta": {"type": "signature_delta", "signature": "xyz"},
            },
        ),
    )
    result = run("messages", body, provider="anthropic", endpoint="/v1/messages", content_type=SSE)
    assert result.output_text == '{"a"'


@pytest.mark.parametrize(
    ("provider", "endpoint", "request_model", "response", "model"),
    [
        (
            "anthropic",
            "/v1/messages/count_tokens",
            "claude-sonnet-4-5",
            {"input_tokens": 16},
            "claude-sonnet-4-5",
        ),
        (
            "openai",
            "/v1/responses/input_tokens",
            "gpt-4.1-mini",
            {"input_tokens": 16, "object": "response.input_tokens"},
            "gpt-4.1-mini",
        ),
        (
            "google",
            "/v1beta/models/gemini-2.5-flash:countTokens",
            None,
            {"totalTokens": 12},
            "gemini-2.5-flash",
        ),
    ],
)
def test_count_tokens_endpoints_bill_nothing(
    provider: str, endpoint: str, request_model: str | None, response: object, model: str
) -> None:
    request: dict[str, object] = {"model": request_model} if request_model else {"contents": []}
    result = run("other", response, request=request, provider=provider, endpoint=endpoint)
    # Counting is free: zero billed tokens (not None, which would be estimated and priced).
    assert result.usage == Usage()
    assert result.model == model


# --- Gemini ---------------------------------------------------------------------


GEMINI_ENDPOINT = "/v1beta/models/gemini-2.5-flash:generateContent"


def gemini_chunk(text: str, **usage: int) -> dict[str, object]:
    return {
        "candidates": [{"content": {"parts": [{"text": text}], "role": "model"}}],
        "usageMetadata": usage,
        "modelVersion": "gemini-2.5-flash",
    }


def test_gemini_thoughts_are_output_and_tool_prompts_are_input() -> None:
    answer = gemini_chunk(
        "Hello!",
        promptTokenCount=17713,
        candidatesTokenCount=68,
        thoughtsTokenCount=821,
        cachedContentTokenCount=17379,
        toolUsePromptTokenCount=7,
    )
    result = run("generate", answer, provider="google", endpoint=GEMINI_ENDPOINT, request={})
    assert tokens(result.usage) == (17720, 68 + 821, 17379, 821, 0)
    assert result.model == "gemini-2.5-flash"
    assert result.output_text == "Hello!"


def test_gemini_sse_running_totals_last_wins() -> None:
    body = sse(
        gemini_chunk("The temperature", promptTokenCount=169, totalTokenCount=169),
        gemini_chunk(" is 30°C.", promptTokenCount=79, candidatesTokenCount=12, totalTokenCount=91),
        crlf=True,
    )
    result = run(
        "generate",
        body,
        provider="google",
        endpoint="/v1beta/models/gemini-2.0-flash:streamGenerateContent",
        content_type="text/event-stream",
        request={},
    )
    assert tokens(result.usage) == (79, 12, 0, 0, 0)
    assert result.output_text == "The temperature is 30°C."
    assert result.streamed is True


def test_gemini_json_array_stream_even_cut_short() -> None:
    chunks = [
        gemini_chunk("1", promptTokenCount=18, candidatesTokenCount=31, thoughtsTokenCount=35),
        gemini_chunk("2", promptTokenCount=18, candidatesTokenCount=80, thoughtsTokenCount=35),
    ]
    endpoint = "/v1beta/models/gemini-2.5-flash:streamGenerateContent"
    whole = run("generate", chunks, provider="google", endpoint=endpoint, request={})
    assert tokens(whole.usage) == (18, 115, 0, 35, 0)
    assert whole.streamed is True
    cut = json.dumps(chunks)[:-40]
    partial = run("generate", cut, provider="google", endpoint=endpoint, request={})
    assert tokens(partial.usage) == (18, 66, 0, 35, 0)
    assert partial.output_text == "1"


def test_gemini_model_from_the_url_when_the_answer_names_none() -> None:
    answer = {"candidates": [], "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 1}}
    vertex = "/v1beta1/projects/p/locations/global/publishers/google/models/gemini-2.0-flash:generateContent"
    result = run("generate", answer, provider="google-vertex", endpoint=vertex, request={})
    assert result.model == "gemini-2.0-flash"


# --- Ollama ---------------------------------------------------------------------


def test_ollama_chat_json() -> None:
    answer = {
        "model": "llama3.2",
        "message": {"role": "assistant", "content": "Hi!"},
        "done": True,
        "prompt_eval_count": 26,
        "eval_count": 3,
    }
    result = run("ollama-chat", answer, provider="ollama", endpoint="/api/chat")
    assert tokens(result.usage) == (26, 3, 0, 0, 0)
    assert result.output_text == "Hi!"
    assert result.model == "llama3.2"
    assert result.streamed is False


def test_ollama_generate_ndjson_stream() -> None:
    lines = [
        {"model": "llama3.2", "response": "The", "done": False},
        {"model": "llama3.2", "response": " sky", "done": False},
        {
            "model": "llama3.2",
            "response": "",
            "done": True,
            "prompt_eval_count": 9,
            "eval_count": 2,
        },
    ]
    body = "\n".join(json.dumps(line) for line in lines) + "\n"
    result = run(
        "ollama-generate",
        body,
        provider="ollama",
        endpoint="/api/generate",
        content_type="application/x-ndjson",
    )
    assert tokens(result.usage) == (9, 2, 0, 0, 0)
    assert result.output_text == "The sky"
    assert result.streamed is True


# --- Cohere and calls the URL does not classify ("other") -----------------------


def test_cohere_chat_uses_tokens_with_cached_tokens() -> None:
    answer = {
        "message": {"content": [{"text": "Hello!", "type": "text"}], "role": "assistant"},
        "usage": {
            "billed_units": {"input_tokens": 2406, "output_tokens": 2},
            "cached_tokens": 2928,
            "tokens": {"input_tokens": 2935, "output_tokens": 4},
        },
    }
    request = {"model": "command-r7b-12-2024", "messages": []}
    result = run("other", answer, request=request, provider="custom", endpoint="/v2/chat")
    assert tokens(result.usage) == (2935, 4, 2928, 0, 0)
    assert result.model == "command-r7b-12-2024"
    assert result.output_text == "Hello!"


def test_cohere_embed_billed_units() -> None:
    answer = {"embeddings": {"float": [[0.1]]}, "meta": {"billed_units": {"input_tokens": 4}}}
    result = run(
        "other", answer, request={"model": "embed-v4.0"}, provider="custom", endpoint="/v2/embed"
    )
    assert tokens(result.usage) == (4, 0, 0, 0, 0)


def test_other_calls_are_read_by_shape() -> None:
    # Claude through Vertex's :rawPredict: an Anthropic answer on a Google host.
    answer = {
        "type": "message",
        "model": "claude-sonnet-4-5",
        "content": [{"type": "text", "text": "Hi"}],
        "usage": {"input_tokens": 3, "cache_read_input_tokens": 2, "output_tokens": 1},
    }
    endpoint = "/v1/projects/p/locations/us-east5/publishers/anthropic/models/claude:rawPredict"
    result = run("other", answer, provider="google-vertex", endpoint=endpoint)
    assert tokens(result.usage) == (5, 1, 2, 0, 0)


@pytest.mark.parametrize(
    "endpoint", ["/v1/files", "/v1/files/file_011", "/v1/models", "/v1/responses/resp_123"]
)
def test_management_endpoints_bill_nothing(endpoint: str) -> None:
    answer = {
        "id": "resp_123",
        "object": "response",
        "usage": {"input_tokens": 9, "output_tokens": 9},
    }
    result = run("other", answer, provider="openai", endpoint=endpoint)
    assert result.usage == Usage()


def test_unknown_shape_has_no_usage() -> None:
    result = run("other", {"id": "x", "result": "ok"}, provider="custom", endpoint="/v1/whatever")
    assert result.usage is None
    assert result.model == "requested-model"


# --- robustness -----------------------------------------------------------------


@pytest.mark.parametrize(
    "response",
    [
        b"",
        b"not json",
        b"\xff\xfe\x00garbage\x80",
        b'{"usage": {"prompt_tokens": "12", "completion_tokens": true}}',
        b'{"usage": {"prompt_tokens": -5}}',
        b'{"usage": null, "choices": "nope"}',
        b"[" * 100_000,
        b'data: {"choices": [{"delta": {"content": "cut',
        b"data: [DONE]\n\n",
    ],
)
@pytest.mark.parametrize(
    "api", ["chat", "responses", "messages", "generate", "ollama-chat", "other"]
)
def test_bad_bodies_give_no_usage_and_do_not_raise(api: str, response: bytes) -> None:
    result = extract_unguarded(
        provider="openai",
        api=api,
        endpoint="/v1/x",
        request_body=response,
        response_body=response,
        content_type="",
    )
    assert result.usage is None


def test_parse_sse_follows_the_eventsource_rules() -> None:
    text = ': comment\r\nevent: a\r\ndata: {"x":\r\ndata: 1}\r\n\r\ndata:2\n\ndata: 3'
    events = parse_sse(text)
    assert [(event.event, event.data) for event in events] == [
        ("a", '{"x":\n1}'),
        ("", "2"),
        ("", "3"),  # the last event has no blank line after it: kept (a cut stream)
    ]


def test_sse_lines_end_only_at_cr_and_lf() -> None:
    # JSON may carry U+2028 unescaped; str.splitlines() would cut the event there.
    body = 'data: {"choices": [{"delta": {"content": "a\u2028b\x85c"}}]}\n\n'
    result = run("chat", body, request=STREAM_REQUEST, content_type=SSE)
    assert result.output_text == "a\u2028b\x85c"


def test_model_only_from_a_gemini_style_path() -> None:
    azure = run(
        "chat", {"usage": {"prompt_tokens": 1}}, request={}, endpoint="/models/chat/completions"
    )
    assert azure.model is None


def test_json_values_reads_ndjson_arrays_and_skips_broken_lines() -> None:
    assert json_values('{"a":1}\n{"b":2}\n') == [{"a": 1}, {"b": 2}]
    assert json_values('[{"a":1},\r\n{"b":2}') == [{"a": 1}, {"b": 2}]
    assert json_values('{"a":1}\n{broken\n{"c":3}') == [{"a": 1}, {"c": 3}]


def test_sse_content_type_with_a_json_error_body() -> None:
    body = read_body(b'{"error": {"message": "x"}}', "text/event-stream")
    assert body.streamed is False
    assert body.chunks == [{"error": {"message": "x"}}]


# --- prompt_text ------------------------------------------------------------------


def test_prompt_text_chat_messages_and_tools() -> None:
    request = {
        "model": "gpt-4o",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is this?"},
                    {
                        "type": "image_url",
                        "image_url": {"url": "data:image/png;base64,iVBORw0KGgo"},
                    },
                ],
            },
            {
                "role": "assistant",
                "tool_calls": [{"id": "call_1", "function": {"name": "f", "arguments": '{"a":1}'}}],
            },
        ],
        "tools": [{"type": "function", "function": {"name": "f"}}],
    }
    text = prompt_text(api="chat", request_body=body_of(request))
    assert "Be brief." in text
    assert "What is this?" in text
    assert '{"a":1}' in text
    assert '"name":"f"' in text  # tool definitions are billed input
    assert "base64" not in text
    assert "call_1" not in text
    assert "gpt-4o" not in text


def test_prompt_text_other_shapes() -> None:
    anthropic = {
        "system": [{"type": "text", "text": "Sys"}],
        "messages": [{"role": "user", "content": "Hi"}],
    }
    assert prompt_text(api="messages", request_body=body_of(anthropic)) == "Sys\nHi"
    responses = {"instructions": "Follow.", "input": "Question?"}
    assert prompt_text(api="responses", request_body=body_of(responses)) == "Follow.\nQuestion?"
    gemini = {
        "contents": [
            {"parts": [{"text": "Hello"}, {"inlineData": {"data": "AAAA"}}], "role": "user"}
        ],
        "systemInstruction": {"parts": [{"text": "Chatbot."}]},
    }
    assert prompt_text(api="generate", request_body=body_of(gemini)) == "Chatbot.\nHello"
    embeddings = {"input": ["one", "two"], "model": "text-embedding-3-small"}
    assert prompt_text(api="embeddings", request_body=body_of(embeddings)) == "one\ntwo"
    embed = {"content": {"parts": [{"text": "Embed me"}]}, "taskType": "RETRIEVAL_QUERY"}
    assert prompt_text(api="other", request_body=body_of(embed)) == "Embed me"
    assert prompt_text(api="chat", request_body=b"\x00not json") == ""


# --- error_kind -------------------------------------------------------------------


def openai_error(code: str, kind: str, message: str = "") -> dict[str, object]:
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


GEMINI_DAY = {
    "error": {
        "code": 429,
        "message": "You exceeded your current quota, please check your plan and billing details.",
        "status": "RESOURCE_EXHAUSTED",
        "details": [
            {
                "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                "violations": [{"quotaId": "GenerateRequestsPerDayPerProjectPerModel-FreeTier"}],
            }
        ],
    }
}
GEMINI_MINUTE = {
    "error": {
        "code": 429,
        "message": "You exceeded your current quota, please check your plan and billing details.",
        "status": "RESOURCE_EXHAUSTED",
        "details": [
            {
                "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                "violations": [{"quotaId": "GenerateContentInputTokensPerModelPerMinute-FreeTier"}],
            },
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "59s"},
        ],
    }
}


def gemini_error(message: str) -> dict[str, object]:
    return {"error": {"code": 429, "message": message, "status": "RESOURCE_EXHAUSTED"}}


ANTHROPIC_RATE = {"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}}
ANTHROPIC_OVERLOADED = {
    "type": "error",
    "error": {"type": "overloaded_error", "message": "Overloaded"},
}


@pytest.mark.parametrize(
    ("provider", "status", "response", "expected"),
    [
        pytest.param(
            "openai",
            429,
            openai_error(
                "insufficient_quota", "insufficient_quota", "You exceeded your current quota"
            ),
            "quota",
            id="openai-insufficient-quota",
        ),
        pytest.param(
            "openai",
            429,
            openai_error("rate_limit_exceeded", "requests", "Rate limit reached for gpt-4o"),
            "rate_limit",
            id="openai-rate-limit",
        ),
        pytest.param(
            "deepseek",
            402,
            openai_error("invalid_request_error", "unknown_error", "Insufficient Balance"),
            "quota",
            id="deepseek-402",
        ),
        pytest.param(
            "anthropic",
            400,
            {
                "type": "error",
                "error": {
                    "type": "invalid_request_error",
                    "message": "Your credit balance is too low to access the Anthropic API.",
                },
            },
            "quota",
            id="anthropic-credit-balance",
        ),
        pytest.param("anthropic", 429, ANTHROPIC_RATE, "rate_limit", id="anthropic-rate-limit"),
        pytest.param(
            "anthropic",
            429,
            {
                "type": "error",
                "error": {
                    "type": "rate_limit_error",
                    "message": "spend limit",
                    "details": {"error_code": "enforced_spend_limit_reached"},
                },
            },
            "quota",
            id="anthropic-spend-limit",
        ),
        pytest.param("anthropic", 529, ANTHROPIC_OVERLOADED, None, id="anthropic-overloaded"),
        pytest.param("google", 429, GEMINI_DAY, "quota", id="gemini-per-day"),
        pytest.param("google", 429, GEMINI_MINUTE, "rate_limit", id="gemini-per-minute"),
        pytest.param(
            "google",
            429,
            gemini_error(
                "Quota exceeded for metric: free_tier_requests, limit: 0, model: gemini-2.5-pro"
            ),
            "quota",
            id="gemini-no-free-tier",
        ),
        pytest.param(
            "google",
            429,
            gemini_error(
                "You exceeded your current quota, please check your plan and billing details."
            ),
            "quota",
            id="gemini-quota-message",
        ),
        pytest.param(
            "google",
            429,
            gemini_error("Resource has been exhausted (e.g. check quota)."),
            "rate_limit",
            id="gemini-generic-exhausted",
        ),
        pytest.param(
            "openrouter",
            402,
            {"error": {"code": 402, "message": "Insufficient credits"}},
            "quota",
            id="openrouter-402",
        ),
        pytest.param(
            "openrouter",
            429,
            {
                "error": {
                    "code": 429,
                    "message": "Provider returned error",
                    "metadata": {
                        "raw": "google/gemini-2.0-flash-exp:free is temporarily rate-limited"
                    },
                }
            },
            "rate_limit",
            id="openrouter-429",
        ),
        pytest.param(
            "openai",
            404,
            openai_error("model_not_found", "invalid_request_error", "does not exist"),
            None,
            id="not-found",
        ),
        pytest.param("openai", 500, {"error": {"message": "boom"}}, None, id="server-error"),
        pytest.param("openai", 429, "<html>Too Many Requests</html>", "rate_limit", id="429-html"),
        pytest.param("deepseek", 402, "", "quota", id="402-empty"),
        pytest.param("openai", 200, {"choices": []}, None, id="success"),
    ],
)
def test_error_kind(provider: str, status: int, response: object, expected: str | None) -> None:
    kind = error_kind(
        provider=provider, status=status, response_body=body_of(response), content_type=JSON
    )
    assert kind == expected


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        pytest.param(("error", ANTHROPIC_RATE), "rate_limit", id="anthropic-rate-limit"),
        pytest.param(("error", ANTHROPIC_OVERLOADED), None, id="anthropic-overloaded"),
        pytest.param(
            ("error", {"type": "error", "code": "insufficient_quota", "message": "quota"}),
            "quota",
            id="responses-error-event",
        ),
        pytest.param(
            (
                "response.failed",
                {
                    "type": "response.failed",
                    "response": {"error": {"code": "rate_limit_exceeded", "message": "slow"}},
                },
            ),
            "rate_limit",
            id="responses-failed",
        ),
        pytest.param(
            ("", {"error": {"code": 402, "message": "Insufficient credits"}}),
            "quota",
            id="chat-chunk-with-error",
        ),
    ],
)
def test_error_event_after_a_200_stream(
    event: tuple[str, dict[str, object]], expected: str | None
) -> None:
    name, data = event
    body = (
        sse(MESSAGE_START, anthropic_delta("Hi"))
        + (f"event: {name}\n" if name else "")
        + f"data: {json.dumps(data)}\n\n"
    )
    kind = error_kind(
        provider="anthropic", status=200, response_body=body.encode(), content_type=SSE
    )
    assert kind == expected


def test_a_healthy_stream_is_no_error() -> None:
    body = sse(MESSAGE_START, anthropic_delta("Hi")).encode()
    assert (
        error_kind(provider="anthropic", status=200, response_body=body, content_type=SSE) is None
    )


# --- properties: nothing raises -------------------------------------------------

json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
json_values_strategy = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "usage",
                    "usageMetadata",
                    "choices",
                    "delta",
                    "message",
                    "content",
                    "type",
                    "model",
                    "error",
                    "response",
                    "prompt_tokens",
                    "completion_tokens",
                    "input_tokens",
                    "output_tokens",
                    "cost",
                    "x_groq",
                    "candidates",
                    "parts",
                    "details",
                    "code",
                    "status",
                    "meta",
                    "tokens",
                    "billed_units",
                    "eval_count",
                    "message_start",
                ]
            )
            | st.text(max_size=8),
            children,
            max_size=5,
        )
    ),
    max_leaves=25,
)
APIS = st.sampled_from(
    [
        "chat",
        "completions",
        "responses",
        "embeddings",
        "messages",
        "generate",
        "ollama-chat",
        "other",
    ]
)
ENDPOINTS = st.sampled_from(
    [
        "/v1/chat/completions",
        "/v1/messages/count_tokens",
        "/v1beta/models/g:streamGenerateContent",
        "/x",
    ]
)
CONTENT_TYPES = st.sampled_from(["", JSON, SSE, "application/x-ndjson"])
PROPERTY_SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@PROPERTY_SETTINGS
@given(api=APIS, endpoint=ENDPOINTS, content_type=CONTENT_TYPES, raw=st.binary(max_size=300))
def test_extract_never_raises_on_bytes(
    api: str, endpoint: str, content_type: str, raw: bytes
) -> None:
    result = extract_unguarded(
        provider="openai",
        api=api,
        endpoint=endpoint,
        request_body=raw,
        response_body=raw,
        content_type=content_type,
    )
    assert isinstance(result.output_text, str)
    prompt_text(api=api, request_body=raw)


@PROPERTY_SETTINGS
@given(
    api=APIS,
    endpoint=ENDPOINTS,
    content_type=CONTENT_TYPES,
    request=json_values_strategy,
    chunks=st.lists(json_values_strategy, min_size=1, max_size=3),
)
def test_extract_never_raises_on_json(
    api: str, endpoint: str, content_type: str, request: object, chunks: list[object]
) -> None:
    bodies = [json.dumps(chunks[0]), "".join(f"data: {json.dumps(chunk)}\n\n" for chunk in chunks)]
    for body in bodies:
        result = extract_unguarded(
            provider="x-ai",
            api=api,
            endpoint=endpoint,
            request_body=json.dumps(request).encode(),
            response_body=body.encode(),
            content_type=content_type,
        )
        if result.usage is not None:
            usage = result.usage
            assert min(usage.input_tokens, usage.output_tokens, usage.cached_tokens) >= 0
            assert usage.cached_tokens <= usage.input_tokens
    prompt_text(api=api, request_body=json.dumps(request).encode())


@PROPERTY_SETTINGS
@given(
    provider=st.sampled_from(["openai", "anthropic", "google", "openrouter", "deepseek"]),
    status=st.sampled_from([200, 400, 402, 404, 429, 500, 529]),
    content_type=CONTENT_TYPES,
    payload=json_values_strategy | st.binary(max_size=200),
)
def test_error_kind_never_raises(
    provider: str, status: int, content_type: str, payload: object
) -> None:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    for body in (raw, b"data: " + raw + b"\n\n"):
        assert classify_error(provider, status, body, content_type) in ("quota", "rate_limit", None)


def test_importing_providers_stays_light() -> None:
    """genai-prices costs 400 ms to import: reading usage must not need it."""
    code = (
        "import sys, pytest_llmbudget.providers; "
        "print(sorted(m for m in ('genai_prices', 'pydantic', 'yaml', 'tiktoken') if m in sys.modules))"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    )
    assert output.stdout.strip() == "[]"
