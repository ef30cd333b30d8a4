"""One test's interceptor state: decides replay, live or miss for each LLM call.

This is the narrow boundary every client adapter talks to: an adapter turns
its library's request into an :class:`HttpRequest`, asks :meth:`TestRecorder.begin`
and either replays ``exchange.replay`` or sends the request live and feeds the
answer back into the :class:`Exchange` as it streams past.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import functools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_llmbudget.classify import Classification, classify
from pytest_llmbudget.errors import CassetteMiss
from pytest_llmbudget.recording import scrub
from pytest_llmbudget.recording.canonical import RequestKey
from pytest_llmbudget.recording.completeness import is_whole
from pytest_llmbudget.recording.content_coding import decode
from pytest_llmbudget.recording.matching import Live, Matching
from pytest_llmbudget.recording.modes import RecordMode
from pytest_llmbudget.records import CallRecord
from pytest_llmbudget.vcrcompat import bridge

if TYPE_CHECKING:
    from pytest_llmbudget.accounting import UsageNote
    from pytest_llmbudget.budget import RunGate, TestGate

    # The cassette module loads YAML: imported on the first LLM call, not at plugin load.
    from pytest_llmbudget.recording.cassette import Cassette, StoredResponse
    from pytest_llmbudget.recording.cassette_setup import CassetteSetup
    from pytest_llmbudget.recording.locks import CassetteLock
    from pytest_llmbudget.recording.playback import CassetteUse

Headers = list[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """A request as every client library's adapter describes it."""

    method: str
    url: str
    headers: Headers
    body: bytes


@dataclass(frozen=True, slots=True)
class HttpResponse:
    """A response as the accounting hooks see it (body decoded)."""

    status: int
    headers: Headers
    body: bytes


def builtin_classifier(
    extra_hosts: frozenset[str],
) -> Callable[[HttpRequest], Classification | None]:
    def classify_request(request: HttpRequest) -> Classification | None:
        return classify(request.url, extra_hosts)

    return classify_request


@dataclass(frozen=True, slots=True)
class RecorderConfig:
    """The run-wide settings a recorder needs; resolved once per session."""

    mode: RecordMode
    scrubber: scrub.Scrubber
    match_ignore: tuple[str, ...] = ()
    match_ignore_url: tuple[str, ...] = ()
    record_errors: bool = False
    # How a new cassette is written: "json" (JSON-formatted YAML) or "yaml" (block YAML).
    cassette_style: str = "json"
    extra_hosts: frozenset[str] = frozenset()
    rootdir: Path = Path()
    # Decides what is an LLM call; the plugin routes it through the classify hook.
    classifier: Callable[[HttpRequest], Classification | None] | None = None
    run_gate: RunGate | None = None
    # Tests of one run that share a cassette add to it, whatever the mode; see _open.
    run_id: str = ""


def _text_or_bytes(body: bytes) -> str | bytes:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return body


def header_map(headers: Headers) -> dict[str, list[str]]:
    mapping: dict[str, list[str]] = {}
    for name, value in headers:
        mapping.setdefault(name, []).append(value)
    return mapping


