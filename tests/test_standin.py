"""The provider stand-in speaks each wire format well enough for the real SDKs.

Every other test trusts the stand-in to behave like the providers, so these
drive it with the real clients (no mocks): if an SDK upgrade starts to reject
its answers, this file says so before the plugin's tests fail mysteriously.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import gzip
import importlib.util
import json
import signal
import socket
import struct
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import anthropic
import httpx
import httpx2
import openai
import pytest
import requests
from google import genai
from google.genai import types
from standin import StandIn

KEY = "test-key-123"
STANDIN_FILE = Path(__file__).with_name("standin.py")
CHAT_BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "same words"}]}


@pytest.fixture(scope="module")
def server() -> Iterator[StandIn]:
    with StandIn() as running:
        yield running


@pytest.fixture
def stand(server: StandIn) -> StandIn:
    """The module's stand-in with its counters and queued failures cleared."""
    server.reset()
    return server


def _openai(stand: StandIn) -> openai.OpenAI:
    return openai.OpenAI(base_url=stand.url + "/v1", api_key=KEY, max_retries=0)


def _anthropic(stand: StandIn) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=stand.url, api_key=KEY, max_retries=0)


def _gemini(stand: StandIn) -> genai.Client:
    return genai.Client(api_key=KEY, http_options=types.HttpOptions(base_url=stand.url))


# -- OpenAI ----------------------------------------------------------------------------------


def test_openai_chat_answers_with_a_full_completion(stand: StandIn) -> None:
    reply = _openai(stand).chat.completions.create(
        model="gpt-4o-mini",
        messages=[
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "hello there"},
        ],
    )
    assert reply.object == "chat.completion"
    assert reply.model == "gpt-4o-mini"
    assert reply.id.startswith("chatcmpl-")
    choice = reply.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content == "Echo: hello there"
    assert choice.finish_reason == "stop"
    usage = reply.usage
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (7, 3, 10)
    assert usage.prompt_tokens_details is not None
    assert usage.prompt_tokens_details.cached_tokens == 0
    assert usage.completion_tokens_details is not None
    assert usage.completion_tokens_details.reasoning_tokens == 0
    [seen] = stand.requests
    assert (seen.method, seen.path) == ("POST", "/v1/chat/completions")
    assert seen.headers["authorization"] == "Bearer " + KEY
    assert seen.json()["model"] == "gpt-4o-mini"


def test_openai_chat_calls_the_first_tool_when_tools_are_given(stand: StandIn) -> None:
    tools: Any = [
        {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}},
        {"type": "function", "function": {"name": "other", "parameters": {"type": "object"}}},
    ]
    client = _openai(stand)
    messages: Any = [{"role": "user", "content": "weather?"}]
    reply = client.chat.completions.create(model="gpt-4o-mini", messages=messages, tools=tools)
    assert reply.choices[0].finish_reason == "tool_calls"
    calls = reply.choices[0].message.tool_calls
    assert calls is not None
    assert calls[0].type == "function"
    assert calls[0].function.name == "get_weather"
    assert json.loads(calls[0].function.arguments) == {}

    with client.chat.completions.stream(
        model="gpt-4o-mini", messages=messages, tools=tools
    ) as stream:
        final = stream.get_final_completion()
    streamed = final.choices[0].message.tool_calls
    assert streamed is not None
    assert streamed[0].function.name == "get_weather"
    assert final.choices[0].finish_reason == "tool_calls"


def test_openai_chat_answers_once_the_tool_result_is_in(stand: StandIn) -> None:
    """An agent loop ends: tool call, tool result, text answer."""
    tools: Any = [
        {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}
    ]
    client = _openai(stand)
    messages: Any = [{"role": "user", "content": "where is order 7?"}]
    first = client.chat.completions.create(model="gpt-4o-mini", messages=messages, tools=tools)
    calls = first.choices[0].message.tool_calls
    assert calls is not None
    messages += [
        first.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": calls[0].id, "content": "shipped yesterday"},
    ]
    final = client.chat.completions.create(model="gpt-4o-mini", messages=messages, tools=tools)
    assert final.choices[0].finish_reason == "stop"
    assert final.choices[0].message.tool_calls is None
    assert final.choices[0].message.content


