"""Record modes, the CI-aware default, and the styles a cassette is written in."""

from __future__ import annotations

import enum
from collections.abc import Mapping

TRUE_VALUES = frozenset({"true", "1", "yes"})
# How a new cassette is written (cassette_text.py): JSON-formatted YAML, or block YAML.
CASSETTE_STYLES = ("json", "yaml")


class RecordMode(enum.Enum):
    """How a test's cassette may change during a run."""

    NONE = "none"  # replay only; a miss fails the test
    ONCE = "once"  # record only when the cassette file does not exist yet
    NEW = "new"  # replay what matches, record what does not
    REWRITE = "rewrite"  # drop the cassette and record afresh

    @classmethod
    def names(cls) -> list[str]:
        return [mode.value for mode in cls]


def default_mode(environ: Mapping[str, str]) -> RecordMode:
    """Replay-only in CI, so a live call there only happens when asked for."""
    if environ.get("CI", "").strip().lower() in TRUE_VALUES:
        return RecordMode.NONE
    return RecordMode.NEW
