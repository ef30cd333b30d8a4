"""httpx and httpx2: the transports the OpenAI, Anthropic and Google SDKs send through.

We patch ``HTTPTransport`` / ``AsyncHTTPTransport``. ``MockTransport`` (and
pytest-httpx, which replaces these very methods for its test) answer without
us. respx hooks the connection pool *below* the transport: when the pool's
method no longer comes from the pool's own package, the call goes down to the
mock untouched, and only if the mock lets it through to the network does it
meet the recorder (passthrough.py).

Live answers stream to the client as they arrive; each chunk is copied into
the exchange on its way, and the recording is made when the client closes
the response, so recording a stream adds no delay to its first chunk.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable, Iterator
from types import ModuleType
from typing import TYPE_CHECKING, Any

from pytest_llmbudget.intercept import tls
from pytest_llmbudget.intercept.patching import patch_method
from pytest_llmbudget.intercept.switchboard import SWITCHBOARD

if TYPE_CHECKING:  # the cassette module loads YAML: not before the first LLM call
    from pytest_llmbudget.classify import Classification
    from pytest_llmbudget.intercept.passthrough import Pending
    from pytest_llmbudget.recording.cassette import StoredResponse
    from pytest_llmbudget.recording.recorder import Exchange, HttpRequest, TestRecorder


def _core_is_mocked(transport: Any, method_name: str) -> bool:
    pool = getattr(transport, "_pool", None)
    if pool is None:
        return False
    method = getattr(type(pool), method_name, None)
    home = type(pool).__module__.partition(".")[0]
    return str(getattr(method, "__module__", home) or "").partition(".")[0] != home


def header_list(headers: Any) -> list[tuple[str, str]]:
    """A request's headers as text, names in lower case, as ``multi_items()`` gives them.

    Read from the raw bytes: ``multi_items()`` asks the ``encoding`` property
    for every name and value, and it decodes every header once more to find
    out. Headers are ASCII but for a rare client; those go the library's way.
    """
    try:
        return [(key.decode("ascii").lower(), value.decode("ascii")) for key, value in headers.raw]
    except (UnicodeDecodeError, AttributeError):
        return list(headers.multi_items())


def _head(response: Any) -> tuple[int, str, list[tuple[str, str]]]:
    reason = response.extensions.get("reason_phrase", b"")
    if isinstance(reason, bytes):
        reason = reason.decode("ascii", errors="replace")
    return response.status_code, str(reason), list(response.headers.multi_items())


@functools.cache
def _stream_classes(module: ModuleType) -> tuple[type, type, type]:
    """Stream types built on this httpx flavour's base classes (the client checks them)."""

    class ReplayStream(module.SyncByteStream, module.AsyncByteStream):  # type: ignore[name-defined,misc]
        def __init__(self, chunks: list[bytes]) -> None:
            self._chunks = chunks

        def __iter__(self) -> Iterator[bytes]:
            yield from self._chunks

        async def __aiter__(self) -> AsyncIterator[bytes]:
            for chunk in self._chunks:
                yield chunk

    class TeeStream(module.SyncByteStream):  # type: ignore[name-defined,misc]
        def __init__(self, inner: Any, exchange: Exchange) -> None:
            self._inner = inner
            self._exchange = exchange
            self._finished = False

        def __iter__(self) -> Iterator[bytes]:
            try:
                for chunk in self._inner:
                    self._exchange.feed(chunk)
                    yield chunk
            except Exception:
                self._exchange.abort()
                raise
            self._finished = True

        def close(self) -> None:
            try:
                self._inner.close()
            finally:
                self._exchange.complete(truncated=not self._finished)

    class AsyncTeeStream(module.AsyncByteStream):  # type: ignore[name-defined,misc]
        def __init__(self, inner: Any, exchange: Exchange) -> None:
            self._inner = inner
            self._exchange = exchange
            self._finished = False

        async def __aiter__(self) -> AsyncIterator[bytes]:
            try:
                async for chunk in self._inner:
                    self._exchange.feed(chunk)
                    yield chunk
            except Exception:
                self._exchange.abort()
                raise
            self._finished = True

        async def aclose(self) -> None:
            try:
                await self._inner.aclose()
            finally:
                self._exchange.complete(truncated=not self._finished)

    return ReplayStream, TeeStream, AsyncTeeStream


def _replay(module: ModuleType, replay: StoredResponse) -> Any:
    replay_stream = _stream_classes(module)[0]
    return module.Response(
        status_code=replay.status,
        headers=replay.headers,
        stream=replay_stream(replay.chunks()),
        extensions={
            "reason_phrase": replay.reason.encode("ascii", errors="replace"),
            "http_version": b"HTTP/1.1",
        },
    )