@pytest.mark.parametrize("include_usage", [True, False])
def test_openai_chat_stream_sends_usage_only_when_asked(
    stand: StandIn, include_usage: bool
) -> None:
    extra: Any = {"stream_options": {"include_usage": True}} if include_usage else {}
    stream = _openai(stand).chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "stream me please"}],
        stream=True,
        **extra,
    )
    chunks = list(stream)
    assert all(chunk.object == "chat.completion.chunk" for chunk in chunks)
    deltas = [
        c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content
    ]
    assert len(deltas) >= 3
    assert "".join(deltas) == "Echo: stream me please"
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == "stop"
    usage_chunks = [c for c in chunks if c.usage is not None]
    if include_usage:
        assert usage_chunks == [chunks[-1]]
        assert chunks[-1].choices == []
        assert chunks[-1].usage is not None
        assert chunks[-1].usage.total_tokens == 6 + 4
    else:
        assert usage_chunks == []
        assert chunks[-1].choices[0].finish_reason == "stop"


def test_openai_async_chat_and_stream() -> None:
    async def go(url: str) -> tuple[str | None, list[str | None]]:
        client = openai.AsyncOpenAI(base_url=url + "/v1", api_key=KEY, max_retries=0)
        reply = await client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "async hello"}]
        )
        stream = await client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "async stream"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        pieces = [c.choices[0].delta.content if c.choices else None async for c in stream]
        await client.close()
        return reply.choices[0].message.content, pieces

    # A stand-in of its own: the async client must not share the module's pool.
    with StandIn() as own:
        content, pieces = asyncio.run(go(own.url))
        assert own.hits == 2
    assert content == "Echo: async hello"
    assert "".join(p for p in pieces if p) == "Echo: async stream"
    assert pieces[-1] is None, "the usage chunk has no choices"


def test_openai_responses_create(stand: StandIn) -> None:
    reply = _openai(stand).responses.create(
        model="gpt-4o-mini", input="tell me a thing", instructions="be nice"
    )
    assert reply.object == "response"
    assert reply.status == "completed"
    assert reply.output_text == "Echo: tell me a thing"
    assert reply.output[0].type == "message"
    assert reply.usage is not None
    assert (reply.usage.input_tokens, reply.usage.output_tokens) == (9, 5)
    assert reply.usage.total_tokens == 14
    assert reply.usage.input_tokens_details.cached_tokens == 0
    assert reply.usage.output_tokens_details.reasoning_tokens == 0
    assert stand.requests[0].path == "/v1/responses"


