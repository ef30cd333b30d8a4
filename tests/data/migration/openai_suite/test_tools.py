"""Function calling, and a question asked twice that gets two answers."""

from __future__ import annotations

import json

import openai
import pytest
from openai.types.chat import ChatCompletionToolParam
from vcr.cassette import Cassette

MODEL = "gpt-4o-mini"

WEATHER_TOOL: ChatCompletionToolParam = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city.",
        "strict": True,
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
            "additionalProperties": False,
        },
    },
}


@pytest.mark.vcr
def test_tool_call(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "What's the weather like in Lisbon?"}],
        tools=[WEATHER_TOOL],
    )
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.tool_calls is not None
    call = choice.message.tool_calls[0]
    assert call.type == "function"
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Lisbon"}


@pytest.mark.vcr
def test_same_question_twice(client: openai.OpenAI, vcr: Cassette) -> None:
    assert vcr.play_count == 0
    answers = []
    for _ in range(2):
        completion = client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": "Name a random fruit. One word."}],
            temperature=1.0,
        )
        answers.append(completion.choices[0].message.content)
    assert answers == ["Mango", "Kiwi"]
    assert vcr.play_count == 2
    assert vcr.all_played
