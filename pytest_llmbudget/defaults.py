"""Our own answers to our hooks, registered as an ordinary plugin with ``trylast``.

Any conftest.py or plugin implementing the same hook runs first; returning
``None`` from it falls back to these.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pytest_llmbudget.classify import Classification
    from pytest_llmbudget.pricing import PriceBook
    from pytest_llmbudget.recording.recorder import HttpRequest, HttpResponse
    from pytest_llmbudget.records import CallRecord, Usage


def _header(headers: list[tuple[str, str]], name: str) -> str:
    return next((value for key, value in headers if key.lower() == name), "")


def request_model(body: bytes) -> str | None:
    """The ``model`` a JSON request names: the fallback when the response does not."""
    if not body.lstrip().startswith(b"{"):
        return None
    try:
        document = json.loads(body)
    except ValueError:
        return None
    model = document.get("model") if isinstance(document, dict) else None
    return model if isinstance(model, str) else None


class DefaultHooks:
    """Classification, usage extraction (with estimates) and pricing."""

    def __init__(
        self, extra_hosts: frozenset[str], price_book: PriceBook | Callable[[], PriceBook]
    ) -> None:
        self._extra_hosts = extra_hosts
        # A callable is asked at the first call to price: most runs replay, or call nothing.
        self._price_book = price_book

    @property
    def price_book(self) -> PriceBook:
        book = self._price_book
        if callable(book):
            book = self._price_book = book()
        return book

    @pytest.hookimpl(trylast=True)
    def pytest_llmbudget_classify(self, request: HttpRequest) -> Classification | None:
        from pytest_llmbudget.classify import classify

        return classify(request.url, self._extra_hosts)

    @pytest.hookimpl(trylast=True)
    def pytest_llmbudget_usage(
        self, record: CallRecord, request: HttpRequest, response: HttpResponse
    ) -> Usage | None:
        from pytest_llmbudget.providers import extract, prompt_text
        from pytest_llmbudget.records import Usage

        content_type = _header(response.headers, "content-type")
        extraction = extract(
            provider=record.provider,
            api=record.api,
            endpoint=record.endpoint,
            request_body=request.body,
            response_body=response.body,
            content_type=content_type,
        )
        if record.model is None:
            record.model = extraction.model
        if response.status >= 400:
            return Usage()
        if extraction.usage is not None:
            return extraction.usage
        from pytest_llmbudget.tokens import count_tokens

        prompt = prompt_text(api=record.api, request_body=request.body)
        record.estimated = True
        record.stream_without_usage = extraction.usage_requested is False
        return Usage(
            input_tokens=count_tokens(prompt, record.model).tokens,
            output_tokens=count_tokens(extraction.output_text, record.model).tokens,
        )

    @pytest.hookimpl(trylast=True)
    def pytest_llmbudget_price(self, record: CallRecord) -> Decimal | None:
        price = self.price_book.price(
            provider=record.provider,
            model=record.model,
            host=record.host,
            usage=record.usage,
            status=record.status,
            at=lambda: recorded_time(record),
        )
        record.priced = price.priced
        return price.cost_usd


def recorded_time(record: CallRecord) -> datetime | None:
    """Replays are priced at the hour they were recorded (some prices depend on it)."""
    if record.live or not record.recorded_at:
        return None
    try:
        return datetime.fromisoformat(record.recorded_at.replace("Z", "+00:00"))
    except ValueError:
        return None
