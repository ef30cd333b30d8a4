"""A local stand-in for the OpenAI, Anthropic and Gemini HTTP APIs.

Why it exists: the plugin records and replays real HTTP traffic, so its tests
need a server that answers the way the providers do, byte for byte close
enough that the real SDKs (and their streaming helpers) parse the answers,
without a network, a key or a bill. It is a real socket server rather than a
transport mock because the plugin hooks the HTTP client libraries themselves,
and a mock would bypass exactly the code under test.

Why it is built the way it is:

* stdlib only, no relative imports: the suite imports it as ``standin`` or
  ``tests.standin`` and the demo loads it by file path, in any interpreter.
* Answers are a pure function of the request (ids and timestamps come from a
  hash of the body), so two identical requests get identical body bytes and
  a recorded cassette can be compared with a live answer.
* Streams are sent one event per HTTP chunk, each written and flushed on its
  own with TCP_NODELAY set, so clients really see them arrive apart (and do
  not pay Nagle's 40 ms per call).
* It never logs: tests assert on captured output.

Run ``python tests/standin.py --port 0 --port-file PATH`` to serve in the
foreground until SIGTERM or SIGINT.
"""

import abc
import argparse
import base64
import contextlib
import hashlib
import json
import os
import re
import signal
import socket
import ssl
import struct
import threading
import time
import zlib
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

__all__ = [
    "BackgroundServer",
    "RecordedRequest",
    "StandIn",
    "main",
    "read_request",
    "serve_in_background",
]

FALLBACK_ANSWER = "Hello from the stand-in, a deterministic answer."
"""The answer when a request carries no user text to echo."""

ANSWER_LIMIT = 60
"""Answers are truncated to this many characters to keep cassettes small."""

EMBEDDING_DIMENSIONS = 8

_FIXED_DATE = "Mon, 01 Jan 2024 00:00:00 GMT"
"""The Date header: fixed so that identical requests get identical answers."""

_EPOCH = 1_700_000_000
"""Base of the ``created`` timestamps, which are derived from the request hash."""

_DISCONNECTS = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError)

