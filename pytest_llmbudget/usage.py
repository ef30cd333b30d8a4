"""The ``llm_usage`` fixture's view of the running test's calls."""

from __future__ import annotations

from decimal import Decimal

from pytest_llmbudget.records import CallRecord


class LLMUsage:
    """Live numbers: each property reads the calls made so far in this test."""

    __slots__ = ("_records",)

    def __init__(self, records: list[CallRecord]) -> None:
        self._records = records

    @property
    def records(self) -> list[CallRecord]:
        return list(self._records)

    @property
    def calls(self) -> int:
        return len(self._records)

    @property
    def live_calls(self) -> int:
        return sum(1 for record in self._records if record.live)

    @property
    def cost_usd(self) -> Decimal:
        return sum((record.cost_usd for record in self._records), Decimal(0))

    @property
    def spend_usd(self) -> Decimal:
        return sum((record.cost_usd for record in self._records if record.live), Decimal(0))

    @property
    def input_tokens(self) -> int:
        return sum(record.usage.input_tokens for record in self._records)

    @property
    def output_tokens(self) -> int:
        return sum(record.usage.output_tokens for record in self._records)

    def __repr__(self) -> str:
        return f"<LLMUsage calls={self.calls} live={self.live_calls} cost=${self.cost_usd}>"
