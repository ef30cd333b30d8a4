"""The Messages API: plain calls, a stream, prompts per language and a conversation."""

from __future__ import annotations

import anthropic
import pytest
from anthropic.types import Message

MODEL = "claude-3-5-sonnet-20241022"


def text_of(message: Message) -> str:
    return "".join(block.text for block in message.content if block.type == "text")


@pytest.mark.vcr
def test_create_message(client: anthropic.Anthropic) -> None:
    message = client.messages.create(
        model=MODEL,
        max_tokens=4096,
        messages=[{"role": "user", "content": "What is the capital of Australia? One word."}],
    )
    assert text_of(message) == "Canberra"
    assert message.stop_reason == "end_turn"
    assert message.usage.output_tokens == 6


@pytest.mark.vcr
def test_stream_message(client: anthropic.Anthropic) -> None:
    with client.messages.stream(
        model=MODEL,
        max_tokens=64000,
        messages=[{"role": "user", "content": "Write a haiku about unit tests."}],
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert (
        text == "Green checks line the screen\nSilent guards of every change\nRed means look again"
    )
    assert final.usage.input_tokens == 14
    assert final.usage.output_tokens == 27


@pytest.mark.vcr
@pytest.mark.parametrize(
    ("language", "expected"),
    [
        pytest.param("French", "Bonjour, propriétaire du café", id="fr"),
        pytest.param("German", "Guten Morgen, Café-Besitzer", id="de"),
    ],
)
def test_translate(client: anthropic.Anthropic, language: str, expected: str) -> None:
    message = client.messages.create(
        model=MODEL,
        max_tokens=1024,
        messages=[
            {
                "role": "user",
                "content": f"Translate into {language}, reply with the translation only: "
                "Good morning, café owner!",
            }
        ],
    )
    assert text_of(message).startswith(expected)


class TestConversation:
    @pytest.mark.vcr
    def test_multi_turn(self, client: anthropic.Anthropic) -> None:
        message = client.messages.create(
            model=MODEL,
            max_tokens=1024,
            messages=[
                {"role": "user", "content": "My CI build is broken!"},
                {"role": "assistant", "content": "Sorry to hear that. What error do you get?"},
                {"role": "user", "content": "ModuleNotFoundError: No module named 'yaml'"},
            ],
        )
        assert "pip install pyyaml" in text_of(message)

    @pytest.mark.vcr
    def test_system_prompt(self, client: anthropic.Anthropic) -> None:
        message = client.messages.create(
            model=MODEL,
            max_tokens=1024,
            system=[
                {
                    "type": "text",
                    "text": "You are a terse assistant. Answer in five words at most.",
                    "cache_control": {"type": "ephemeral"},
                }
            ],
            messages=[{"role": "user", "content": "At what temperature does water boil?"}],
        )
        assert text_of(message) == "100 °C at sea level."
