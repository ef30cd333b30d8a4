"""What the ``vcr`` fixture gives a test: its cassette, read the way vcrpy's Cassette is read.

Suites assert on it (``vcr.play_count == 1``, ``vcr.all_played``) and read
what was recorded (``vcr.requests``, ``vcr.responses``). Answered from the
test's recorder, which opens the cassette when asked, so a test that reads
its cassette before its first call sees what is on disk.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from pytest_llmbudget.recording.cassette_setup import CassetteSetup

if TYPE_CHECKING:
    from pytest_llmbudget.recording.cassette import Cassette
    from pytest_llmbudget.recording.recorder import TestRecorder


class CassetteView:
    """The read side of vcrpy's ``Cassette``, for the test running now."""

    def __init__(self, item: pytest.Item, setup: CassetteSetup) -> None:
        self._item = item
        self._setup = setup

    def _recorder(self) -> TestRecorder:
        from pytest_llmbudget.runstate import SLOT

        return self._item.stash[SLOT].get()

    def _cassettes(self) -> list[Cassette]:
        return self._recorder().cassettes()

    @property
    def path(self) -> str:
        return str(self._setup.path)

    @property
    def _path(self) -> str:
        """vcrpy's private name for it, which suites read (``vcr._path``)."""
        return self.path

    @property
    def record_mode(self) -> str:
        from pytest_llmbudget.vcrcompat.options import OURS_TO_VCR

        return OURS_TO_VCR[self._recorder().mode]

    @property
    def play_count(self) -> int:
        """Replays so far, of LLM calls and any other request the cassettes hold."""
        return sum(cassette.plays for cassette in self._cassettes())

    @property
    def all_played(self) -> bool:
        """Every recording of the test's cassettes has been replayed (one recorded now has not)."""
        return all(
            len(cassette.played - cassette.fresh) == len(cassette) for cassette in self._cassettes()
        )

    @property
    def play_counts(self) -> dict[int, int]:
        """Position -> times played, over the test's cassettes in order (vcrpy's Counter)."""
        counts: dict[int, int] = {}
        offset = 0
        for cassette in self._cassettes():
            for position in cassette.played - cassette.fresh:
                counts[offset + position] = 1
            offset += len(cassette)
        return counts

    @property
    def data(self) -> list[tuple[Any, dict[str, Any]]]:
        from vcr.request import Request

        return [
            (Request._from_dict(interaction["request"]), interaction["response"])
            for cassette in self._cassettes()
            for interaction in cassette
        ]

    @property
    def requests(self) -> list[Any]:
        return [request for request, _response in self.data]

    @property
    def responses(self) -> list[dict[str, Any]]:
        return [response for _request, response in self.data]

    @property
    def write_protected(self) -> bool:
        return not self._recorder().may_record

    def __len__(self) -> int:
        return sum(len(cassette) for cassette in self._cassettes())

    def __repr__(self) -> str:
        return f"<pytest-llmbudget cassette {self.path}>"