def test_openai_responses_stream_events(stand: StandIn) -> None:
    client = _openai(stand)
    events = list(client.responses.create(model="gpt-4o-mini", input="stream a thing", stream=True))
    kinds = [event.type for event in events]
    assert kinds[0] == "response.created"
    assert kinds[-1] == "response.completed"
    for kind in (
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
    ):
        assert kinds.count(kind) == 1
    assert kinds.count("response.output_text.delta") >= 3
    assert [event.sequence_number for event in events] == list(range(len(events)))
    deltas = [event.delta for event in events if event.type == "response.output_text.delta"]
    assert "".join(deltas) == "Echo: stream a thing"
    completed = events[-1]
    assert completed.type == "response.completed"
    assert completed.response.usage is not None
    assert completed.response.usage.output_tokens == 4

    with client.responses.stream(
        model="gpt-4o-mini",
        input=[{"role": "user", "content": [{"type": "input_text", "text": "helper stream"}]}],
    ) as stream:
        texts = [event.delta for event in stream if event.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert "".join(texts) == final.output_text == "Echo: helper stream"
    assert final.usage is not None
    assert final.usage.total_tokens == 5 + 3


def test_openai_embeddings_one_deterministic_vector_per_input(stand: StandIn) -> None:
    client = _openai(stand)
    # The SDK asks for base64 unless told otherwise; both encodings must agree.
    packed = client.embeddings.create(model="text-embedding-3-small", input=["a", "b c"])
    plain = client.embeddings.create(
        model="text-embedding-3-small", input=["a", "b c"], encoding_format="float"
    )
    assert stand.requests[0].json()["encoding_format"] == "base64"
    assert [d.index for d in packed.data] == [0, 1]
    vectors = [d.embedding for d in packed.data]
    assert vectors == [d.embedding for d in plain.data]
    assert all(len(vector) == 8 for vector in vectors)
    assert vectors[0] != vectors[1]
    assert packed.usage.prompt_tokens == packed.usage.total_tokens == 3
    single = client.embeddings.create(model="text-embedding-3-small", input="a")
    assert single.data[0].embedding == vectors[0]


# -- Anthropic -----------------------------------------------------------------------------


def test_anthropic_create(stand: StandIn) -> None:
    reply = _anthropic(stand).messages.create(
        model="claude-haiku-4-5",
        max_tokens=64,
        system="short answers",
        messages=[{"role": "user", "content": [{"type": "text", "text": "hello claude"}]}],
    )
    assert reply.type == "message"
    assert reply.model == "claude-haiku-4-5"
    assert reply.content[0].type == "text"
    assert reply.content[0].text == "Echo: hello claude"
    assert reply.stop_reason == "end_turn"
    assert reply.stop_sequence is None
    assert (reply.usage.input_tokens, reply.usage.output_tokens) == (7, 3)
    assert reply.usage.cache_read_input_tokens == 0
    [seen] = stand.requests
    assert seen.path == "/v1/messages"
    # Anthropic's SDK has sent the key as x-api-key and, lately, as a bearer token.
    assert KEY in (seen.headers.get("x-api-key") or seen.headers["authorization"])
    assert "anthropic-version" in seen.headers


def test_anthropic_stream_true_sends_the_real_event_sequence(stand: StandIn) -> None:
    stream = _anthropic(stand).messages.create(
        model="claude-haiku-4-5",
        max_tokens=64,
        stream=True,
        messages=[{"role": "user", "content": "stream claude now"}],
    )
    events = list(stream)
    kinds = [event.type for event in events]
    assert kinds[:2] == ["message_start", "content_block_start"]
    assert kinds[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert kinds.count("content_block_delta") >= 3
    start = events[0]
    assert start.type == "message_start"
    assert start.message.usage.output_tokens == 1, "the placeholder real streams start with"
    texts = [
        event.delta.text
        for event in events
        if event.type == "content_block_delta" and event.delta.type == "text_delta"
    ]
    assert "".join(texts) == "Echo: stream claude now"
    raw = requests.post(
        stand.url + "/v1/messages",
        json={"model": "m", "max_tokens": 5, "stream": True, "messages": []},
        timeout=5,
    )
    assert "event: ping\n" in raw.text, "pings are sent, and the SDK skips them"


def test_anthropic_messages_stream_helper(stand: StandIn) -> None:
    with _anthropic(stand).messages.stream(
        model="claude-haiku-4-5",
        max_tokens=64,
        messages=[{"role": "user", "content": "helper stream"}],
    ) as stream:
        texts = list(stream.text_stream)
        final = stream.get_final_message()
    assert len(texts) >= 3
    assert "".join(texts) == final.content[0].text == "Echo: helper stream"  # type: ignore[union-attr]
    assert final.usage.output_tokens == 3
    assert final.usage.input_tokens == 5
    assert final.stop_reason == "end_turn"


def test_anthropic_tool_use(stand: StandIn) -> None:
    tools: Any = [{"name": "lookup", "input_schema": {"type": "object"}}]
    client = _anthropic(stand)
    messages: Any = [{"role": "user", "content": "find it"}]
    reply = client.messages.create(
        model="claude-haiku-4-5", max_tokens=64, messages=messages, tools=tools
    )
    assert reply.stop_reason == "tool_use"
    block = reply.content[0]
    assert block.type == "tool_use"
    assert (block.name, block.input) == ("lookup", {})
    with client.messages.stream(
        model="claude-haiku-4-5", max_tokens=64, messages=messages, tools=tools
    ) as stream:
        final = stream.get_final_message()
    assert final.content[0].type == "tool_use"


# -- Gemini ------------------------------------------------------------------------------------


def test_gemini_generate_content(stand: StandIn) -> None:
    client = _gemini(stand)  # keep a reference: a collected Client closes its HTTP pool
    reply = client.models.generate_content(model="gemini-2.0-flash", contents="hi gemini")
    assert reply.text == "Echo: hi gemini"
    assert reply.candidates is not None
    assert reply.candidates[0].finish_reason == types.FinishReason.STOP
    usage = reply.usage_metadata
    assert usage is not None
    assert (usage.prompt_token_count, usage.candidates_token_count) == (5, 3)
    assert usage.total_token_count == 8
    assert reply.model_version == "gemini-2.0-flash"
    [seen] = stand.requests
    assert seen.path.endswith("/models/gemini-2.0-flash:generateContent")
    assert seen.headers["x-goog-api-key"] == KEY


def test_gemini_generate_content_stream(stand: StandIn) -> None:
    client = _gemini(stand)
    chunks = list(
        client.models.generate_content_stream(
            model="gemini-2.0-flash", contents="stream gemini please"
        )
    )
    assert len(chunks) >= 3
    assert "".join(chunk.text or "" for chunk in chunks) == "Echo: stream gemini please"
    totals = []
    for chunk in chunks:
        assert chunk.usage_metadata is not None
        totals.append(chunk.usage_metadata.candidates_token_count or 0)
    assert totals == sorted(totals)
    assert totals[-1] == 4
    last = chunks[-1].candidates
    assert last is not None
    assert last[0].finish_reason == types.FinishReason.STOP
    assert "alt=sse" in stand.requests[0].path


# google-genai defines an aiohttp.ClientSession subclass on first async use; aiohttp warns.
@pytest.mark.filterwarnings("ignore:Inheritance class AiohttpClientSession:DeprecationWarning")
def test_gemini_async() -> None:
    async def go(url: str) -> tuple[str | None, list[str | None]]:
        client = genai.Client(api_key=KEY, http_options=types.HttpOptions(base_url=url))
        try:
            reply = await client.aio.models.generate_content(
                model="gemini-2.0-flash", contents="a b"
            )
            stream = await client.aio.models.generate_content_stream(
                model="gemini-2.0-flash", contents="c d"
            )
            return reply.text, [chunk.text async for chunk in stream]
        finally:
            await client.aio.aclose()  # an open session would leak into a later test

    with StandIn() as own:
        text, pieces = asyncio.run(go(own.url))
    assert text == "Echo: a b"
    assert "".join(p or "" for p in pieces) == "Echo: c d"


def test_gemini_stream_without_sse_is_one_json_array(stand: StandIn) -> None:
    reply = httpx.post(
        stand.url + "/v1beta/models/g:streamGenerateContent",
        json={"contents": [{"role": "user", "parts": [{"text": "x y z"}]}]},
    )
    chunks = reply.json()
    assert isinstance(chunks, list)
    assert "".join(c["candidates"][0]["content"]["parts"][0]["text"] for c in chunks) == (
        "Echo: x y z"
    )


# -- other clients, other routes ----------------------------------------------------------------


def test_ollama_chat(stand: StandIn) -> None:
    body = {"model": "llama3", "stream": False, "messages": [{"role": "user", "content": "yo"}]}
    reply = requests.post(stand.url + "/api/chat", json=body, timeout=5).json()
    assert reply["message"] == {"role": "assistant", "content": "Echo: yo"}
    assert reply["done"] is True
    assert (reply["prompt_eval_count"], reply["eval_count"]) == (4, 2)


def test_every_http_client_gets_health(stand: StandIn) -> None:
    assert requests.get(stand.url + "/health", timeout=5).json() == {"ok": True}
    assert httpx.get(stand.url + "/health").json() == {"ok": True}
    assert httpx2.get(stand.url + "/anything/else?x=1").json() == {"ok": True}

    async def with_aiohttp() -> Any:
        async with (
            aiohttp.ClientSession() as session,
            session.get(stand.url + "/health") as reply,
        ):
            return await reply.json()

    assert asyncio.run(with_aiohttp()) == {"ok": True}
    assert stand.hits == 4
    assert [r.path for r in stand.requests][-1] == "/health"
    assert httpx.head(stand.url + "/health").status_code == 200


def test_unknown_routes_and_bad_bodies(stand: StandIn) -> None:
    missing = httpx.post(stand.url + "/v1/nothing-here", json={})
    assert missing.status_code == 404
    assert "error" in missing.json()
    assert httpx.delete(stand.url + "/v1/chat/completions").status_code == 404
    broken = httpx.post(stand.url + "/v1/chat/completions", content=b"{not json")
    assert broken.status_code == 400
    assert stand.hits == 3


def test_any_path_prefix_works(stand: StandIn) -> None:
    for prefix in ("", "/v1", "/openai/v1", "/proxy/deep/v1"):
        reply = httpx.post(stand.url + prefix + "/chat/completions", json=CHAT_BODY)
        assert reply.json()["choices"][0]["message"]["content"] == "Echo: same words"


def test_gzip_only_when_asked_twice(stand: StandIn) -> None:
    url = stand.url + "/v1/chat/completions"
    gz = {"accept-encoding": "gzip"}
    with httpx.Client() as client:
        asked = client.post(url + "?gzip=1", json=CHAT_BODY, headers=gz)
        by_header = client.post(url, json=CHAT_BODY, headers={**gz, "x-standin-gzip": "1"})
        plain = client.post(url, json=CHAT_BODY, headers=gz)
        not_accepted = client.post(url + "?gzip=1", json=CHAT_BODY, headers={"accept-encoding": ""})
    assert asked.headers["content-encoding"] == "gzip"
    assert by_header.headers["content-encoding"] == "gzip"
    assert "content-encoding" not in plain.headers
    assert "content-encoding" not in not_accepted.headers
    assert asked.json() == plain.json()
    # The bytes on the wire really are gzip.
    raw = requests.post(url + "?gzip=1", json=CHAT_BODY, headers=gz, stream=True, timeout=5)
    wire = raw.raw.read(decode_content=False)
    assert json.loads(gzip.decompress(wire)) == plain.json()
    # A stream is compressed event by event: each arrives decodable, the trailer last.
    stream_body = {**CHAT_BODY, "stream": True}
    streamed = httpx.post(url + "?gzip=1", json=stream_body, headers=gz)
    assert streamed.headers["content-encoding"] == "gzip"
    assert streamed.text == httpx.post(url, json=stream_body, headers=gz).text
    assert streamed.text.endswith("data: [DONE]\n\n")
    with requests.post(
        url + "?gzip=1", json=stream_body, headers=gz, stream=True, timeout=5
    ) as raw:
        pieces = list(raw.raw.stream(decode_content=False))
    inflater = zlib.decompressobj(31)
    first = inflater.decompress(pieces[0])
    assert first.startswith(b"data: {"), "the first event decodes before the rest arrives"


def test_fail_next_makes_the_sdk_raise(stand: StandIn) -> None:
    quota = {
        "error": {
            "message": "You exceeded your current quota",
            "type": "insufficient_quota",
            "code": "insufficient_quota",
        }
    }
    stand.fail_next(429, quota, count=2, headers={"retry-after": "0"})
    client = _openai(stand)
    messages: Any = [{"role": "user", "content": "hi"}]
    for _ in range(2):
        with pytest.raises(openai.RateLimitError, match="exceeded your current quota") as caught:
            client.chat.completions.create(model="gpt-4o-mini", messages=messages)
        assert caught.value.status_code == 429
        assert caught.value.code == "insufficient_quota"
        assert caught.value.response.headers["retry-after"] == "0"
    reply = client.chat.completions.create(model="gpt-4o-mini", messages=messages)
    assert reply.choices[0].message.content == "Echo: hi"
    assert stand.hits == 3
    assert len(stand.requests) == 3

    stand.fail_next(503, "upstream down")
    text = httpx.get(stand.url + "/health")
    assert (text.status_code, text.text) == (503, "upstream down")
    assert text.headers["content-type"].startswith("text/plain")
    stand.fail_next(500, {"error": "x"})
    stand.reset()
    assert httpx.get(stand.url + "/health").status_code == 200, "reset drops queued failures"


def test_hits_requests_and_reset(stand: StandIn) -> None:
    assert (stand.hits, stand.requests) == (0, [])
    httpx.post(stand.url + "/v1/chat/completions?a=1", json=CHAT_BODY, headers={"X-Custom": "v"})
    snapshot = stand.requests
    snapshot.clear()
    [seen] = stand.requests
    assert seen.path == "/v1/chat/completions?a=1"
    assert seen.headers["x-custom"] == "v"
    assert seen.json() == CHAT_BODY
    assert stand.hits == 1
    stand.reset()
    assert (stand.hits, stand.requests) == (0, [])


def test_concurrent_requests_are_all_counted(stand: StandIn) -> None:
    def call(number: int) -> str:
        body = {"model": "m", "messages": [{"role": "user", "content": f"n{number}"}]}
        reply = requests.post(stand.url + "/v1/chat/completions", json=body, timeout=5)
        return str(reply.json()["choices"][0]["message"]["content"])

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(call, range(40)))
    assert answers == [f"Echo: n{number}" for number in range(40)]
    assert stand.hits == 40


def test_same_request_same_bytes(stand: StandIn) -> None:
    url = stand.url + "/v1/chat/completions"
    with httpx.Client() as client:
        one = client.post(url, json=CHAT_BODY)
        two = client.post(url, json=CHAT_BODY)
        other = client.post(url, json={**CHAT_BODY, "temperature": 0})
        streams = [client.post(url, json={**CHAT_BODY, "stream": True}) for _ in range(2)]
    assert one.content == two.content
    assert one.headers["x-request-id"] == two.headers["x-request-id"]
    assert one.headers["x-standin-sequence"] != two.headers["x-standin-sequence"]
    assert other.content != one.content
    assert streams[0].content == streams[1].content
    gemini = _gemini(stand)
    texts = [
        gemini.models.generate_content(model="gemini-2.0-flash", contents="same").text
        for _ in range(2)
    ]
    assert texts[0] == texts[1]
    bodies = [r.body for r in stand.requests if "generateContent" in r.path]
    assert bodies[0] == bodies[1]


def test_long_prompts_are_truncated_and_empty_ones_get_a_fixed_answer(stand: StandIn) -> None:
    url = stand.url + "/v1/chat/completions"
    long = {"model": "m", "messages": [{"role": "user", "content": "word " * 100}]}
    answer = httpx.post(url, json=long).json()["choices"][0]["message"]["content"]
    assert answer.startswith("Echo: word")
    assert len(answer) <= 60
    empty = httpx.post(url, json={"model": "m", "messages": []}).json()
    assert empty["choices"][0]["message"]["content"]
    assert empty["usage"]["prompt_tokens"] == 3


def test_echo_key_puts_the_credential_in_the_answer(stand: StandIn) -> None:
    echo = {"x-standin-echo-key": "1"}
    client = openai.OpenAI(
        base_url=stand.url + "/v1", api_key=KEY, max_retries=0, default_headers=echo
    )
    reply = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
    assert "Bearer " + KEY in (reply.choices[0].message.content or "")
    claude = anthropic.Anthropic(
        base_url=stand.url, api_key=KEY, max_retries=0, default_headers=echo
    )
    message = claude.messages.create(
        model="m", max_tokens=5, messages=[{"role": "user", "content": "x"}]
    )
    assert KEY in message.content[0].text  # type: ignore[union-attr]
    gemini = genai.Client(
        api_key=KEY, http_options=types.HttpOptions(base_url=stand.url, headers=echo)
    )
    assert KEY in (gemini.models.generate_content(model="g", contents="x").text or "")
    plain = httpx.post(
        stand.url + "/v1/chat/completions",
        json=CHAT_BODY,
        headers={"authorization": "Bearer " + KEY},
    )
    assert KEY not in plain.text


# -- transport behaviour -------------------------------------------------------------------------


def test_stream_chunks_arrive_separately(stand: StandIn) -> None:
    body = {**CHAT_BODY, "stream": True}
    with httpx.stream("POST", stand.url + "/v1/chat/completions", json=body) as reply:
        assert reply.headers["content-type"].startswith("text/event-stream")
        assert reply.headers["transfer-encoding"] == "chunked"
        chunks = list(reply.iter_raw())
    assert len(chunks) > 1
    assert chunks[-1].endswith(b"data: [DONE]\n\n")


def test_keep_alive_with_nodelay_is_fast(stand: StandIn) -> None:
    started = time.perf_counter()
    with httpx.Client() as client:
        for _ in range(30):
            client.post(stand.url + "/v1/chat/completions", json=CHAT_BODY)
    # With Nagle's algorithm left on, each call would wait ~40 ms for a delayed ACK.
    assert time.perf_counter() - started < 0.8
    assert stand.hits == 30


def test_a_client_hanging_up_mid_stream_is_quiet(
    stand: StandIn, capfd: pytest.CaptureFixture[str]
) -> None:
    payload = json.dumps({**CHAT_BODY, "stream": True}).encode()
    request = (
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(payload), payload)
    )
    for _ in range(3):
        with socket.create_connection(("127.0.0.1", int(stand.url.rsplit(":", 1)[1]))) as raw:
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            raw.sendall(request)
            assert raw.recv(64).startswith(b"HTTP/1.1 200")
    stream = _openai(stand).chat.completions.create(
        model="m", messages=[{"role": "user", "content": "a b c d e"}], stream=True
    )
    next(iter(stream))
    stream.close()
    time.sleep(0.05)
    assert httpx.get(stand.url + "/health").json() == {"ok": True}
    captured = capfd.readouterr()
    assert captured.err == ""


