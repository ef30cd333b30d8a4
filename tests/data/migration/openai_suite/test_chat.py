"""Chat completions: one question, a two-turn flow and a stream."""

from __future__ import annotations

import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

MODEL = "gpt-4o-mini"


@pytest.mark.vcr
def test_simple_completion(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model=MODEL,
        messages=[
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "Say hello in Spanish."},
        ],
        temperature=0,
    )
    assert completion.choices[0].message.content == "¡Hola!"
    assert completion.usage is not None
    assert completion.usage.total_tokens == 26


@pytest.mark.default_cassette("chat_flow.yaml")
@pytest.mark.vcr
def test_chat_flow(client: openai.OpenAI) -> None:
    messages: list[ChatCompletionMessageParam] = [
        {"role": "user", "content": "Suggest a name for a grey cat. Just the name."}
    ]
    first = client.chat.completions.create(model=MODEL, messages=messages, max_completion_tokens=50)
    name = first.choices[0].message.content
    assert name == "Smokey"
    messages += [
        {"role": "assistant", "content": name},
        {"role": "user", "content": "Another one, please."},
    ]
    second = client.chat.completions.create(
        model=MODEL, messages=messages, max_completion_tokens=50
    )
    assert second.choices[0].message.content == "Ash"


@pytest.mark.vcr
def test_stream_with_usage(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model=MODEL,
        messages=[
            {"role": "user", "content": [{"type": "text", "text": "List three primary colours."}]}
        ],
        stream=True,
        stream_options={"include_usage": True},
    )
    text = ""
    total_tokens = 0
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            text += chunk.choices[0].delta.content
        if chunk.usage is not None:
            total_tokens = chunk.usage.total_tokens
    assert text == "Red, blue and yellow."
    assert total_tokens == 19
