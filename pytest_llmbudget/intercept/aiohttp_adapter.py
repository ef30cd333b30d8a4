"""aiohttp: ``ClientSession._request``, through vcrpy's aiohttp stub.

Building a faithful ``ClientResponse`` by hand means tracking aiohttp's
private constructor across versions; vcrpy already does that. We hand its
stub a one-call cassette stand-in that forwards to our recorder, and only for
LLM calls: everything else goes straight to aiohttp.
"""

from __future__ import annotations

import functools
import json
from types import ModuleType
from typing import Any

from pytest_llmbudget.classify import Classification
from pytest_llmbudget.intercept import aiohttp_tee
from pytest_llmbudget.intercept.patching import patch_method
from pytest_llmbudget.intercept.switchboard import SWITCHBOARD
from pytest_llmbudget.recording.recorder import (
    Exchange,
    HttpRequest,
    TestRecorder,
    header_map,
)


def _body(value: Any) -> bytes:
    if value is None:
        return b""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, (dict, list)):
        return json.dumps(value).encode("utf-8")
    return str(value).encode("utf-8")


class _OneCallCassette:
    """The part of vcrpy's Cassette interface its aiohttp stub uses, for one call."""

    write_protected = False

    def __init__(self, recorder: TestRecorder, classification: Classification) -> None:
        self._recorder = recorder
        self._classification = classification
        self._exchange: Exchange | None = None
        self._plays = 0
        # The live answer is copied as the client reads it: vcrpy must not read it first.
        self.copying = False

    def can_play_response_for(self, vcr_request: Any) -> bool:
        if self._exchange is None:
            described = HttpRequest(
                method=str(vcr_request.method),
                url=str(vcr_request.uri),
                headers=[(str(k), str(v)) for k, v in dict(vcr_request.headers).items()],
                body=_body(vcr_request.body),
            )
            self._exchange = self._recorder.begin(described, self._classification)
        return self._exchange.replay is not None and self._plays == 0

    def play_response(self, vcr_request: Any) -> dict[str, Any]:
        exchange = self._exchange
        if exchange is None or exchange.replay is None:
            raise RuntimeError("play_response called for a call that has no recording")
        replay = exchange.replay
        self._plays += 1
        headers = replay.headers
        if self._plays > 1:  # a recorded redirect we cannot follow: stop here
            headers = [(k, v) for k, v in headers if k.lower() != "location"]
        return {
            "status": {"code": replay.status, "message": replay.reason},
            "headers": header_map(headers),
            "body": {"string": replay.body},
        }

    def filter_request(self, vcr_request: Any) -> Any:
        return None if self.copying else vcr_request

    def live(self, original: Any) -> Any:
        """What vcrpy's stub calls to send the request: aiohttp's own method, then the copy."""

        @functools.wraps(original)
        async def send(session: Any, method: str, url: Any, **kwargs: Any) -> Any:
            exchange = self._exchange
            try:
                response = await original(session, method, url, **kwargs)
            except BaseException:
                if exchange is not None:
                    exchange.abort()
                raise
            if exchange is not None and not exchange.answered and aiohttp_tee.can_tee(response):
                decoded = kwargs.get("auto_decompress")
                if decoded is None:
                    decoded = getattr(session, "auto_decompress", True)
                headers = [(str(k), str(v)) for k, v in response.headers.items()]
                exchange.respond(response.status, str(response.reason or ""), headers)
                aiohttp_tee.tee(response, exchange, decoded=bool(decoded))
                self.copying = True
            return response

        return send

    def find_requests_with_most_matches(self, vcr_request: Any) -> list[Any]:
        return []

    def append(self, vcr_request: Any, vcr_response: dict[str, Any]) -> None:
        exchange = self._exchange
        if exchange is None or exchange.answered:
            return  # a redirect hop: only the final answer is the LLM call
        status = vcr_response.get("status", {})
        headers = [
            (str(k), str(v))
            for k, values in dict(vcr_response.get("headers", {})).items()
            for v in (values if isinstance(values, list) else [values])
        ]
        exchange.respond(int(status.get("code", 0)), str(status.get("message") or ""), headers)
        exchange.feed(_body(vcr_response.get("body", {}).get("string")))
        exchange.complete(decoded=True)


def _build(original: Any) -> Any:
    @functools.wraps(original)
    async def _request(self: Any, method: str, str_or_url: Any, **kwargs: Any) -> Any:
        __tracebackhide__ = True
        recorder = SWITCHBOARD.current()
        classification = None
        if recorder is not None:
            headers = kwargs.get("headers") or {}
            pairs = [(str(k), str(v)) for k, v in dict(headers).items()]
            classification = recorder.classify(str(method), str(str_or_url), pairs)
        if recorder is None or classification is None:
            return await original(self, method, str_or_url, **kwargs)
        from vcr.stubs.aiohttp_stubs import vcr_request

        cassette = _OneCallCassette(recorder, classification)
        stub = vcr_request(cassette, cassette.live(original))
        return await stub(self, method, str_or_url, **kwargs)

    return _request


def patch(module: ModuleType) -> None:
    patch_method(module.client.ClientSession, "_request", _build)
