"""VCR settings and the Anthropic client shared by the whole suite."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import anthropic
import pytest
from vcr.cassette import Cassette

# Per-request ids and our organisation id have no business in a cassette.
DROPPED_RESPONSE_HEADERS = frozenset({"request-id", "anthropic-organization-id"})


def drop_response_headers(response: dict[str, Any]) -> dict[str, Any]:
    headers: dict[str, list[str]] = response["headers"]
    for name in list(headers):
        if name.lower() in DROPPED_RESPONSE_HEADERS:
            del headers[name]
    return response


@pytest.fixture(scope="module")
def vcr_config() -> dict[str, Any]:
    return {
        "filter_headers": ["x-api-key", ("user-agent", "test-agent")],
        "filter_query_parameters": ["api_key"],
        "filter_post_data_parameters": ["client_secret"],
        "decode_compressed_response": True,
        "before_record_response": drop_response_headers,
        # Prompts get tweaked all the time; re-recording for every comma is not worth it.
        "match_on": ["method", "scheme", "host", "path"],
    }


@pytest.fixture
def client(vcr: Cassette) -> Iterator[anthropic.Anthropic]:
    api_key = os.environ.get("ANTHROPIC_API_KEY", "sk-ant-test-0000")
    yield anthropic.Anthropic(api_key=api_key, max_retries=0)
    # A test that talks to Anthropic must do it through its cassette.
    assert vcr.play_count >= 1, "no recorded interaction was played"
