"""pytest-recording's hook, declared by us when pytest-recording is not registered.

Without the declaration pytest refuses a conftest that implements it
("unknown hook"), and a migrated suite does not even collect.
"""

from __future__ import annotations

from typing import Any

import pytest


@pytest.hookspec
def pytest_recording_configure(config: pytest.Config, vcr: Any) -> None:
    """Called with a test's ``vcr.VCR`` before its cassette is opened: register
    serializers and matchers on it (``vcr.register_serializer``, ``vcr.register_matcher``)."""
