"""Every supported client and SDK records once, then replays with zero server hits.

Each case runs a real client against the stand-in inside a pytester run:
first recording, then with ``--llm-record=none``. The answers (and, for
streams, every chunk) must be the same both times.
"""

from __future__ import annotations

import textwrap

import pytest
from helpers import load_cassette, result_of, write_test
from standin import StandIn

CASES: dict[str, str] = {
    "openai-chat": """
        import openai
        def call():
            client = openai.OpenAI(base_url=URL + "/v1", api_key=KEY, max_retries=0)
            reply = client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "hello there"}]
            )
            return [reply.choices[0].message.content, reply.usage.total_tokens]
    """,
    "openai-async": """
        import openai
        def call():
            async def go():
                # Closed here: a client left open leaks its socket into a later test's run.
                async with openai.AsyncOpenAI(
                    base_url=URL + "/v1", api_key=KEY, max_retries=0
                ) as client:
                    reply = await client.chat.completions.create(
                        model="gpt-4o-mini", messages=[{"role": "user", "content": "async hello"}]
                    )
                return [reply.choices[0].message.content, reply.usage.total_tokens]
            return asyncio.run(go())
    """,
    "openai-stream-usage": """
        import openai
        def call():
            client = openai.OpenAI(base_url=URL + "/v1", api_key=KEY, max_retries=0)
            stream = client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "stream me please"}],
                stream=True, stream_options={"include_usage": True},
            )
            chunks = [[c.choices[0].delta.content if c.choices else None,
                       c.usage.total_tokens if c.usage else None] for c in stream]
            assert chunks[-1][1], "the usage chunk arrives last"
            return chunks
    """,
    "openai-stream-no-usage": """
        import openai
        def call():
            client = openai.OpenAI(base_url=URL + "/v1", api_key=KEY, max_retries=0)
            stream = client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "stream without usage"}],
                stream=True,
            )
            chunks = [c.choices[0].delta.content if c.choices else None for c in stream]
            assert len(chunks) > 2
            return chunks
    """,
    "openai-async-stream": """
        import openai
        def call():
            async def go():
                async with openai.AsyncOpenAI(
                    base_url=URL + "/v1", api_key=KEY, max_retries=0
                ) as client:
                    stream = await client.chat.completions.create(
                        model="gpt-4o-mini", messages=[{"role": "user", "content": "async stream"}],
                        stream=True, stream_options={"include_usage": True},
                    )
                    return [
                        c.choices[0].delta.content if c.choices else None async for c in stream
                    ]
            return asyncio.run(go())
    """,
    "openai-responses": """
        import openai
        def call():
            client = openai.OpenAI(base_url=URL + "/v1", api_key=KEY, max_retries=0)
            reply = client.responses.create(model="gpt-4o-mini", input="tell me a thing")
            return [reply.output_text, reply.usage.total_tokens]
    """,
    "openai-responses-stream": """
        import openai
        def call():
            client = openai.OpenAI(base_url=URL + "/v1", api_key=KEY, max_retries=0)
            stream = client.responses.create(model="gpt-4o-mini", input="stream a thing", stream=True)
            return [[event.type, getattr(event, "delta", None)] for event in stream]
    """,
    "openai-embeddings": """
        import openai
        def call():
            client = openai.OpenAI(base_url=URL + "/v1", api_key=KEY, max_retries=0)
            reply = client.embeddings.create(model="text-embedding-3-small", input=["a", "b c"])
            return [[d.embedding for d in reply.data], reply.usage.prompt_tokens]
    """,
    "anthropic-create": """
        import anthropic
        def call():
            client = anthropic.Anthropic(base_url=URL, api_key=KEY, max_retries=0)
            reply = client.messages.create(
                model="claude-haiku-4-5", max_tokens=64,
                messages=[{"role": "user", "content": "hello claude"}],
            )
            return [reply.content[0].text, reply.usage.input_tokens, reply.usage.output_tokens]
    """,
    "anthropic-stream-true": """
        import anthropic
        def call():
            client = anthropic.Anthropic(base_url=URL, api_key=KEY, max_retries=0)
            stream = client.messages.create(
                model="claude-haiku-4-5", max_tokens=64, stream=True,
                messages=[{"role": "user", "content": "stream claude"}],
            )
            return [event.type for event in stream]
    """,
    "anthropic-messages-stream": """
        import anthropic
        def call():
            client = anthropic.Anthropic(base_url=URL, api_key=KEY, max_retries=0)
            with client.messages.stream(
                model="claude-haiku-4-5", max_tokens=64,
                messages=[{"role": "user", "content": "helper stream"}],
            ) as stream:
                texts = list(stream.text_stream)
                final = stream.get_final_message()
            return [texts, final.usage.output_tokens]
    """,
    "gemini-generate": """
        from google import genai
        from google.genai import types
        def call():
            client = genai.Client(api_key=KEY, http_options=types.HttpOptions(base_url=URL))
            reply = client.models.generate_content(model="gemini-2.0-flash", contents="hi gemini")
            return [reply.text, reply.usage_metadata.total_token_count]
    """,
    "gemini-stream": """
        from google import genai
        from google.genai import types
        def call():
            client = genai.Client(api_key=KEY, http_options=types.HttpOptions(base_url=URL))
            chunks = client.models.generate_content_stream(
                model="gemini-2.0-flash", contents="stream gemini"
            )
            return [chunk.text for chunk in chunks]
    """,
    "requests": """
        import requests
        def call():
            reply = requests.post(
                URL + "/v1/chat/completions", headers={"Authorization": "Bearer " + KEY},
                json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "raw requests"}]},
            )
            return [reply.status_code, reply.json()["choices"][0]["message"]["content"]]
    """,
    "httpx": """
        import httpx
        def call():
            with httpx.Client() as client:
                reply = client.post(
                    URL + "/v1/chat/completions",
                    json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "raw httpx"}]},
                )
            return [reply.status_code, reply.json()["choices"][0]["message"]["content"]]
    """,
    "httpx-stream": """
        import httpx
        def call():
            body = {"model": "gpt-4o-mini", "stream": True,
                    "messages": [{"role": "user", "content": "raw httpx stream"}]}
            with httpx.Client() as client, client.stream(
                "POST", URL + "/v1/chat/completions", json=body
            ) as reply:
                return [line for line in reply.iter_lines() if line]
    """,
    "httpx2-async": """
        import httpx2
        def call():
            async def go():
                async with httpx2.AsyncClient() as client:
                    reply = await client.post(
                        URL + "/v1/chat/completions",
                        json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "raw httpx2"}]},
                    )
                return [reply.status_code, reply.json()["choices"][0]["message"]["content"]]
            return asyncio.run(go())
    """,
    "aiohttp": """
        import aiohttp
        def call():
            async def go():
                body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "raw aiohttp"}]}
                async with aiohttp.ClientSession() as session:
                    async with session.post(URL + "/v1/chat/completions", json=body) as reply:
                        return [reply.status, (await reply.json())["choices"][0]["message"]["content"]]
            return asyncio.run(go())
    """,
    "aiohttp-stream": """
        import aiohttp
        def call():
            async def go():
                body = {"model": "gpt-4o-mini", "stream": True,
                        "messages": [{"role": "user", "content": "aiohttp stream"}]}
                async with aiohttp.ClientSession() as session:
                    async with session.post(URL + "/v1/chat/completions", json=body) as reply:
                        return [line.decode() async for line in reply.content if line.strip()]
            return asyncio.run(go())
    """,
}

TEST_BODY = """
def test_call():
    save(call())
"""


@pytest.mark.parametrize("case", sorted(CASES))
def test_records_then_replays_without_the_server(
    case: str, pytester: pytest.Pytester, standin: StandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RESULT_FILE", str(pytester.path / "result.json"))
    write_test(pytester, "test_client", textwrap.dedent(CASES[case]) + TEST_BODY)

    recorded = pytester.runpytest("-p", "no:cacheprovider")
    recorded.assert_outcomes(passed=1)
    live_answer = result_of(pytester)
    assert standin.hits >= 1
    cassette = pytester.path / "cassettes" / "test_client" / "test_call.yaml"
    assert load_cassette(cassette)["interactions"], "the call was recorded"

    standin.reset()
    (pytester.path / "result.json").unlink()
    replayed = pytester.runpytest("-p", "no:cacheprovider", "--llm-record=none")
    replayed.assert_outcomes(passed=1)
    assert standin.hits == 0, "replay must not reach the server"
    assert result_of(pytester) == live_answer
