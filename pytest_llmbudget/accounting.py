"""Turn a raw intercepted call into a priced CallRecord, through our hooks.

While our own plugin is the only one answering the usage and price hooks
(most runs), they are asked directly rather than through pluggy, and a
replay's usage can come from a `UsageNote`: what reading the same recorded
answer found in an earlier run, kept beside the parsed cassette. Reading it
again would find the same: the answer's bytes and the request's are the
recorded ones, and the note is dropped with the parsed cache whenever the
code that reads usage changes.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pytest_llmbudget.defaults import request_model
from pytest_llmbudget.recording.recorder import HttpRequest, HttpResponse
from pytest_llmbudget.records import CallRecord, Usage

# (provider, api, endpoint, model, input, output, cached, cache write, reasoning, cost or None):
# plain data, as the parsed cache stores it.
UsageNote = tuple[str, str, str, str | None, int, int, int, int, int, str | None]


def account(
    record: CallRecord, hook: Any, *, note: UsageNote | None = None, defaults: Any = None
) -> UsageNote | None:
    """Fill in model, usage, cost and error kind; then tell ``pytest_llmbudget_call``.

    ``defaults``: our own hooks' plugin; then ``note`` (a replay's) may stand in
    for reading the answer, and a note is returned when the answer was read
    and what it says can be kept for the next run.
    """
    own_usage = defaults is not None and _only(hook.pytest_llmbudget_usage, defaults)
    found: UsageNote | None = None
    classified = (record.provider, record.api, record.endpoint)
    if own_usage and note is not None and note[:3] == classified:
        record.model = note[3]
        usage: Usage | None = Usage(*note[4:9], cost_usd=_decimal(note[9]))
    else:
        request = HttpRequest(record.method, record.url, [], record.request_body)
        response = HttpResponse(record.status, record.response_headers, record.response_body)
        if own_usage:
            usage = defaults.pytest_llmbudget_usage(
                record=record, request=request, response=response
            )
            if usage is not None and not record.estimated:
                found = _note(record, usage)
        else:
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
    if defaults is not None and _only(hook.pytest_llmbudget_price, defaults):
        cost = defaults.pytest_llmbudget_price(record=record)
    else:
        cost = hook.pytest_llmbudget_price(record=record)
    if cost is not None:
        record.cost_usd = cost if isinstance(cost, Decimal) else Decimal(str(cost))
    if record.status >= 400:
        record.cost_usd = Decimal(0)
    if defaults is None or hook.pytest_llmbudget_call.get_hookimpls():
        hook.pytest_llmbudget_call(record=record)
    return found


def _only(caller: Any, plugin: Any) -> bool:
    """Whether ``plugin`` alone implements the hook ``caller`` calls."""
    impls = caller.get_hookimpls()
    return len(impls) == 1 and impls[0].plugin is plugin


def _note(record: CallRecord, usage: Usage) -> UsageNote:
    cost = None if usage.cost_usd is None else str(usage.cost_usd)
    return (
        record.provider,
        record.api,
        record.endpoint,
        record.model,
        usage.input_tokens,
        usage.output_tokens,
        usage.cached_tokens,
        usage.cache_write_tokens,
        usage.reasoning_tokens,
        cost,
    )


def _decimal(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def _content_type(record: CallRecord) -> str:
    return next((v for k, v in record.response_headers if k.lower() == "content-type"), "")
