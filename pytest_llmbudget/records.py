"""CallRecord: one LLM call, live or replayed, as every report sees it."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class CallRecord:
    """One LLM call.

    The interceptor fills in what the wire says; accounting (usage, prices)
    and budgets read and extend it. The raw bodies stay in memory only for
    the extractors and are never written anywhere but the cassette.
    """

    nodeid: str
    provider: str
    api: str
    host: str
    endpoint: str
    method: str
    url: str
    live: bool
    status: int
    duration_s: float
    recorded_at: str | None
    cassette: str | None
    request_body: bytes = field(repr=False, default=b"")
    response_body: bytes = field(repr=False, default=b"")
    response_headers: list[tuple[str, str]] = field(repr=False, default_factory=list)
    truncated: bool = False
