"""requests: patched at ``HTTPAdapter.send``; live answers are copied as they are read.

``responses`` replaces this same method for its test and ``requests-mock``
swaps in its own adapter, so mocked calls never reach us; their pass-through
calls do, and are recorded like any live call.
"""

from __future__ import annotations

import functools
import io
from types import ModuleType
from typing import TYPE_CHECKING, Any

from pytest_llmbudget.intercept import urllib3_tee
from pytest_llmbudget.intercept.patching import patch_method
from pytest_llmbudget.intercept.switchboard import SWITCHBOARD

if TYPE_CHECKING:  # the cassette module loads YAML: not before the first LLM call
    from pytest_llmbudget.recording.cassette import StoredResponse
    from pytest_llmbudget.recording.recorder import Exchange

# urllib3 would try to de-chunk a replayed body that is already whole.
_DROP_ON_REPLAY = frozenset({"transfer-encoding"})


def _body_bytes(body: Any) -> bytes | None:
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")
    return None  # a streamed upload: we cannot read it without consuming it


def _replay(adapter: Any, request: Any, replay: StoredResponse) -> Any:
    import urllib3

    raw = urllib3.HTTPResponse(
        body=io.BytesIO(replay.body),
        headers=urllib3.HTTPHeaderDict(
            [(k, v) for k, v in replay.headers if k.lower() not in _DROP_ON_REPLAY]
        ),
        status=replay.status,
        reason=replay.reason,
        preload_content=False,
        decode_content=False,
        enforce_content_length=False,  # a stored Content-Length may predate decoding
    )
    return adapter.build_response(request, raw)


def _response_headers(response: Any) -> list[tuple[str, str]]:
    raw_headers = getattr(getattr(response, "raw", None), "headers", None)
    source = raw_headers if raw_headers is not None else response.headers
    return [(str(k), str(v)) for k, v in source.items()]


def _record_whole(response: Any, exchange: Exchange) -> None:
    """A response we cannot copy as it is read (not urllib3's): read it all now."""
    try:
        content = response.content  # decoded by urllib3
    except BaseException:
        exchange.abort()
        raise
    exchange.feed(content or b"")
    exchange.complete(decoded=True)


def _build(original: Any) -> Any:
    @functools.wraps(original)
    def send(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
        __tracebackhide__ = True
        recorder = SWITCHBOARD.current()
        if recorder is None:
            return original(self, request, *args, **kwargs)
        method, url = request.method or "GET", request.url or ""
        headers = [(str(k), str(v)) for k, v in request.headers.items()]
        classification = recorder.classify(method, url, headers)
        body = _body_bytes(request.body)
        if classification is None or body is None:
            return original(self, request, *args, **kwargs)
        from pytest_llmbudget.recording.recorder import HttpRequest

        described = HttpRequest(method=method, url=url, headers=headers, body=body)
        exchange = recorder.begin(described, classification)
        if exchange.replay is not None:
            return _replay(self, request, exchange.replay)
        try:
            response = original(self, request, *args, **kwargs)
        except BaseException:
            exchange.abort()
            raise
        response_headers = _response_headers(response)
        exchange.respond(response.status_code, response.reason or "", response_headers)
        encoded = any(k.lower() == "content-encoding" for k, _ in response_headers)
        if not urllib3_tee.tee(response.raw, exchange, encoded):
            _record_whole(response, exchange)
        return response

    return send


def patch(module: ModuleType) -> None:
    patch_method(module.adapters.HTTPAdapter, "send", _build)
