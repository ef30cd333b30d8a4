"""Which interactions of its cassette a test played: what ``llmbudget prune`` may trust.

A test's use of its cassette travels on the test's teardown report, so it
comes back from pytest-xdist workers as every report does. Positions are
indices into the cassette file as the test left it: replays keep the file's
order and new recordings are appended, so an index never changes meaning
within a run. The file's SHA-256 before and after the test lets prune check
that nothing else wrote the file in between (parallel recording) or since.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

# The attribute of a teardown TestReport that carries a CassetteUse as JSON.
REPORT_ATTRIBUTE = "llm_cassette"


def to_ranges(positions: Iterable[int]) -> list[list[int]]:
    """``{0, 1, 2, 5}`` → ``[[0, 2], [5, 5]]``: a played cassette is mostly one range."""
    ranges: list[list[int]] = []
    for position in sorted(set(positions)):
        if ranges and ranges[-1][1] == position - 1:
            ranges[-1][1] = position
        else:
            ranges.append([position, position])
    return ranges


def from_ranges(ranges: Iterable[Iterable[int]]) -> set[int]:
    """The positions of ``[[first, last], ...]``; raises ValueError on a malformed pair."""
    positions: set[int] = set()
    for pair in ranges:
        first, last = (int(value) for value in pair)
        if first < 0 or last < first:
            raise ValueError(f"bad range {[first, last]}")
        positions.update(range(first, last + 1))
    return positions


@dataclass(frozen=True, slots=True)
class CassetteUse:
    """One test's cassette: where it is and, if the test opened it, what it played.

    ``opened`` is false for a test that made no LLM call: its cassette was
    never read. ``loaded`` is the SHA-256 of the file the test read (None:
    no file, or a fresh one under ``--llm-record=rewrite``); ``left`` that of
    the file the test left behind (None: no file).
    """

    path: str
    opened: bool = False
    loaded: str | None = None
    left: str | None = None
    interactions: int = 0
    played: frozenset[int] = field(default_factory=frozenset)

    def as_json(self) -> dict[str, Any]:
        if not self.opened:
            return {"path": self.path, "opened": False}
        return {
            "path": self.path,
            "opened": True,
            "loaded": self.loaded,
            "left": self.left,
            "interactions": self.interactions,
            "played": to_ranges(self.played),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CassetteUse:
        """Raises KeyError, TypeError or ValueError on a malformed entry."""
        if not data.get("opened"):
            return cls(str(data["path"]))
        return cls(
            path=str(data["path"]),
            opened=True,
            loaded=_digest(data.get("loaded")),
            left=_digest(data.get("left")),
            interactions=int(data["interactions"]),
            played=frozenset(from_ranges(data["played"])),
        )


def _digest(value: object) -> str | None:
    return None if value is None else str(value)
