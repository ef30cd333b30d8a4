"""The example suite: three small apps, each calling a different provider."""

from __future__ import annotations

import anthropic
import openai
import pytest
from classifier import LABELS, classify
from google import genai
from summariser import summarise
from support_bot import answer

import pytest_llmbudget


@pytest.mark.parametrize("question", ["How do I reset my widget?", "Where is my order?"])
def test_support_bot_answers(openai_client: openai.OpenAI, question: str) -> None:
    reply = answer(openai_client, question)
    assert reply


def test_support_bot_looks_up_the_order(
    openai_client: openai.OpenAI, llm_usage: pytest_llmbudget.LLMUsage
) -> None:
    answer(openai_client, "Where is my order?")
    assert llm_usage.calls == 2, "one call asks for the tool, one answers with its result"


def test_summariser_streams_a_summary(anthropic_client: anthropic.Anthropic) -> None:
    summary = summarise(anthropic_client, "Widgets ship in two days; refunds take a week.")
    assert summary


def test_classifier_labels_a_ticket(gemini_client: genai.Client) -> None:
    label = classify(gemini_client, "I was charged twice for one widget.")
    assert label
    assert isinstance(LABELS, tuple)