JsonObject = dict[str, Any]


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the stand-in received it, for tests to assert on."""

    method: str
    path: str
    """The path with its query string, as sent."""
    headers: dict[str, str]
    """Header names in lower case; repeated headers joined with ", "."""
    body: bytes

    def json(self) -> Any:
        """The body parsed as JSON (raises ValueError when it is not JSON)."""
        return json.loads(self.body)


def read_request(handler: BaseHTTPRequestHandler) -> RecordedRequest:
    """Read the request's body off ``handler`` and record the request.

    A module function rather than a handler method so that every loopback
    server of the suite records requests the same way: chunked bodies
    reassembled, header names in lower case, repeated headers joined.
    """
    headers: dict[str, str] = {}
    for name, value in handler.headers.items():
        key = name.lower()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    return RecordedRequest(handler.command, handler.path, headers, _read_body(handler))


def _read_body(handler: BaseHTTPRequestHandler) -> bytes:
    rfile = handler.rfile
    if "chunked" in handler.headers.get("transfer-encoding", "").lower():
        parts: list[bytes] = []
        while True:
            size_line = rfile.readline(65537)
            size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(parts)
            parts.append(rfile.read(size))
            rfile.readline(65537)
    length = int(handler.headers.get("content-length") or 0)
    return rfile.read(length) if length > 0 else b""


def serve_in_background(server: ThreadingHTTPServer, name: str) -> threading.Thread:
    """Serve ``server`` from a daemon thread, started; the thread is returned for joining.

    The short poll interval makes ``shutdown()`` return within 50 ms, so a
    test that stops a server does not wait half a second for it.
    """
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=name, daemon=True
    )
    thread.start()
    return thread


@dataclass(frozen=True)
class _Failure:
    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class _Answer:
    """What a route decided to send: a whole body, or a stream of events."""

    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    events: tuple[bytes, ...] | None = None
    headers: tuple[tuple[str, str], ...] = ()


@dataclass
class _Call:
    """The parts of a request a route needs, parsed once."""

    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: JsonObject
    digest: str

    @property
    def created(self) -> int:
        """A plausible Unix time that depends on the request only."""
        return _EPOCH + int(self.digest[:8], 16) % 10_000_000

    def model(self, default: str = "standin-model") -> str:
        value = self.body.get("model")
        return value if isinstance(value, str) and value else default

    def wants_stream(self) -> bool:
        return self.body.get("stream") is True


class BackgroundServer(abc.ABC):
    """A loopback server run from daemon threads: :meth:`start` and :meth:`stop` it,
    or use it as a context manager, which does both.

    A base so that every stand-in of the suite is started and stopped the same way.
    """

    @abc.abstractmethod
    def start(self) -> Self:
        """Bind and serve; returns self so it can be chained."""

    @abc.abstractmethod
    def stop(self) -> None:
        """Stop serving and close the listening sockets."""

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


class StandIn(BackgroundServer):
    """A provider stand-in served from a daemon thread on 127.0.0.1.

    Use it as a context manager, or call :meth:`start` and :meth:`stop`.
    Every request counts as a hit and is recorded, whatever the answer.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        chunk_delay: float = 0.0,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self._host = host
        self._port = port
        # A server-side context: then the stand-in speaks HTTPS, as the providers do.
        self.tls = tls
        # Seconds between two events of a stream: lets timing code tell a
        # stream passed through as it arrives from one read whole first.
        self.chunk_delay = chunk_delay
        self._lock = threading.Lock()
        self._hits = 0
        self._sequence = 0
        self._requests: list[RecordedRequest] = []
        self._failures: deque[_Failure] = deque()
        self._connections: set[socket.socket] = set()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------

    def start(self) -> Self:
        """Bind and serve in a daemon thread; returns self so it can be chained."""
        if self._server is not None:
            return self
        server = _Server((self._host, self._port), self)
        self._port = server.server_address[1]
        self._server = server
        self._thread = serve_in_background(server, f"standin-{self._port}")
        return self

    def stop(self) -> None:
        """Stop serving and cut open keep-alive connections.

        Cutting them matters: a pooled client connection would otherwise keep
        reaching the handler thread after the listening socket is closed.
        """
        server, thread = self._server, self._thread
        self._server, self._thread = None, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        with self._lock:
            connections = list(self._connections)
            self._connections.clear()
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        if thread is not None:
            thread.join(timeout=5)

    # -- what tests look at -----------------------------------------------------------

    @property
    def url(self) -> str:
        """The base URL, without a trailing slash or a path."""
        if self._port == 0:
            raise RuntimeError("the stand-in has no port until it is started")
        return f"{'https' if self.tls else 'http'}://{self._host}:{self._port}"

    @property
    def hits(self) -> int:
        """Requests received since the last reset, error answers included."""
        with self._lock:
            return self._hits

    @property
    def requests(self) -> list[RecordedRequest]:
        """A copy of the requests received since the last reset, oldest first."""
        with self._lock:
            return list(self._requests)

    def reset(self) -> None:
        """Forget hits, recorded requests and queued failures."""
        with self._lock:
            self._hits = 0
            self._requests.clear()
            self._failures.clear()

    def fail_next(
        self,
        status: int,
        body: JsonObject | str,
        *,
        count: int = 1,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer the next ``count`` requests with this error instead.

        A dict body is sent as JSON; a string is sent as it is (as JSON when
        it parses as JSON, as plain text otherwise). ``headers`` are added to
        the answer and win over the defaults, e.g. ``{"retry-after": "0"}``.
        """
        if count < 1:
            raise ValueError("count must be at least 1")
        if isinstance(body, str):
            data = body.encode()
            content_type = "application/json" if _is_json(body) else "text/plain; charset=utf-8"
        else:
            data = _dump(body)
            content_type = "application/json"
        extra = {"content-type": content_type}
        extra.update({name.lower(): value for name, value in (headers or {}).items()})
        failure = _Failure(status, data, tuple(extra.items()))
        with self._lock:
            self._failures.extend([failure] * count)

    # -- used by the handler -------------------------------------------------------------

    def _register(self, request: RecordedRequest) -> tuple[int, _Failure | None]:
        with self._lock:
            self._hits += 1
            self._sequence += 1
            self._requests.append(request)
            failure = self._failures.popleft() if self._failures else None
            return self._sequence, failure

    def _track(self, connection: socket.socket, open_: bool) -> None:
        with self._lock:
            if open_:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)


class _Server(ThreadingHTTPServer):
    """ThreadingHTTPServer that knows its StandIn, sets TCP_NODELAY and never prints."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], owner: StandIn) -> None:
        self.owner = owner
        super().__init__(address, _Handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        connection, address = super().get_request()
        # Without this every small write waits for the peer's delayed ACK.
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.owner.tls is not None:
            # The handshake waits for the handler's thread: a client that fails it
            # (an unknown certificate) must not hold up the accepting loop.
            connection = self.owner.tls.wrap_socket(
                connection, server_side=True, do_handshake_on_connect=False
            )
        return connection, address

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay silent: a client hanging up is not news, and tests read stderr."""


class _Handler(BaseHTTPRequestHandler):
    """Parses a request, records it, and answers it like the provider would."""

    protocol_version = "HTTP/1.1"
    server_version = "standin/1.0"
    sys_version = ""
    server: _Server

    # -- plumbing -------------------------------------------------------------------

    def setup(self) -> None:
        super().setup()
        self.server.owner._track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        finally:
            self.server.owner._track(self.connection, False)

    def handle(self) -> None:
        try:
            super().handle()
        except (OSError, ValueError):
            # The peer went away (or the stand-in was stopped) mid-request.
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        """Log nothing: output would land in the test run's captured stderr."""

    def date_time_string(self, timestamp: float | None = None) -> str:
        return _FIXED_DATE

    def do_GET(self) -> None:
        self._serve()

    def do_HEAD(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def do_OPTIONS(self) -> None:
        self._serve()

    def _serve(self) -> None:
        recorded = read_request(self)
        headers, body = recorded.headers, recorded.body
        sequence, failure = self.server.owner._register(recorded)
        common = [
            ("x-request-id", "req_" + _digest(self.command, urlsplit(self.path).path, body)[:24]),
            ("x-standin-sequence", str(sequence)),
        ]
        if failure is not None:
            answer = _Answer(failure.status, failure.body, "", None, failure.headers)
        else:
            try:
                answer = _route(self.command, self.path, headers, body)
            except Exception as error:  # a bug here must still produce an HTTP answer
                answer = _error(500, f"stand-in failure: {type(error).__name__}: {error}")
        if answer.events is None:
            self._send_whole(answer, common, headers)
        else:
            self._send_stream(answer, common, headers)

    def _send_whole(
        self, answer: _Answer, common: list[tuple[str, str]], request: Mapping[str, str]
    ) -> None:
        data = answer.body
        extra = [*common, *answer.headers]
        names = {name.lower() for name, _ in extra}
        if answer.content_type and "content-type" not in names:
            extra.insert(0, ("Content-Type", answer.content_type))
        encoder = _encoder(self.path, request) if "content-encoding" not in names else None
        if encoder is not None:
            data = encoder.piece(data) + encoder.end()
            extra.append(("Content-Encoding", encoder.coding))
        self.send_response(answer.status)
        for name, value in extra:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            try:
                self.wfile.write(data)
                self.wfile.flush()
            except _DISCONNECTS:
                self.close_connection = True

    def _send_stream(
        self, answer: _Answer, common: list[tuple[str, str]], request: Mapping[str, str]
    ) -> None:
        chunked = self.request_version == "HTTP/1.1"
        # A compressed stream is sent as servers do: each event flushed as it is
        # sent, the coding's trailer last, after the final event.
        encoder = _encoder(self.path, request)
        events = list(answer.events or ())
        if encoder is not None:
            events = [encoder.piece(event) for event in events]
            events.append(encoder.end())
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.content_type)
        self.send_header("Cache-Control", "no-cache")
        if encoder is not None:
            self.send_header("Content-Encoding", encoder.coding)
        for name, value in [*common, *answer.headers]:
            self.send_header(name, value)
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:  # HTTP/1.0 has no chunks: the end of the body is the end of the connection
            self.send_header("Connection", "close")
            self.close_connection = True
        try:
            self.end_headers()
            for number, event in enumerate(events):
                if number and self.server.owner.chunk_delay:
                    time.sleep(self.server.owner.chunk_delay)
                if chunked:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
                else:
                    self.wfile.write(event)
                self.wfile.flush()
            if chunked:
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
        except _DISCONNECTS:
            # The client stopped reading (a `break` out of a stream): not an error.
            self.close_connection = True


# -- routing -----------------------------------------------------------------------------


def _route(method: str, raw_path: str, headers: dict[str, str], raw_body: bytes) -> _Answer:
    parts = urlsplit(raw_path)
    path = parts.path.rstrip("/")
    query = parse_qs(parts.query)
    if method in ("GET", "HEAD"):
        return _json({"ok": True})
    if method != "POST":
        return _error(404, f"no route for {method} {parts.path}", "not_found_error")
    handler = _post_handler(path)
    if handler is None:
        return _error(404, f"no route for POST {parts.path}", "not_found_error")
    try:
        body = json.loads(raw_body or b"{}")
    except ValueError:
        return _error(400, "the request body is not valid JSON")
    if not isinstance(body, dict):
        return _error(400, "the request body must be a JSON object")
    # Ids hash the JSON's meaning, not its spelling, so clients that serialise
    # differently get the same ids; the query is left out because it carries
    # stand-in switches (gzip=1) and keys, which must not change the answer.
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    call = _Call(path, query, headers, body, _digest(method, path, canonical))
    return handler(call)


def _post_handler(path: str) -> Callable[[_Call], _Answer] | None:
    last = path.rsplit("/", 1)[-1]
    if path.endswith("/chat/completions"):
        return _openai_chat
    if path.endswith("/responses"):
        return _openai_responses
    if path.endswith("/embeddings"):
        return _openai_embeddings
    if path.endswith("/messages"):
        return _anthropic_messages
    if last.endswith(":generateContent"):
        return _gemini_generate
    if last.endswith(":streamGenerateContent"):
        return _gemini_stream
    if path.endswith("/api/chat"):
        return _ollama_chat
    return None


# -- what to say -----------------------------------------------------------------------


def _texts(value: Any) -> list[str]:
    """Every text in a message structure of any of the providers' shapes."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [text for item in value for text in _texts(item)]
    if isinstance(value, dict):
        if isinstance(value.get("text"), str):
            return [value["text"]]
        for key in ("content", "parts"):
            if key in value:
                return _texts(value[key])
    return []


def _last_user_text(messages: Any) -> str:
    if isinstance(messages, str):
        return messages
    if not isinstance(messages, list):
        return ""
    for message in reversed(messages):
        if isinstance(message, str):
            return message
        if isinstance(message, dict) and message.get("role", "user") == "user":
            texts = _texts(message)
            if texts:
                return " ".join(texts)
    return ""


def _words(texts: list[str]) -> int:
    return sum(len(text.split()) for text in texts)


@dataclass(frozen=True)
class _Reply:
    """The answer text and its token counts."""

    text: str
    input_tokens: int
    output_tokens: int

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


def _reply(call: _Call, all_texts: list[str], last_user: str) -> _Reply:
    prompt = " ".join(last_user.split())
    text = f"Echo: {prompt}"[:ANSWER_LIMIT].rstrip() if prompt else FALLBACK_ANSWER
    if call.headers.get("x-standin-echo-key") == "1":
        text += " key=" + _credential(call)
    return _Reply(text, _words(all_texts) + 3, max(1, len(text.split())))


def _credential(call: _Call) -> str:
    for name in ("authorization", "x-api-key", "x-goog-api-key"):
        if call.headers.get(name):
            return call.headers[name]
    return (call.query.get("key") or [""])[0]


def _pieces(text: str) -> list[str]:
    """Split an answer into at least three stream deltas that join back to it."""
    words = re.findall(r"\S+\s*", text)
    if len(words) >= 3:
        return words
    third = max(1, -(-len(text) // 3))
    return [text[i : i + third] for i in range(0, len(text), third)]


# -- OpenAI --------------------------------------------------------------------------------


def _openai_chat(call: _Call) -> _Answer:
    messages = call.body.get("messages")
    reply = _reply(call, _texts(messages), _last_user_text(messages))
    # Like a real model, call a tool when offered one, and answer once its result is in.
    answered = isinstance(messages, list) and bool(messages) and _role(messages[-1]) == "tool"
    tool = None if answered else _first_tool_name(call.body.get("tools"))
    ident = "chatcmpl-" + call.digest[:24]
    model = call.model()
    usage = {
        "prompt_tokens": reply.input_tokens,
        "completion_tokens": reply.output_tokens if tool is None else 2,
        "total_tokens": reply.input_tokens + (reply.output_tokens if tool is None else 2),
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }
    tool_call = {
        "id": "call_" + call.digest[:24],
        "type": "function",
        "function": {"name": tool, "arguments": "{}"},
    }
    head = {"id": ident, "object": "chat.completion", "created": call.created, "model": model}
    if not call.wants_stream():
        n = call.body.get("n")
        count = n if isinstance(n, int) and 1 <= n <= 8 else 1
        message: JsonObject = {
            "role": "assistant",
            "content": reply.text if tool is None else None,
            "refusal": None,
            "annotations": [],
        }
        if tool is not None:
            message["tool_calls"] = [tool_call]
        choices = [
            {
                "index": index,
                "message": message,
                "logprobs": None,
                "finish_reason": "stop" if tool is None else "tool_calls",
            }
            for index in range(count)
        ]
        return _json(
            {
                **head,
                "choices": choices,
                "usage": usage,
                "service_tier": "default",
                "system_fingerprint": "fp_standin",
            }
        )

    options = call.body.get("stream_options")
    with_usage = isinstance(options, dict) and options.get("include_usage") is True
    base: JsonObject = {**head, "object": "chat.completion.chunk"}
    base["service_tier"] = "default"
    base["system_fingerprint"] = "fp_standin"

    def chunk(delta: JsonObject, finish: str | None = None) -> bytes:
        payload: JsonObject = {
            **base,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
        if with_usage:
            payload["usage"] = None
        return _data_event(payload)

    if tool is None:
        deltas: list[JsonObject] = [{"role": "assistant", "content": "", "refusal": None}]
        deltas += [{"content": piece} for piece in _pieces(reply.text)]
        finish = "stop"
    else:
        opening = {**tool_call, "index": 0, "function": {"name": tool, "arguments": ""}}
        deltas = [
            {"role": "assistant", "content": None, "tool_calls": [opening]},
            {"tool_calls": [{"index": 0, "function": {"arguments": "{"}}]},
            {"tool_calls": [{"index": 0, "function": {"arguments": "}"}}]},
        ]
        finish = "tool_calls"
    events = [chunk(delta) for delta in deltas]
    events.append(chunk({}, finish))
    if with_usage:
        events.append(_data_event({**base, "choices": [], "usage": usage}))
    events.append(b"data: [DONE]\n\n")
    return _stream(events)


def _role(message: Any) -> str | None:
    return message.get("role") if isinstance(message, dict) else None


def _first_tool_name(tools: Any) -> str | None:
    if not isinstance(tools, list) or not tools:
        return None
    first = tools[0]
    if isinstance(first, dict):
        function = first.get("function")
        if isinstance(function, dict) and isinstance(function.get("name"), str):
            return str(function["name"])
        if isinstance(first.get("name"), str):
            return str(first["name"])
    return "tool"


def _openai_responses(call: _Call) -> _Answer:
    given = call.body.get("input")
    instructions = call.body.get("instructions")
    texts = _texts(given) + (_texts(instructions) if isinstance(instructions, str) else [])
    reply = _reply(call, texts, _last_user_text(given))
    ident = "resp_" + call.digest[:32]
    item_id = "msg_" + call.digest[32:64]
    part = {"type": "output_text", "text": reply.text, "annotations": [], "logprobs": []}
    item = {
        "id": item_id,
        "type": "message",
        "status": "completed",
        "content": [part],
        "role": "assistant",
    }
    usage = {
        "input_tokens": reply.input_tokens,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": reply.output_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": reply.total_tokens,
    }

    def response(status: str, output: list[JsonObject], with_usage: bool) -> JsonObject:
        return {
            "id": ident,
            "object": "response",
            "created_at": call.created,
            "status": status,
            "background": False,
            "error": None,
            "incomplete_details": None,
            "instructions": instructions if isinstance(instructions, str) else None,
            "max_output_tokens": None,
            "model": call.model(),
            "output": output,
            "parallel_tool_calls": True,
            "previous_response_id": None,
            "reasoning": {"effort": None, "summary": None},
            "service_tier": "default",
            "store": True,
            "temperature": 1.0,
            "text": {"format": {"type": "text"}, "verbosity": "medium"},
            "tool_choice": "auto",
            "tools": [],
            "top_p": 1.0,
            "truncation": "disabled",
            "usage": usage if with_usage else None,
            "user": None,
            "metadata": {},
        }

    if not call.wants_stream():
        return _json(response("completed", [item], True))

    where = {"item_id": item_id, "output_index": 0, "content_index": 0}
    empty_part = {**part, "text": ""}
    steps: list[tuple[str, JsonObject]] = [
        ("response.created", {"response": response("in_progress", [], False)}),
        ("response.in_progress", {"response": response("in_progress", [], False)}),
        (
            "response.output_item.added",
            {
                "output_index": 0,
                "item": {**item, "status": "in_progress", "content": []},
            },
        ),
        ("response.content_part.added", {**where, "part": empty_part}),
    ]
    steps += [
        ("response.output_text.delta", {**where, "delta": piece, "logprobs": []})
        for piece in _pieces(reply.text)
    ]
    steps += [
        ("response.output_text.done", {**where, "text": reply.text, "logprobs": []}),
        ("response.content_part.done", {**where, "part": part}),
        ("response.output_item.done", {"output_index": 0, "item": item}),
        ("response.completed", {"response": response("completed", [item], True)}),
    ]
    events = [
        _named_event(name, {"type": name, "sequence_number": number, **payload})
        for number, (name, payload) in enumerate(steps)
    ]
    return _stream(events)


def _openai_embeddings(call: _Call) -> _Answer:
    given = call.body.get("input")
    inputs: list[Any] = given if isinstance(given, list) else [given]
    # A list of token ids is one input, not many.
    if inputs and all(isinstance(token, int) for token in inputs):
        inputs = [inputs]
    as_base64 = call.body.get("encoding_format") == "base64"
    data = []
    for index, value in enumerate(inputs):
        text = value if isinstance(value, str) else json.dumps(value)
        vector = _embedding(text)
        embedding: Any = vector
        if as_base64:
            packed = struct.pack(f"<{len(vector)}f", *vector)
            embedding = base64.b64encode(packed).decode()
        data.append({"object": "embedding", "index": index, "embedding": embedding})
    tokens = sum(max(1, len(str(value).split())) for value in inputs)
    return _json(
        {
            "object": "list",
            "data": data,
            "model": call.model("text-embedding-3-small"),
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
    )


def _embedding(text: str) -> list[float]:
    """Eight values in [-1, 1) from the text's hash, exact in float32 too."""
    digest = hashlib.sha256(text.encode()).digest()
    return [(byte - 128) / 128 for byte in digest[:EMBEDDING_DIMENSIONS]]


# -- Anthropic -----------------------------------------------------------------------------


def _anthropic_messages(call: _Call) -> _Answer:
    messages = call.body.get("messages")
    reply = _reply(
        call, _texts(call.body.get("system")) + _texts(messages), _last_user_text(messages)
    )
    tool = _first_tool_name(call.body.get("tools"))
    ident = "msg_" + call.digest[:24]
    block: JsonObject
    if tool is None:
        block = {"type": "text", "text": reply.text}
        stop_reason = "end_turn"
        output_tokens = reply.output_tokens
    else:
        block = {"type": "tool_use", "id": "toolu_" + call.digest[:24], "name": tool, "input": {}}
        stop_reason = "tool_use"
        output_tokens = 2

    def message(content: list[JsonObject], stop: str | None, output: int) -> JsonObject:
        return {
            "id": ident,
            "type": "message",
            "role": "assistant",
            "model": call.model(),
            "content": content,
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": {
                "input_tokens": reply.input_tokens,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
                "output_tokens": output,
                "service_tier": "standard",
            },
        }

    if not call.wants_stream():
        return _json(message([block], stop_reason, output_tokens))

    steps: list[tuple[str, JsonObject]] = [
        ("message_start", {"message": message([], None, 1)}),
    ]
    if tool is None:
        steps.append(("content_block_start", {"index": 0, "content_block": {**block, "text": ""}}))
        steps.append(("ping", {}))
        steps += [
            ("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": piece}})
            for piece in _pieces(reply.text)
        ]
    else:
        steps.append(("content_block_start", {"index": 0, "content_block": block}))
        steps.append(("ping", {}))
        steps += [
            (
                "content_block_delta",
                {"index": 0, "delta": {"type": "input_json_delta", "partial_json": piece}},
            )
            for piece in ("", "{", "}")
        ]
    steps += [
        ("content_block_stop", {"index": 0}),
        (
            "message_delta",
            {
                "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                "usage": {"output_tokens": output_tokens},
            },
        ),
        ("message_stop", {}),
    ]
    events = [_named_event(name, {"type": name, **payload}) for name, payload in steps]
    return _stream(events, "text/event-stream; charset=utf-8")


