"""What a test's cassette is beyond its path, when a suite's vcrpy configuration says more.

A test marked ``@pytest.mark.vcr`` brings pytest-recording's configuration
with it (``vcr_config``, the marker's arguments, ``pytest_recording_configure``);
the compatibility layer (vcrcompat/) resolves it into this, and the recorder
follows it. A test without one records and replays by this plugin's rules.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from pytest_llmbudget.recording.matching import Matching
    from pytest_llmbudget.recording.modes import RecordMode
    from pytest_llmbudget.recording.recorder import HttpRequest

# vcrpy's before_record_response: a response dict in, a response dict (or None: not kept) out.
ResponseFilter = Callable[[dict[str, Any]], dict[str, Any] | None]
# vcrpy's before_record_request, on our request: None means "not recorded, sent as it is".
RequestFilter = Callable[["HttpRequest"], "HttpRequest | None"]


class CassetteSetup(NamedTuple):
    """One test's cassettes and rules, from its vcrpy configuration."""

    path: Path
    # Cassettes the test replays from too, after its own (the marker's arguments); never written.
    extra: tuple[Path, ...] = ()
    mode: RecordMode | None = None  # the configuration's record_mode, if it names one
    matching: Matching | None = None
    request_filter: RequestFilter | None = None
    response_filter: ResponseFilter | None = None
    serializer: Any = None  # a vcrpy serializer; None: our YAML
    persister: Any = None  # a vcrpy persister of the suite's; None: files we read and write
    source: str = "vcr_config"  # named in messages: where the settings came from
    # Every HTTP request of the test goes to its cassette, as vcrpy records them all; the
    # ones that are no LLM call are replayed and recorded, never counted.
    all_http: bool = False