def _plain_http(url: str) -> Classification:
    """A request that is no LLM call, in a test that records all its HTTP traffic."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return Classification("http", "http", (parts.hostname or "").lower(), parts.path or "/", False)


def _drop_body(interaction: dict[str, Any]) -> None:
    """Forget a replayed answer's body when the cassette will not be saved again.

    Each recording plays once per run (unless the suite allows repeats), and
    the call's record keeps the body it was replayed with: holding the
    cassette's copy too doubled the memory a large cassette takes while its
    test runs. The dict is replaced, not changed.
    """
    response = interaction.get("response")
    if isinstance(response, dict):
        kept = {k: v for k, v in response.items() if k not in ("body", "parsed_body")}
        interaction["response"] = kept


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class Exchange:
    """One LLM call in flight: either a replay, or a live answer being captured."""

    __slots__ = (
        "_chunks",
        "_done",
        "_headers",
        "_reason",
        "_recorder",
        "_started",
        "_status",
        "classification",
        "key",
        "replay",
        "request",
        "secrets",
        "stored",
    )

    def __init__(
        self,
        recorder: TestRecorder,
        request: HttpRequest,
        classification: Classification,
        key: RequestKey,
        secrets: list[str],
        replay: StoredResponse | None,
    ) -> None:
        self._recorder = recorder
        self.request = request
        self.classification = classification
        self.key = key
        self.secrets = secrets
        self.replay = replay
        # The request as the cassette keeps it (a suite's vcrpy filters applied);
        # None: the suite's filters keep it out of the cassette.
        self.stored: HttpRequest | None = request
        self._started = time.perf_counter()
        self._status: int | None = None
        self._reason = ""
        self._headers: Headers = []
        self._chunks: list[bytes] = []
        self._done = replay is not None

    @property
    def answered(self) -> bool:
        return self._status is not None

    def respond(self, status: int, reason: str, headers: Headers) -> None:
        """The live response's head has arrived."""
        self._status = status
        self._reason = reason
        self._headers = headers

    def feed(self, chunk: bytes) -> None:
        """A piece of the live body went past on its way to the client."""
        self._chunks.append(chunk)

    def complete(self, *, truncated: bool = False, decoded: bool = False) -> None:
        """The live body is done (or the client stopped reading): record it once."""
        if self._done or self._status is None:
            return
        self._done = True
        self._recorder._record_live(self, truncated=truncated, decoded=decoded)

    def abort(self) -> None:
        """The call failed before an answer: nothing to record."""
        self._done = True
        self._recorder._forget(self)

    def elapsed(self) -> float:
        return time.perf_counter() - self._started

    def body(self) -> bytes:
        return b"".join(self._chunks)


