"""Hooks a conftest.py or plugin implements to extend pytest-llmbudget.

Our own behaviour is an ordinary plugin implementing these hooks with
``trylast=True`` (:mod:`pytest_llmbudget.defaults`), so any implementation of
yours runs first and, for ``firstresult`` hooks, wins by returning a value.
Return ``None`` to leave the decision to the next implementation.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pytest_llmbudget.classify import Classification
    from pytest_llmbudget.recording.recorder import HttpRequest, HttpResponse
    from pytest_llmbudget.records import CallRecord, Usage
    from pytest_llmbudget.summary import RunSummary

hookspec = pytest.hookspec


@hookspec(firstresult=True)
def pytest_llmbudget_classify(request: HttpRequest) -> Classification | None:
    """Say whether a request is an LLM call, and whose.

    Called for every HTTP request a test makes, before it is sent, so keep it
    cheap. ``request.body`` is empty here: the body is not read for calls
    that are not LLM calls. Return a :class:`~pytest_llmbudget.classify.Classification`
    (provider, api, host, endpoint) to record and count the request, or
    ``None`` to let the built-in rules decide.

    .. versionadded:: 0.1
    """


@hookspec(firstresult=True)
def pytest_llmbudget_usage(
    record: CallRecord, request: HttpRequest, response: HttpResponse
) -> Usage | None:
    """Read the token usage of a call, for APIs the plugin does not know.

    ``record`` is the call so far (provider, endpoint, status, model if
    known); you may set ``record.model``. Return a
    :class:`~pytest_llmbudget.records.Usage`, or ``None`` to let the built-in
    extractors (or, failing them, a tiktoken estimate) decide.

    .. versionadded:: 0.1
    """


@hookspec(firstresult=True)
def pytest_llmbudget_price(record: CallRecord) -> Decimal | float | None:
    """Price a call in USD, from ``record.model`` and ``record.usage``.

    Return the cost, or ``None`` to use the price overrides and genai-prices.

    .. versionadded:: 0.1
    """


@hookspec
def pytest_llmbudget_call(record: CallRecord) -> None:
    """Called after every LLM call, live or replayed, once it is priced.

    It runs on the thread that made the call.

    .. versionadded:: 0.1
    """


@hookspec
def pytest_llmbudget_summary(summary: RunSummary) -> None:
    """Called once at the end of the run with its totals (post to Slack, mail...).

    .. versionadded:: 0.1
    """