def _sync_handler(module: ModuleType) -> Callable[[Any], Any]:
    def build(original: Any) -> Any:
        @functools.wraps(original)
        def handle_request(self: Any, request: Any) -> Any:
            __tracebackhide__ = True
            recorder = SWITCHBOARD.current()
            if recorder is None:
                tls.ready(module, self)
                return original(self, request)
            method, url = request.method, str(request.url)
            headers = header_list(request.headers)
            classification = recorder.classify(method, url, headers)
            if classification is None:
                tls.ready(module, self)
                return original(self, request)
            from pytest_llmbudget.recording.recorder import HttpRequest

            sent = HttpRequest(method, url, headers, request.read())
            if _core_is_mocked(self, "handle_request"):
                return _through_mock(
                    module, original, self, request, recorder, sent, classification
                )
            exchange = recorder.begin(sent, classification)
            if exchange.replay is not None:
                return _replay(module, exchange.replay)
            try:
                tls.ready(module, self)
                response = original(self, request)
            except BaseException:
                exchange.abort()
                raise
            exchange.respond(*_head(response))
            response.stream = _stream_classes(module)[1](response.stream, exchange)
            return response

        return handle_request

    return build


def _async_handler(module: ModuleType) -> Callable[[Any], Any]:
    def build(original: Any) -> Any:
        @functools.wraps(original)
        async def handle_async_request(self: Any, request: Any) -> Any:
            __tracebackhide__ = True
            recorder = SWITCHBOARD.current()
            if recorder is None:
                tls.ready(module, self)
                return await original(self, request)
            method, url = request.method, str(request.url)
            headers = header_list(request.headers)
            classification = recorder.classify(method, url, headers)
            if classification is None:
                tls.ready(module, self)
                return await original(self, request)
            from pytest_llmbudget.recording.recorder import HttpRequest

            sent = HttpRequest(method, url, headers, await request.aread())
            if _core_is_mocked(self, "handle_async_request"):
                return await _through_mock_async(
                    module, original, self, request, recorder, sent, classification
                )
            exchange = recorder.begin(sent, classification)
            if exchange.replay is not None:
                return _replay(module, exchange.replay)
            try:
                tls.ready(module, self)
                response = await original(self, request)
            except BaseException:
                exchange.abort()
                raise
            exchange.respond(*_head(response))
            response.stream = _stream_classes(module)[2](response.stream, exchange)
            return response

        return handle_async_request

    return build


def _pending(
    transport: Any, request: Any, recorder: TestRecorder, sent: HttpRequest, c: Classification
) -> Pending:
    """The LLM request about to go down to a mocked pool (see passthrough.py)."""
    from pytest_llmbudget.intercept.passthrough import Pending

    return Pending(lambda: recorder.begin(sent, c), transport._pool, request)


def _let_through(response: Any, pending: Pending, tee: type) -> Any:
    """After the mocked pool answered: a mock's own answer is left alone, one it let
    through to the network is teed into the recorder as any live answer."""
    if pending.exchange is None:
        return response  # answered below without the pool's own method: a mock's answer
    pending.exchange.respond(*_head(response))
    response.stream = tee(response.stream, pending.exchange)
    return response


def _through_mock(
    module: ModuleType,
    original: Any,
    transport: Any,
    request: Any,
    recorder: TestRecorder,
    sent: HttpRequest,
    classification: Classification,
) -> Any:
    """Send through a mocked pool: what the mock answers is left alone; what it lets through
    is replayed, refused or recorded (see passthrough.py)."""
    __tracebackhide__ = True
    from pytest_llmbudget.intercept.passthrough import PENDING, Replayed

    pending = _pending(transport, request, recorder, sent, classification)
    token = PENDING.set(pending)
    try:
        tls.ready(module, transport)
        response = original(transport, request)
    except Replayed as replayed:
        return _replay(module, replayed.response)
    except BaseException:
        if pending.exchange is not None:
            pending.exchange.abort()
        raise
    finally:
        PENDING.reset(token)
    return _let_through(response, pending, _stream_classes(module)[1])


async def _through_mock_async(
    module: ModuleType,
    original: Any,
    transport: Any,
    request: Any,
    recorder: TestRecorder,
    sent: HttpRequest,
    classification: Classification,
) -> Any:
    """The async twin of :func:`_through_mock`."""
    __tracebackhide__ = True
    from pytest_llmbudget.intercept.passthrough import PENDING, Replayed

    pending = _pending(transport, request, recorder, sent, classification)
    token = PENDING.set(pending)
    try:
        tls.ready(module, transport)
        response = await original(transport, request)
    except Replayed as replayed:
        return _replay(module, replayed.response)
    except BaseException:
        if pending.exchange is not None:
            pending.exchange.abort()
        raise
    finally:
        PENDING.reset(token)
    return _let_through(response, pending, _stream_classes(module)[2])


def patch(module: ModuleType) -> None:
    """Patch ``httpx`` or ``httpx2`` (same API, separate classes)."""
    patch_method(module.HTTPTransport, "handle_request", _sync_handler(module))
    patch_method(module.AsyncHTTPTransport, "handle_async_request", _async_handler(module))
    for transport in (module.HTTPTransport, module.AsyncHTTPTransport):
        patch_method(transport, "__init__", tls.init_builder(module))