# -- Gemini --------------------------------------------------------------------------------


def _gemini_reply(call: _Call) -> tuple[_Reply, str]:
    contents = call.body.get("contents")
    system = call.body.get("systemInstruction") or call.body.get("system_instruction")
    reply = _reply(call, _texts(system) + _texts(contents), _last_user_text(contents))
    name = call.path.rsplit("/", 1)[-1].split(":", 1)[0]
    return reply, name or "gemini-standin"


def _gemini_chunk(
    reply: _Reply, model: str, ident: str, text: str, produced: int, finish: bool
) -> JsonObject:
    candidate: JsonObject = {"content": {"parts": [{"text": text}], "role": "model"}}
    if finish:
        candidate["finishReason"] = "STOP"
    candidate["index"] = 0
    return {
        "candidates": [candidate],
        "usageMetadata": {
            "promptTokenCount": reply.input_tokens,
            "candidatesTokenCount": produced,
            "totalTokenCount": reply.input_tokens + produced,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": reply.input_tokens}],
        },
        "modelVersion": model,
        "responseId": ident,
    }


def _gemini_generate(call: _Call) -> _Answer:
    reply, model = _gemini_reply(call)
    ident = call.digest[:22]
    return _json(_gemini_chunk(reply, model, ident, reply.text, reply.output_tokens, True))


