"""Turn a raw intercepted call into a priced CallRecord, through our hooks."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pytest_llmbudget.defaults import request_model
from pytest_llmbudget.recording.recorder import HttpRequest, HttpResponse
from pytest_llmbudget.records import CallRecord


def account(record: CallRecord, hook: Any) -> None:
    """Fill in model, usage, cost and error kind; then tell ``pytest_llmbudget_call``."""
    request = HttpRequest(record.method, record.url, [], record.request_body)
    response = HttpResponse(record.status, record.response_headers, record.response_body)
    usage = hook.pytest_llmbudget_usage(record=record, request=request, response=response)
    if usage is not None:
        record.usage = usage
    if record.model is None:
        record.model = request_model(record.request_body)
    if record.status >= 400 or "event-stream" in _content_type(record):
        from pytest_llmbudget.providers import error_kind

        record.error = error_kind(
            provider=record.provider,
            status=record.status,
            response_body=record.response_body,
            content_type=_content_type(record),
        )
    cost = hook.pytest_llmbudget_price(record=record)
    if cost is not None:
        record.cost_usd = cost if isinstance(cost, Decimal) else Decimal(str(cost))
    if record.status >= 400:
        record.cost_usd = Decimal(0)
    hook.pytest_llmbudget_call(record=record)


def _content_type(record: CallRecord) -> str:
    return next((v for k, v in record.response_headers if k.lower() == "content-type"), "")
