"""CallRecord and Usage: one LLM call, live or replayed, as every report sees it."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal


@dataclass(slots=True)
class Usage:
    """Token counts with one meaning for every provider (genai-prices' convention).

    ``input_tokens`` is every input token billed, cached reads and cache
    writes included; ``output_tokens`` every output token billed, reasoning
    included. ``cost_usd`` is set only when the provider itself reports
    what the call cost (OpenRouter's ``usage.cost``): it wins over our price.
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: Decimal | None = None


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
    model: str | None = None
    usage: Usage = field(default_factory=Usage)
    cost_usd: Decimal = Decimal(0)
    estimated: bool = False
    priced: bool = True
    error: str | None = None  # "quota" or "rate_limit" for such error responses
    stream_without_usage: bool = False  # an OpenAI stream asked without include_usage
