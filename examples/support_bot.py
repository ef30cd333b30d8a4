"""A tiny support bot: answers a customer question with OpenAI chat."""

from __future__ import annotations

import openai

SYSTEM = "You are a helpful support agent for Acme Widgets. Answer in one sentence."


def answer(client: openai.OpenAI, question: str) -> str:
    reply = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": question}],
    )
    return reply.choices[0].message.content or ""
