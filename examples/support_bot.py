"""A support bot: OpenAI chat with a tool that looks up the customer's order.

The usual agent loop: the model asks for a tool, the bot runs it and sends
the result back, and the model answers. Two LLM calls per question, both in
the cassette, both priced.
"""

from __future__ import annotations

import json
from typing import Any

import openai

SYSTEM = "You are a helpful support agent for Acme Widgets. Answer in one sentence."
ORDERS = {"A-1001": "shipped on Monday, arriving Thursday", "A-1002": "waiting for stock"}
TOOLS: list[Any] = [
    {
        "type": "function",
        "function": {
            "name": "lookup_order",
            "description": "Where an order is: its shipping status.",
            "parameters": {
                "type": "object",
                "properties": {"order_id": {"type": "string"}},
            },
        },
    }
]
MAX_TURNS = 4


def lookup_order(order_id: str | None = None) -> str:
    if order_id is None:
        return "The customer's latest order, A-1001, " + ORDERS["A-1001"] + "."
    return ORDERS.get(order_id, f"No order {order_id} was found.")


def answer(client: openai.OpenAI, question: str) -> str:
    messages: list[Any] = [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": question},
    ]
    for _turn in range(MAX_TURNS):
        reply = client.chat.completions.create(model="gpt-4o-mini", messages=messages, tools=TOOLS)
        message = reply.choices[0].message
        if not message.tool_calls:
            return message.content or ""
        messages.append(message.model_dump(exclude_none=True))
        for call in message.tool_calls:
            if call.type != "function":
                continue
            arguments = json.loads(call.function.arguments or "{}")
            result = lookup_order(arguments.get("order_id"))
            messages.append({"role": "tool", "tool_call_id": call.id, "content": result})
    raise RuntimeError(f"no answer after {MAX_TURNS} turns")
