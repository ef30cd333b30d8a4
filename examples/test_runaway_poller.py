"""The runaway loop, caught: deselected by default (pytest.ini), run with ``-m runaway``.

This test fails on purpose, the way such a test fails in a real suite: the
plugin refuses call 51 with ``LLMCallLimitExceeded`` and names the endpoint
that was called 50 times.
"""

from __future__ import annotations

import openai
import pytest
from runaway_poller import wait_for_report


@pytest.mark.runaway
def test_report_is_generated(openai_client: openai.OpenAI) -> None:
    assert wait_for_report(openai_client) == "READY"
