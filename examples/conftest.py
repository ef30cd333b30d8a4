"""Clients for the example suite, pointed at LLM_BASE_URL.

`make demo` serves the bundled provider stand-in there; point it at a real
provider (and set real keys) to see the same tests record real traffic.
"""

from __future__ import annotations

import os

import anthropic
import openai
import pytest
from google import genai
from google.genai import types

BASE_URL = os.environ.get("LLM_BASE_URL", "http://127.0.0.1:8977")


@pytest.fixture
def openai_client() -> openai.OpenAI:
    return openai.OpenAI(
        base_url=BASE_URL + "/v1", api_key=os.environ.get("OPENAI_API_KEY", "sk-demo-key-0000")
    )


@pytest.fixture
def anthropic_client() -> anthropic.Anthropic:
    return anthropic.Anthropic(
        base_url=BASE_URL, api_key=os.environ.get("ANTHROPIC_API_KEY", "sk-ant-demo-key-0000")
    )


@pytest.fixture
def gemini_client() -> genai.Client:
    return genai.Client(
        api_key=os.environ.get("GEMINI_API_KEY", "demo-gemini-key-0000"),
        http_options=types.HttpOptions(base_url=BASE_URL),
    )
