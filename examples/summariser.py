"""A summariser that streams Claude's answer as it is written."""

from __future__ import annotations

import anthropic


def summarise(client: anthropic.Anthropic, text: str) -> str:
    with client.messages.stream(
        model="claude-haiku-4-5",
        max_tokens=200,
        messages=[{"role": "user", "content": f"Summarise in one line: {text}"}],
    ) as stream:
        return "".join(stream.text_stream)