def _gemini_stream(call: _Call) -> _Answer:
    reply, model = _gemini_reply(call)
    ident = call.digest[:22]
    pieces = _pieces(reply.text)
    chunks: list[JsonObject] = []
    for number, piece in enumerate(pieces, start=1):
        # Running totals, as Gemini sends them: the last chunk carries the full count.
        produced = max(1, len("".join(pieces[:number]).split()))
        chunks.append(_gemini_chunk(reply, model, ident, piece, produced, number == len(pieces)))
    if (call.query.get("alt") or [""])[0] != "sse":
        return _json(chunks)  # without alt=sse Gemini answers one JSON array
    return _stream([b"data: " + _dump(chunk) + b"\r\n\r\n" for chunk in chunks])


# -- Ollama --------------------------------------------------------------------------------


def _ollama_chat(call: _Call) -> _Answer:
    messages = call.body.get("messages")
    reply = _reply(call, _texts(messages), _last_user_text(messages))
    done: JsonObject = {
        "model": call.model(),
        "created_at": "2024-01-01T00:00:00Z",
        "message": {"role": "assistant", "content": reply.text},
        "done_reason": "stop",
        "done": True,
        "total_duration": 0,
        "prompt_eval_count": reply.input_tokens,
        "eval_count": reply.output_tokens,
    }
    if not call.wants_stream():
        return _json(done)
    lines = [
        _dump(
            {
                "model": done["model"],
                "created_at": done["created_at"],
                "message": {"role": "assistant", "content": piece},
                "done": False,
            }
        )
        + b"\n"
        for piece in _pieces(reply.text)
    ]
    final = {**done, "message": {"role": "assistant", "content": ""}}
    lines.append(_dump(final) + b"\n")
    return _stream(lines, "application/x-ndjson")