class TestRecorder:
    """Recording state of one test item; thread-safe."""

    __test__ = False  # not a test class, whatever pytest thinks of the name

    _cassette_path: Path | Callable[[], Path]

    @property
    def cassette_path(self) -> Path:
        path = self._cassette_path
        if isinstance(path, Path):
            return path
        named = self._cassette_path = path()
        return named

    def __init__(
        self,
        config: RecorderConfig,
        *,
        nodeid: str,
        cassette_path: Path | Callable[[], Path],
        # Accounts a call, given a replay's usage note; returns one worth keeping, if any.
        on_call: Callable[[CallRecord, UsageNote | None], UsageNote | None],
        test_gate: TestGate | None = None,
        setup: CassetteSetup | None = None,
    ) -> None:
        self.config = config
        self.nodeid = nodeid
        self.setup = setup
        self.mode = setup.mode if setup is not None and setup.mode is not None else config.mode
        from pytest_llmbudget.recording.scrub import QUERY_PARAMS

        base = setup.matching if setup is not None and setup.matching is not None else Matching()
        self.matching = dataclasses.replace(
            base,
            body_ignore=config.match_ignore,
            url_ignore=config.match_ignore_url,
            foreign=True,
            secret_params=QUERY_PARAMS,
        )
        if setup is not None:
            cassette_path = setup.path
        # A callable is asked on first use: most tests make no LLM call, and
        # naming a cassette (markers, sanitising) is work every test would pay.
        self._cassette_path = cassette_path
        self._on_call = on_call
        self.test_gate = test_gate
        self._lock = threading.Lock()
        self._cassette: Cassette | None = None
        self._extras: list[Cassette] = []
        self._writer_lock: CassetteLock | None = None
        self._closed = False
        self._passed = True
        self._closed_use: CassetteUse | None = None
        self._may_record: bool = self.mode is not RecordMode.NONE
        self._pending: set[Exchange] = set()
        self._classifier = config.classifier or builtin_classifier(config.extra_hosts)
        self.records: list[CallRecord] = []
        # Replays whose request differs from its recording (another tool's, matched loosely).
        self.drift: list[dict[str, Any]] = []
        self.drift_text: list[str] = []
        self.appended = 0  # interactions this test added to a cassette that existed
        self.appended_entry: dict[str, Any] | None = None

    # -- cassette ---------------------------------------------------------

    def _open(self) -> Cassette:
        __tracebackhide__ = True
        if self._cassette is None:
            from pytest_llmbudget.recording.cassette import Cassette

            mode = self.mode
            # Written by an earlier test of this run (tests sharing a cassette):
            # then "rewrite" adds to it rather than starting over, and "once"
            # records into it, as the first of those tests did.
            ours = mode is not RecordMode.NONE and self._written_this_run()
            serializer = self.setup.serializer if self.setup is not None else None
            persister = self.setup.persister if self.setup is not None else None
            from pytest_llmbudget.recording.parsed_cache import ParsedCache

            cache = ParsedCache.under(self.config.rootdir)
            if mode is RecordMode.REWRITE and not ours:
                self._cassette = Cassette(
                    self.cassette_path,
                    matching=self.matching,
                    serializer=serializer,
                    persister=persister,
                    style=self.config.cassette_style,
                )
            else:
                self._cassette = Cassette.load(
                    self.cassette_path,
                    cache=cache,
                    matching=self.matching,
                    serializer=serializer,
                    persister=persister,
                    style=self.config.cassette_style,
                )
                if mode is RecordMode.ONCE and self._cassette.existed and not ours:
                    self._may_record = False
            for extra in self.setup.extra if self.setup is not None else ():
                if extra != self.cassette_path:
                    self._extras.append(
                        Cassette.load(
                            extra,
                            cache=cache,
                            matching=self.matching,
                            serializer=serializer,
                            persister=persister,
                        )
                    )
        return self._cassette

    def cassettes(self) -> list[Cassette]:
        """The test's cassette and the extra ones it replays from, opened."""
        with self._lock:
            return [self._open(), *self._extras]

    @property
    def may_record(self) -> bool:
        with self._lock:
            self._open()
            return self._may_record

    def _take(self, key: RequestKey, live: Live) -> tuple[Cassette, int, dict[str, Any]] | None:
        """The test's own cassette first, then the extra ones, as pytest-recording plays them."""
        for cassette in (self._open(), *self._extras):
            hit = cassette.take(key, live)
            if hit is not None:
                return cassette, hit[0], hit[1]
        return None

    def _written_this_run(self) -> bool:
        """Take the cassette's writer lock (held until close) and say whether this run wrote it."""
        if self._writer_lock is None:
            from pytest_llmbudget.recording.locks import CassetteLock

            self._writer_lock = CassetteLock(self.cassette_path)
            self._writer_lock.acquire()  # released in close(), after the save
        return bool(self.config.run_id) and self._writer_lock.written_in(self.config.run_id)

    def _relative(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.config.rootdir))
        except ValueError:
            return str(path)

    @functools.cached_property
    def _cassette_name(self) -> str:
        """The cassette as reports name it: once per test, not once per call."""
        return self._relative(self.cassette_path)

    # -- the boundary -----------------------------------------------------

    def classify(self, method: str, url: str, headers: Headers) -> Classification | None:
        """None when the request is not an LLM call, or vcrpy answers it (see vcrcompat/bridge.py):
        the adapter sends it untouched."""
        if bridge.in_use():
            return None
        classification = self._classifier(HttpRequest(method, url, headers, b""))
        if classification is None and self.setup is not None and self.setup.all_http:
            return _plain_http(url)
        return classification

    # -- calls vcrpy answers (pytest-recording active) -------------------------

    def admit_vcrpy(self, method: str, url: str, headers: Headers, *, live: bool) -> None:
        """vcrpy is about to replay (or, ``live``, send) a request: our limits still hold."""
        __tracebackhide__ = True
        classification = self._classifier(HttpRequest(method, url, headers, b""))
        if classification is None:
            return
        if self.test_gate is not None:
            self.test_gate.admit(method.upper(), classification.endpoint)
        if live and self.config.run_gate is not None:
            self.config.run_gate.admit_live(self.nodeid)

    def account_vcrpy(
        self,
        method: str,
        url: str,
        headers: Headers,
        body: bytes,
        response: dict[str, Any],
        *,
        live: bool,
        path: str,
    ) -> None:
        """vcrpy replayed (or recorded) an answer: count and price it from vcrpy's copy."""
        request = HttpRequest(method, url, headers, body)
        classification = self._classifier(request)
        if classification is None:
            return
        from pytest_llmbudget.recording.cassette import response_of

        answer = response_of({"response": response})
        secrets = self.config.scrubber.secrets_of(url, headers)
        exchange = Exchange(self, request, classification, ("", "", ""), secrets, answer)
        cassette = self._relative(Path(path)) if path else None
        self._emit(
            exchange, answer.status, answer.body, answer.headers, {}, live, cassette=cassette
        )

    def begin(self, request: HttpRequest, classification: Classification) -> Exchange:
        """Decide an LLM call's fate: replay, live (and record), or CassetteMiss."""
        __tracebackhide__ = True  # the user's call is the frame that matters
        counted = classification.counted
        if self.test_gate is not None and counted:
            self.test_gate.admit(request.method.upper(), classification.endpoint)
        scrubber = self.config.scrubber
        secrets = scrubber.secrets_of(request.url, request.headers)
        stored = request
        if self.setup is not None and self.setup.request_filter is not None:
            filtered = self.setup.request_filter(request)
            if filtered is None:  # the suite keeps it out of its cassettes: live, unrecorded
                return self._unrecorded(request, classification, secrets)
            stored = filtered
        url = scrubber.url(stored.url, secrets)
        body = scrub.data(stored.body, secrets)
        headers = stored.headers
        if self.matching.needs_headers:
            headers = scrubber.headers(headers, scrubber.request_headers, secrets)
        live = Live(stored.method.upper(), url, body, headers)
        with self._lock:
            known = self._open().known_body(body)
            key = self.matching.strict_key(stored.method, url, body, canonical=known)
            hit = self._take(key, live)
            if hit is None and not self._may_record:
                raise self._miss(request, live, scrubber.url(request.url, secrets), secrets)
        if hit is not None:
            from pytest_llmbudget.recording.cassette import response_of

            cassette, position, interaction = hit
            # A recording with the very key of the request is no drift: no diff to compute.
            if (
                counted
                and cassette.matching.is_loose(interaction)
                and cassette.key_at(position) != key
            ):
                self._check_drift(cassette, position, interaction, live)
            replay = response_of(interaction)
            # (A vcr-marked test's cassette is what its vcr fixture reads: kept whole.)
            if not self._may_record and not self.matching.repeats and self.setup is None:
                _drop_body(interaction)
            exchange = Exchange(self, request, classification, key, secrets, replay)
            self._emit(
                exchange,
                replay.status,
                replay.body,
                replay.headers,
                interaction,
                False,
                source=(cassette, position),
                # The request as sent, scrubbed already: unless a filter changed what is stored.
                url=url if stored is request else None,
            )
            return exchange
        if self.config.run_gate is not None and counted:
            self.config.run_gate.admit_live(self.nodeid)
        exchange = Exchange(self, request, classification, key, secrets, None)
        exchange.stored = stored
        with self._lock:
            self._pending.add(exchange)
        return exchange

    def _unrecorded(
        self, request: HttpRequest, classification: Classification, secrets: list[str]
    ) -> Exchange:
        """A call the suite's vcrpy filters keep out of its cassettes: live, counted, budgeted."""
        if self.config.run_gate is not None and classification.counted:
            self.config.run_gate.admit_live(self.nodeid)
        exchange = Exchange(self, request, classification, ("", "", ""), secrets, None)
        exchange.stored = None
        with self._lock:
            self._pending.add(exchange)
        return exchange

    def _miss(
        self, request: HttpRequest, live: Live, shown_url: str, secrets: list[str]
    ) -> CassetteMiss:
        from pytest_llmbudget.recording.explain import closest

        # The diff lands in a CI log: its live headers redacted as the recording's were,
        # so no credential is shown, and a redacted header is no difference.
        scrubber = self.config.scrubber
        shown = live._replace(
            headers=scrubber.headers(live.headers, scrubber.request_headers, secrets)
        )
        if self.setup is not None and self.setup.mode is not None:
            source = f"record_mode from {self.setup.source}"
        else:
            source = "--llm-record"
        return CassetteMiss(
            request=f"{request.method} {shown_url}",
            cassette=Path(self._relative(self.cassette_path)),
            mode=self.mode.value,
            command=f"pytest --llm-record=new '{self.nodeid}'",
            closest=tuple(closest([self._open(), *self._extras], shown)),
            mode_source=source,
        )

    def _check_drift(
        self, cassette: Cassette, position: int, interaction: dict[str, Any], live: Live
    ) -> None:
        """A recording matched the loose way replayed for a request that differs from it."""
        from pytest_llmbudget.recording.explain import body_changes

        changes = body_changes(live, interaction["request"], self.matching)
        if changes:
            self.drift.append(
                {
                    "nodeid": self.nodeid,
                    "cassette": self._relative(cassette.path),
                    "interaction": position + 1,
                    "request": f"{live.method} {live.uri}",
                    "changes": [change.as_json() for change in changes],
                }
            )
            from pytest_llmbudget.json_diff import describe

            self.drift_text.append(
                f"{live.method} {live.uri} replayed interaction {position + 1} of "
                f"{self._relative(cassette.path)}, recorded for another request:"
            )
            self.drift_text.extend(describe(changes, indent="  ", limit=5))

    # -- recording ----------------------------------------------------------

    def _forget(self, exchange: Exchange) -> None:
        with self._lock:
            self._pending.discard(exchange)

    def _record_live(self, exchange: Exchange, *, truncated: bool, decoded: bool) -> None:
        status = exchange._status or 0
        headers = exchange._headers
        body = exchange.body()
        sent_size = None if decoded else len(body)  # bytes as they came, before any decoding
        encoding = next((v for k, v in headers if k.lower() == "content-encoding"), "")
        if encoding and not decoded:
            plain = decode(body, encoding)
            if plain is not None:
                body, decoded = plain, True
        if truncated and is_whole(headers, body, sent_size=sent_size):
            truncated = False  # the client stopped at the stream's own end marker
        if decoded:
            headers = [
                (k, str(len(body)) if k.lower() == "content-length" else v)
                for k, v in headers
                if k.lower() != "content-encoding"
            ]
        interaction = self._interaction(exchange, status, headers, body, truncated)
        kept = exchange.stored is not None and self._filtered_response(interaction)
        with self._lock:
            self._pending.discard(exchange)
            # An error answer is kept out (a stale quota error must not replay), unless asked,
            # or the request is no LLM call: then it is recorded as vcrpy would.
            recordable = status < 400 or self.config.record_errors
            if kept and (recordable or not exchange.classification.counted):
                cassette = self._open()
                cassette.append(interaction)
                if cassette.existed:
                    self.appended += 1
        self._emit(exchange, status, body, headers, interaction, True, truncated=truncated)

    def _filtered_response(self, interaction: dict[str, Any]) -> bool:
        """The suite's ``before_record_response``, on the answer as vcrpy hands it (bytes)."""
        if self.setup is None or self.setup.response_filter is None:
            return True
        response = dict(interaction["response"])
        string = response["body"]["string"]
        raw = (
            string.encode("utf-8", errors="surrogateescape") if isinstance(string, str) else string
        )
        response["body"] = {"string": raw}
        filtered = self.setup.response_filter(response)
        if filtered is None:
            return False
        body = filtered.get("body")
        if isinstance(body, dict) and isinstance(body.get("string"), bytes):
            filtered = {**filtered, "body": {"string": _text_or_bytes(body["string"])}}
        interaction["response"] = filtered
        return True

    def _interaction(
        self, exchange: Exchange, status: int, headers: Headers, body: bytes, truncated: bool
    ) -> dict[str, Any]:
        scrubber, secrets = self.config.scrubber, exchange.secrets
        request = exchange.stored or exchange.request
        interaction: dict[str, Any] = {
            "request": {
                "body": _text_or_bytes(scrub.data(request.body, secrets)) if request.body else None,
                "headers": header_map(
                    scrubber.headers(request.headers, scrubber.request_headers, secrets)
                ),
                "method": request.method.upper(),
                "uri": scrubber.url(request.url, secrets),
            },
            "response": {
                "body": {"string": _text_or_bytes(scrub.data(body, secrets))},
                "headers": header_map(
                    scrubber.headers(headers, scrubber.response_headers, secrets)
                ),
                "status": {"code": status, "message": exchange._reason},
            },
            "recorded_at": _now(),
            "duration_s": round(exchange.elapsed(), 3),
        }
        if truncated:
            interaction["truncated"] = True
        return interaction

    def _emit(
        self,
        exchange: Exchange,
        status: int,
        body: bytes,
        headers: Headers,
        interaction: dict[str, Any],
        live: bool,
        *,
        truncated: bool = False,
        cassette: str | None = None,
        source: tuple[Cassette, int] | None = None,
        url: str | None = None,
    ) -> None:
        """Account a call; ``source``: the cassette and position a replay came from; ``url``:
        the request's, scrubbed, when the caller has it."""
        c = exchange.classification
        if not c.counted:
            return  # no LLM call: replayed or recorded, never counted
        duration = exchange.elapsed() if live else float(interaction.get("duration_s") or 0.0)
        record = CallRecord(
            nodeid=self.nodeid,
            provider=c.provider,
            api=c.api,
            host=c.host,
            endpoint=c.endpoint,
            method=exchange.request.method.upper(),
            url=url or self.config.scrubber.url(exchange.request.url, exchange.secrets),
            live=live,
            status=status,
            duration_s=duration,
            recorded_at=str(interaction.get("recorded_at") or "") or None,
            cassette=cassette or self._cassette_name,
            request_body=exchange.request.body,
            response_body=body,
            response_headers=headers,
            truncated=truncated,
        )
        sent = exchange.request.body
        note = source[0].note_for(source[1], sent) if source is not None else None
        found = self._on_call(record, note)
        with self._lock:
            self.records.append(record)
            if found is not None and source is not None:
                source[0].keep_note(source[1], found, sent)

    # -- end of test --------------------------------------------------------

    def close(self, *, passed: bool = True) -> None:
        """Record streams the test left open, then save the cassette if it changed.

        ``passed``: the test's setup and body passed. Under ``rewrite``, one
        that did not (skipped, failed, errored) keeps its earlier cassette.
        """
        if self._closed:
            return
        self._closed = True
        self._passed = passed
        try:
            with self._lock:
                pending = [exchange for exchange in self._pending if exchange.answered]
            for exchange in pending:
                exchange.complete(truncated=True)
            with self._lock:
                self._save()
                self.appended_entry = self._appended_entry()
                for cassette in (self._cassette, *self._extras):
                    if cassette is not None:
                        cassette.save_notes()
        finally:
            # Whatever failed above (a price hook, the ledger), the next test that
            # records into this cassette must not wait for this one forever.
            if self._writer_lock is not None:
                self._writer_lock.release()
        self._release()

    def _appended_entry(self) -> dict[str, Any] | None:
        """What ``new`` mode added to a cassette that existed, for the run's summary."""
        cassette = self._cassette
        if not self.appended or cassette is None or cassette.dirty:
            return None  # nothing added, or not saved
        loaded = len(cassette) - self.appended
        return {
            "nodeid": self.nodeid,
            "cassette": self._cassette_name,
            "added": self.appended,
            "unplayed": sum(1 for position in range(loaded) if position not in cassette.played),
        }

    def _release(self) -> None:
        """Let the interactions go once saved: every test's recorder lives on in its item
        until the session ends, and would keep every cassette of the run in memory."""
        if self._cassette is None:
            return
        use = self.cassette_use()
        with self._lock:
            self._closed_use = use
            if self._cassette is not None:
                from pytest_llmbudget.recording.cassette import Cassette

                self._cassette = Cassette(self.cassette_path, matching=self.matching)
                self._extras = []

    def _save(self) -> None:
        cassette = self._cassette
        if self.mode is RecordMode.REWRITE and self._keeps_earlier(cassette):
            return
        if self.mode is RecordMode.REWRITE and (cassette is None or not len(cassette)):
            # Never drop what another test of this run just recorded.
            if self.cassette_path.exists() and not self._written_this_run():
                self.cassette_path.unlink(missing_ok=True)
            return
        if cassette is not None and cassette.dirty:
            cassette.save()
            if self._writer_lock is not None and self.config.run_id:
                self._writer_lock.mark_written(self.config.run_id)

    def _keeps_earlier(self, cassette: Cassette | None) -> bool:
        """``rewrite`` leaves the earlier cassette alone when the new one is not a better one.

        That is, when the test did not pass (a skip, a failure before its
        calls, a fixture error: what it recorded, if anything, is not what a
        passing run records), or when it made calls of which none could be
        recorded (error answers). Only a passing test that made no call at
        all drops its cassette: it no longer needs one.
        """
        if not self.cassette_path.exists() or self._written_this_run():
            return False
        if not self._passed:
            return True
        return (cassette is None or not len(cassette)) and bool(self.records)

    def cassette_use(self) -> CassetteUse:
        """What this test played of its cassette, once closed: the report carries it for prune."""
        if self._closed_use is not None:
            return self._closed_use
        from pytest_llmbudget.recording.playback import CassetteUse

        path = self._relative(self.cassette_path)
        with self._lock:
            cassette = self._cassette
            if cassette is None:
                return CassetteUse(path)
            on_disk = cassette.digest is not None and self.cassette_path.exists()
            return CassetteUse(
                path=path,
                opened=True,
                loaded=cassette.loaded_digest,
                left=cassette.digest if on_disk else None,
                interactions=len(cassette) if on_disk else 0,
                played=frozenset(cassette.played),
            )
