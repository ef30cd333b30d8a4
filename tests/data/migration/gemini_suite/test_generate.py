"""generate_content and its stream, against one model and two."""

from __future__ import annotations

import pytest
from google import genai
from google.genai import types


@pytest.mark.vcr
def test_generate_text(client: genai.Client) -> None:
    response = client.models.generate_content(
        model="gemini-2.0-flash",
        contents="Explain what a VCR cassette is in one sentence.",
    )
    assert response.text is not None
    assert "magnetic tape" in response.text
    assert response.usage_metadata is not None
    assert response.usage_metadata.total_token_count == 41


@pytest.mark.vcr
def test_generate_with_config(client: genai.Client) -> None:
    response = client.models.generate_content(
        model="gemini-2.0-flash",
        contents="Say hello to the crew.",
        config=types.GenerateContentConfig(
            system_instruction="You are a pirate captain.",
            temperature=0.9,
            max_output_tokens=256,
        ),
    )
    assert response.text is not None
    assert response.text.startswith("Ahoy, ye scallywags!")


@pytest.mark.vcr
def test_compare_models(client: genai.Client) -> None:
    answers = {}
    for model in ("gemini-2.0-flash-lite", "gemini-2.0-flash"):
        response = client.models.generate_content(model=model, contents="Count from one to three.")
        assert response.model_version == model
        answers[model] = response.text
    assert answers == {
        "gemini-2.0-flash-lite": "One, two, three.\n",
        "gemini-2.0-flash": "1, 2, 3\n",
    }


@pytest.mark.vcr
def test_stream_story(client: genai.Client) -> None:
    chunks = client.models.generate_content_stream(
        model="gemini-2.0-flash",
        contents="Tell a two-sentence story about a lighthouse.",
    )
    story = "".join(chunk.text or "" for chunk in chunks)
    assert story == (
        "The old lighthouse keeper polished the great lens every night, though no ship had "
        "passed in years. On the night he finally let it go dark, a small boat he never saw "
        "found the rocks.\n"
    )