# -- encoding helpers -------------------------------------------------------------------------


def _digest(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + body).hexdigest()


def _dump(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode()


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _json(value: Any, status: int = 200) -> _Answer:
    return _Answer(status, _dump(value))


def _error(status: int, message: str, kind: str = "invalid_request_error") -> _Answer:
    return _json({"error": {"message": message, "type": kind, "code": None}}, status)


def _stream(events: list[bytes], content_type: str = "text/event-stream") -> _Answer:
    return _Answer(content_type=content_type, events=tuple(events))


def _data_event(payload: Any) -> bytes:
    return b"data: " + _dump(payload) + b"\n\n"


def _named_event(name: str, payload: Any) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + _dump(payload) + b"\n\n"


class _Encoder:
    """Compresses a body piece by piece, each piece decodable on arrival, as servers stream.

    gzip from the standard library; br and zstd with the packages httpx decodes
    them with, imported only when a test asks for them.
    """

    def __init__(self, coding: str) -> None:
        self.coding = coding
        if coding == "gzip":
            self._zlib = zlib.compressobj(wbits=31)
        elif coding == "br":
            import brotli  # type: ignore[import-untyped]

            self._brotli = brotli.Compressor()
        elif coding == "zstd":
            from backports import zstd

            self._zstd = zstd.ZstdCompressor()
        else:
            raise ValueError(f"the stand-in does not speak {coding!r}")

    def piece(self, data: bytes) -> bytes:
        if self.coding == "gzip":
            return self._zlib.compress(data) + self._zlib.flush(zlib.Z_SYNC_FLUSH)
        if self.coding == "br":
            return bytes(self._brotli.process(data) + self._brotli.flush())
        return bytes(self._zstd.compress(data, mode=self._zstd.FLUSH_BLOCK))

    def end(self) -> bytes:
        if self.coding == "gzip":
            return self._zlib.flush()
        if self.coding == "br":
            return bytes(self._brotli.finish())
        return bytes(self._zstd.flush(mode=self._zstd.FLUSH_FRAME))


def _encoder(raw_path: str, headers: Mapping[str, str]) -> _Encoder | None:
    """The coding asked for (``gzip=1``, ``x-standin-gzip: 1``, ``x-standin-encoding: br``)
    and accepted by the client; None for a plain answer."""
    coding = headers.get("x-standin-encoding", "").strip().lower()
    if not coding:
        asked = parse_qs(urlsplit(raw_path).query).get("gzip", [""])[0] == "1"
        coding = "gzip" if asked or headers.get("x-standin-gzip") == "1" else ""
    accepted = {c.split(";")[0].strip() for c in headers.get("accept-encoding", "").split(",")}
    return _Encoder(coding) if coding and coding in accepted else None


# -- command line -------------------------------------------------------------------------------


def _write_port_file(path: Path, url: str) -> None:
    """Write atomically, so a reader polling for the file never sees half a URL."""
    partial = path.with_name(path.name + f".{os.getpid()}.tmp")
    partial.write_text(url + "\n")
    os.replace(partial, path)


def _wait_for_signal() -> None:
    """Block until SIGTERM or SIGINT, then put the previous handlers back."""
    stop = threading.Event()

    def on_signal(number: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {
        number: signal.signal(number, on_signal) for number in (signal.SIGTERM, signal.SIGINT)
    }
    try:
        while not stop.wait(0.2):  # a timed wait lets the signal handler run promptly
            pass
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def main(argv: list[str] | None = None) -> int:
    """Serve in the foreground until SIGTERM or SIGINT; for demos and other processes."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--port-file", type=Path, help="write the URL here once listening")
    parser.add_argument(
        "--chunk-delay", type=float, default=0.0, help="seconds between two events of a stream"
    )
    options = parser.parse_args(argv)
    standin = StandIn(options.host, options.port, chunk_delay=options.chunk_delay).start()
    if options.port_file is not None:
        _write_port_file(options.port_file, standin.url)
    print(standin.url, flush=True)
    try:
        _wait_for_signal()
    finally:
        standin.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
