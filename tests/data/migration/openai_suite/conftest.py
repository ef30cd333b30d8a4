"""Cassettes live in recordings/<module>/ at the top of the suite, recorded once."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import openai
import pytest

RECORDINGS = Path(__file__).parent / "recordings"


@pytest.fixture(scope="module")
def vcr_cassette_dir(request: pytest.FixtureRequest) -> str:
    return str(RECORDINGS / request.path.stem)


@pytest.fixture(scope="module")
def vcr_config() -> dict[str, Any]:
    return {
        "record_mode": "once",
        "filter_headers": [
            ("authorization", "Bearer sk-REDACTED"),
            "openai-organization",
            "openai-project",
            "cookie",
        ],
    }


@pytest.fixture
def client() -> openai.OpenAI:
    return openai.OpenAI(api_key=os.environ.get("OPENAI_API_KEY", "sk-test-0000"), max_retries=0)