def test_http_10_streams_end_with_the_connection(stand: StandIn) -> None:
    payload = json.dumps({**CHAT_BODY, "stream": True}).encode()
    port = int(stand.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port)) as raw:
        raw.sendall(
            b"POST /v1/chat/completions HTTP/1.0\r\nContent-Length: %d\r\n\r\n%s"
            % (len(payload), payload)
        )
        received = b""
        while data := raw.recv(65536):
            received += data
    head, _, body = received.partition(b"\r\n\r\n")
    assert b"chunked" not in head.lower()
    assert body.endswith(b"data: [DONE]\n\n")


def test_stop_cuts_pooled_connections_and_restart_works() -> None:
    own = StandIn().start()
    with httpx.Client() as client:
        assert client.get(own.url + "/health").status_code == 200
        url = own.url
        own.stop()
        own.stop()  # stopping twice is harmless
        with pytest.raises(httpx.TransportError):
            client.get(url + "/health")
    own.start()
    try:
        assert own.url == url, "a restart keeps the port it had"
        assert httpx.get(own.url + "/health").status_code == 200
    finally:
        own.stop()
    with pytest.raises(RuntimeError):
        _ = StandIn().url


def test_loads_by_file_path_without_sys_modules() -> None:
    spec = importlib.util.spec_from_file_location("standin_by_path", STANDIN_FILE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with module.StandIn() as other:
        assert httpx.get(other.url + "/health").json() == {"ok": True}
        assert other.hits == 1


def test_main_serves_until_sigterm(tmp_path: Path) -> None:
    port_file = tmp_path / "port"
    process = subprocess.Popen(
        [sys.executable, str(STANDIN_FILE), "--port", "0", "--port-file", str(port_file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 10
        while not port_file.exists():
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the stand-in never wrote its port file"
            time.sleep(0.02)
        url = port_file.read_text().strip()
        assert url.startswith("http://127.0.0.1:")
        reply = httpx.post(url + "/v1/chat/completions", json=CHAT_BODY)
        assert reply.json()["choices"][0]["message"]["content"] == "Echo: same words"
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=10)
    assert process.returncode == 0
    assert out.strip() == url
    assert err == ""
