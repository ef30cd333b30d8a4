"""What changed between two versions of a cassette, interaction by interaction.

Interactions are paired by their canonical request key (the key replay
matches on), in recorded order, so a reordered cassette is not a changed
one: a pair whose recorded answer differs is *changed*, a request only the
new version has is *added*, one only the old version has is *removed*.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_llmbudget.recording.canonical import request_key
from pytest_llmbudget.recording.cassette import Cassette, request_body, response_of


@dataclass(frozen=True, slots=True)
class CassetteDiff:
    added: int = 0
    removed: int = 0
    changed: int = 0
    unchanged: int = 0

    @property
    def same(self) -> bool:
        """The same requests with the same answers: a re-recording that changed nothing
        but when it was recorded (the times each interaction carries)."""
        return not (self.added or self.removed or self.changed)

    def __str__(self) -> str:
        parts = [
            f"{count} {word}"
            for count, word in (
                (self.added, "added"),
                (self.removed, "removed"),
                (self.changed, "changed"),
            )
            if count
        ]
        if self.unchanged:
            parts.append(f"{self.unchanged} the same")
        return ", ".join(parts) or "no interactions"


def _answer(interaction: dict[str, Any]) -> tuple[int, bytes]:
    response = response_of(interaction)
    return response.status, response.body


def diff(
    before: bytes | None, after: bytes | None, path: Path, ignore: Iterable[str] = ()
) -> CassetteDiff:
    """Compare two versions of the cassette file ``path`` (None: no file).

    Raises `CassetteError` when a version is not a readable cassette.
    """
    ignore = tuple(ignore)
    old = Cassette.parse(path, before, ignore) if before is not None else Cassette(path, ignore)
    new = Cassette.parse(path, after, ignore) if after is not None else Cassette(path, ignore)
    added = changed = unchanged = 0
    for interaction in new:
        request = interaction["request"]
        key = request_key(
            str(request["method"]), str(request["uri"]), request_body(request), ignore
        )
        match = old.take(key)
        if match is None:
            added += 1
        elif _answer(match[1]) == _answer(interaction):
            unchanged += 1
        else:
            changed += 1
    removed = len(old) - len(old.played)
    return CassetteDiff(added=added, removed=removed, changed=changed, unchanged=unchanged)
