"""The fast paths stay correct: parsed-cassette cache, shared TLS contexts, streams copied as read.

Each fast path skips work the slow path did (parsing YAML, building a TLS
context, reading a body before handing it on); these tests pin down that
nothing the slow path guaranteed is lost on the way.
"""

from __future__ import annotations

import json
import os
import pickle
import ssl
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx2
import pytest
import trustme
from helpers import load_cassette, result_of, write_test
from standin import StandIn

from pytest_llmbudget.recording.cassette import Cassette
from pytest_llmbudget.recording.parsed_cache import ParsedCache

CHAT = """
import httpx

def chat(text, **extra):
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}], **extra}
    return httpx.post(URL + "/v1/chat/completions", json=body).json()["choices"][0]["message"]["content"]
"""

CASSETTE = Path("cassettes", "test_cached", "test_cached.yaml")


def _entries(root: Path) -> list[Path]:
    return sorted((root / ".llmbudget" / "cache" / "cassettes").glob("*.pickle"))


@pytest.fixture
def recorded(pytester: pytest.Pytester, standin: StandIn, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A test whose two calls are recorded; returns its cassette."""
    monkeypatch.setenv("RESULT_FILE", str(pytester.path / "result.json"))
    write_test(
        pytester,
        "test_cached",
        CHAT
        + "\ndef test_cached():\n    save([chat('hello', user=os.environ.get('WHO', 'a')), chat('again')])\n",
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)
    assert standin.hits == 2
    assert _entries(pytester.path) == []  # recording parses nothing: no entry yet
    return pytester.path / CASSETTE


def _replay(pytester: pytest.Pytester, *args: str) -> Any:
    pytester.runpytest("-p", "no:cacheprovider", "--llm-record=none", *args).assert_outcomes(
        passed=1
    )
    return result_of(pytester)


def test_a_replay_parses_a_cassette_once_and_never_touches_it(
    pytester: pytest.Pytester, standin: StandIn, recorded: Path
) -> None:
    before = recorded.read_bytes()
    first = _replay(pytester)
    (entry,) = _entries(pytester.path)
    notes = entry.with_suffix(".notes")
    written = entry.stat().st_mtime_ns, notes.stat().st_mtime_ns
    assert _replay(pytester) == first == ["Echo: hello", "Echo: again"]
    assert (entry.stat().st_mtime_ns, notes.stat().st_mtime_ns) == written, (
        "the second replay read the entry and the notes, wrote nothing"
    )
    assert recorded.read_bytes() == before
    assert standin.hits == 2, "replays made no live call"
    ignore_file = pytester.path / ".llmbudget" / "cache" / ".gitignore"
    assert ignore_file.read_text().splitlines()[-1] == "*"
    leftovers = [p.name for p in entry.parent.iterdir() if p.suffix not in (".pickle", ".notes")]
    assert leftovers == []


def test_a_replay_from_the_cache_does_not_import_yaml(
    pytester: pytest.Pytester, recorded: Path
) -> None:
    _replay(pytester)  # fills the cache
    pytester.makeconftest(
        """
import json, sys
def pytest_unconfigure(config):
    with open("modules.json", "w") as stream:
        json.dump(sorted(sys.modules), stream)
"""
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--llm-record=none")
    result.assert_outcomes(passed=1)
    modules = set(json.loads((pytester.path / "modules.json").read_text()))
    assert "pytest_llmbudget.recording.cassette" in modules, "the cassette was loaded"
    assert "yaml" not in modules
    assert result_of(pytester) == ["Echo: hello", "Echo: again"]


def test_an_edited_cassette_is_parsed_again(pytester: pytest.Pytester, recorded: Path) -> None:
    _replay(pytester)
    (entry,) = _entries(pytester.path)
    old_header = entry.read_bytes().splitlines()[0]
    recorded.write_text(recorded.read_text().replace("Echo: hello", "Edited: hello"))
    assert _replay(pytester) == ["Edited: hello", "Echo: again"]
    (entry,) = _entries(pytester.path)
    assert entry.read_bytes().splitlines()[0] != old_header, "the entry was replaced"


def test_a_damaged_entry_is_ignored_and_replaced(pytester: pytest.Pytester, recorded: Path) -> None:
    _replay(pytester)
    (entry,) = _entries(pytester.path)
    good = entry.read_bytes()
    header = good.splitlines(keepends=True)[0]
    for damage in (b"", b"not a cache entry", header[:-10], header, good[: len(good) // 2]):
        entry.write_bytes(damage)
        assert _replay(pytester) == ["Echo: hello", "Echo: again"], damage
        assert entry.read_bytes() == good, damage


class _Planted:
    """Unpickling this would create a folder: what a planted entry could do, harmlessly."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.mkdir, (str(self.target),))


def test_a_planted_entry_runs_no_code(pytester: pytest.Pytester, recorded: Path) -> None:
    _replay(pytester)
    (entry,) = _entries(pytester.path)
    header = entry.read_bytes().splitlines(keepends=True)[0]
    marker = pytester.path / "planted-code-ran"
    payload = {"interactions": [_Planted(marker)], "keys": [("POST", "u", "b")]}
    entry.write_bytes(header + pickle.dumps(payload))
    assert _replay(pytester) == ["Echo: hello", "Echo: again"]
    assert not marker.exists()


def test_keys_cached_without_an_ignored_field_are_not_reused_with_it(
    pytester: pytest.Pytester, recorded: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _replay(pytester)  # entry keyed with no llm_match_ignore
    pytester.makeini("[pytest]\nllm_match_ignore = user\n")
    monkeypatch.setenv("WHO", "someone-else")
    assert _replay(pytester) == ["Echo: hello", "Echo: again"]


def test_replays_keep_their_bodies_in_a_cassette_that_is_saved_again(
    pytester: pytest.Pytester, standin: StandIn, recorded: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Replay-only runs let a played body go; a run that may record must keep every one."""
    _replay(pytester)
    write_test(
        pytester,
        "test_cached",
        CHAT
        + "\ndef test_cached():\n    save([chat('hello', user='a'), chat('again'), chat('new')])\n",
    )
    pytester.runpytest("-p", "no:cacheprovider", "--llm-record=new").assert_outcomes(passed=1)
    assert standin.hits == 3, "only the new prompt went live"
    bodies = [i["response"]["body"]["string"] for i in load_cassette(recorded)["interactions"]]
    assert [json.loads(body)["choices"][0]["message"]["content"] for body in bodies] == [
        "Echo: hello",
        "Echo: again",
        "Echo: new",
    ]


# -- usage notes ----------------------------------------------------------------------------


def _input_tokens(pytester: pytest.Pytester, *args: str) -> list[int]:
    report = pytester.path / "report.json"
    _replay(pytester, f"--llm-report={report}", *args)
    tests = json.loads(report.read_text())["tests"]
    return [record["input_tokens"] for test in tests for record in test["records"]]


def _plant(notes: Path, input_tokens: int) -> None:
    """Rewrite the notes with another input count, as if an earlier run had read that."""
    header, _, body = notes.read_bytes().partition(b"\n")
    planted = {
        position: (*note[:4], input_tokens, *note[5:])
        for position, note in pickle.loads(body).items()
    }
    notes.write_bytes(header + b"\n" + pickle.dumps(planted))


def test_a_replay_takes_usage_from_the_notes_of_the_last_one(
    pytester: pytest.Pytester, recorded: Path
) -> None:
    read = _input_tokens(pytester)
    (entry,) = _entries(pytester.path)
    notes = pickle.loads(entry.with_suffix(".notes").read_bytes().partition(b"\n")[2])
    assert sorted(notes) == [0, 1]
    assert [note[4] for _, note in sorted(notes.items())] == read
    assert notes[0][:4] == ("openai", "chat", "/v1/chat/completions", "gpt-4o-mini")
    # The note is what the run reports: the answer was not read again.
    _plant(entry.with_suffix(".notes"), 4242)
    assert _input_tokens(pytester) == [4242, 4242]
    # A cassette changed by one byte has other notes (none yet): its answers are read.
    recorded.write_text(recorded.read_text().replace("Echo: hello", "Edited: hello"))
    assert _input_tokens(pytester) == read


def test_notes_stand_in_only_for_our_own_reading_of_the_recorded_request(
    pytester: pytest.Pytester, recorded: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    read = _input_tokens(pytester)
    (entry,) = _entries(pytester.path)
    _plant(entry.with_suffix(".notes"), 4242)
    # A request matched in spite of a difference (an ignored field) is read afresh.
    pytester.makeini("[pytest]\nllm_match_ignore = user\n")
    monkeypatch.setenv("WHO", "someone-else")
    assert _input_tokens(pytester) == [read[0], 4242]
    # A suite's own usage hook answers first: every answer goes through the hooks.
    pytester.makeini("[pytest]\n")
    monkeypatch.delenv("WHO")
    pytester.makeconftest(
        "def pytest_llmbudget_usage(record, request, response):\n    return None\n"
    )
    assert _input_tokens(pytester) == read


def test_the_cache_api_round_trips_and_checks_the_digest(tmp_path: Path) -> None:
    path = tmp_path / "cassette.yaml"
    text = (
        "interactions:\n- request: {method: POST, uri: 'http://h/v1/chat/completions', body: '{}'}\n"
        "  response: {status: {code: 200, message: OK}, body: {string: hi}}\nversion: 1\n"
    )
    path.write_text(text)
    cache = ParsedCache(tmp_path / "cache")
    parsed = Cassette.load(path, cache=cache)
    assert len(parsed) == 1
    cached = Cassette.load(path, cache=cache)
    assert cached.interactions == parsed.interactions
    assert cached.loaded_digest == parsed.loaded_digest
    found = cache.get(path, ())
    assert found is not None
    assert found[0] == parsed.loaded_digest
    assert cache.get(path, ("user",)) is None, "other keys, no entry"
    path.write_text(text.replace("hi", "ho"))
    assert cache.get(path, ()) is None, "other bytes, no entry"
    path.unlink()
    with pytest.raises(FileNotFoundError):
        cache.get(path, ())


def test_a_cached_entry_holds_each_recurring_header_once(tmp_path: Path) -> None:
    """Loaded from the cache, equal header names and values are one object: built once."""

    def interaction(n: int) -> dict[str, Any]:
        return {
            "request": {
                "method": "POST",
                "uri": "http://h/v1/chat/completions",
                "body": json.dumps({"n": n}),
                "headers": {"content-type": ["application/json"], "x-n": [str(n)]},
            },
            "response": {
                "status": {"code": 200, "message": "OK"},
                "headers": {"content-type": ["application/json"]},
                "body": {"string": "{}"},
            },
        }

    path = tmp_path / "cassette.yaml"
    document = {"interactions": [interaction(1), interaction(2)], "version": 1}
    path.write_text(json.dumps(document))
    cache = ParsedCache(tmp_path / "cache")
    parsed = Cassette.load(path, cache=cache)
    cached = Cassette.load(path, cache=cache)
    assert cached.interactions == parsed.interactions == document["interactions"]
    first, second = (i["request"]["headers"] for i in cached.interactions)
    assert first["content-type"][0] is second["content-type"][0]
    assert first["content-type"] is not second["content-type"], "lists stay one per header"
    name = next(iter(cached.interactions[1]["response"]["headers"]))
    assert name is next(iter(first))


# A conftest that lists every file the run opens, through Python's audit events.
OPENS = """
import os, sys

def _log(event, args):
    if event == "open" and isinstance(args[0], str) and args[0].endswith(".yaml"):
        with open(os.environ["OPENS_FILE"], "a") as log:
            log.write(os.path.basename(args[0]) + "\\n")

sys.addaudithook(_log)
"""


def _settled(pytester: pytest.Pytester, recorded: Path) -> None:
    """Past the two seconds after its last change in which a file may change unseen."""
    time.sleep(2.1)
    assert _replay(pytester) == ["Echo: hello", "Echo: again"]  # parses it, keeps its status


def test_a_settled_cassette_is_replayed_without_reading_it(
    pytester: pytest.Pytester, recorded: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its entry holds its status: the bytes are neither hashed nor read again."""
    _settled(pytester, recorded)
    pytester.makeconftest(OPENS)
    opens = pytester.path / "opens.txt"
    monkeypatch.setenv("OPENS_FILE", str(opens))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--llm-record=none")
    result.assert_outcomes(passed=1)
    assert result_of(pytester) == ["Echo: hello", "Echo: again"]
    assert not opens.exists(), opens.read_text()
    # A fresh cassette (changed under two seconds ago) is read, and hashed, every time.
    recorded.write_bytes(recorded.read_bytes())
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--llm-record=none")
    result.assert_outcomes(passed=1)
    assert opens.read_text().split() == [recorded.name]


def test_a_same_size_edit_with_its_old_times_put_back_is_parsed_again(
    pytester: pytest.Pytester, recorded: Path
) -> None:
    """As a tool that restores modification times (tar, rsync -t) leaves a file: the change
    time, which no tool can set back, tells the edit."""
    _settled(pytester, recorded)
    before = recorded.stat()
    recorded.write_text(recorded.read_text().replace("Echo: hello", "Ohce: hello"))
    os.utime(recorded, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = recorded.stat()
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    assert _replay(pytester) == ["Ohce: hello", "Echo: again"]


# -- TLS contexts ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def https_standin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[StandIn, Path]]:
    """The stand-in over HTTPS, with a certificate from a test CA; and that CA's PEM file."""
    authority = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(context)
    ca_file = tmp_path_factory.mktemp("ca") / "ca.pem"
    authority.cert_pem.write_to_path(str(ca_file))
    with StandIn(tls=context) as server:
        yield server, ca_file


@pytest.fixture
def https(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    https_standin: tuple[StandIn, Path],
) -> StandIn:
    """The HTTPS stand-in, reset, its URL and test CA set for the inner runs."""
    server, ca_file = https_standin
    server.reset()
    monkeypatch.setenv("STANDIN_URL", server.url)
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    monkeypatch.setenv("RESULT_FILE", str(pytester.path / "result.json"))
    return server


TLS_TEST = """
import ssl
import httpx, httpx2, openai
from pytest_llmbudget.intercept import tls

def context(client):
    return client._transport._pool._ssl_context

AT_IMPORT = httpx2.Client()

def test_tls():
    own = ssl.create_default_context()
    a, b = httpx2.Client(), httpx2.Client(timeout=3)
    h2 = httpx2.HTTPTransport(http2=True)  # the h2 package is not needed to build one
    unverified = httpx2.Client(verify=False)
    given = httpx2.Client(verify=own)
    x = httpx.Client()
    sdk = openai.OpenAI(base_url=URL + "/v1", api_key=KEY, max_retries=0)
    before = len(tls._contexts)
    answer = sdk.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "over TLS"}]
    ).choices[0].message.content
    after_call = len(tls._contexts)
    for client in (a, b, x):  # not LLM calls: sent untouched, over verified TLS too
        assert client.get(URL + "/health").status_code in (200, 404)
    save({
        "answer": answer,
        "loaded before the first call": before,
        "loaded by the call": after_call,
        "shared": context(a) is context(b) and context(a) is context(sdk._client),
        "httpx apart from httpx2": context(x) is not context(a),
        "http2 unused, not loaded": h2._llmbudget_tls_pending == (True, True, True),
        "at import apart": context(AT_IMPORT) is not context(a),
        "verify=False untouched": context(unverified).verify_mode == ssl.CERT_NONE,
        "given context kept": context(given) is own,
        "verifies": context(a).verify_mode == ssl.CERT_REQUIRED and context(a).check_hostname,
    })
"""


def test_clients_built_in_a_test_share_one_tls_context_loaded_at_the_first_request(
    pytester: pytest.Pytester, https: StandIn
) -> None:
    write_test(pytester, "test_tls", TLS_TEST)
    pytester.runpytest("-p", "no:cacheprovider", "--llm-record=new").assert_outcomes(passed=1)
    result = result_of(pytester)
    assert result.pop("answer")
    assert result.pop("loaded before the first call") == 0, "clients built, no trust store loaded"
    assert result.pop("loaded by the call") == 1
    assert all(result.values()), result
    assert https.hits >= 4, "the LLM call and the three plain requests reached the server"
    assert not hasattr(httpx2.HTTPTransport.__init__, "__llmbudget_original__"), "unpatched after"


def test_a_replay_never_loads_the_trust_store(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, https: StandIn
) -> None:
    write_test(
        pytester,
        "test_replayed",
        """
        import openai
        from pytest_llmbudget.intercept import tls

        def test_replayed():
            sdk = openai.AsyncOpenAI(base_url=URL + "/v1", api_key=KEY, max_retries=0)
            async def ask():
                async with sdk:
                    answer = await sdk.chat.completions.create(
                        model="gpt-4o-mini", messages=[{"role": "user", "content": "again"}]
                    )
                return answer.choices[0].message.content
            save({"answer": asyncio.run(ask()), "contexts": len(tls._contexts)})
        """,
    )
    pytester.runpytest("-p", "no:cacheprovider", "--llm-record=new").assert_outcomes(passed=1)
    recorded = result_of(pytester)
    assert recorded["contexts"] == 1, "the live call loaded it"
    https.reset()
    monkeypatch.delenv("SSL_CERT_FILE")  # a replay needs no trust at all
    pytester.runpytest("-p", "no:cacheprovider", "--llm-record=none").assert_outcomes(passed=1)
    assert result_of(pytester) == {"answer": recorded["answer"], "contexts": 0}
    assert https.hits == 0


def test_a_live_call_to_an_untrusted_server_still_fails_verification(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, https: StandIn
) -> None:
    """Deferred is not relaxed: without the test CA the certificate is refused."""
    monkeypatch.delenv("SSL_CERT_FILE")
    write_test(
        pytester,
        "test_untrusted",
        """
        import httpx2, pytest

        def test_untrusted():
            # (any class: in-process pytester runs may import httpcore2 twice)
            with pytest.raises(Exception, match="CERTIFICATE_VERIFY_FAILED"):
                httpx2.post(URL + "/v1/chat/completions", json={"model": "gpt-4o-mini", "messages": []})
        """,
    )
    pytester.runpytest("-p", "no:cacheprovider", "--llm-record=new").assert_outcomes(passed=1)


# -- streams copied as they are read --------------------------------------------------------


def _chunk(text: str | None, finish: str | None = None) -> bytes:
    delta = {} if text is None else {"content": text}
    payload = {
        "id": "chatcmpl-gate",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "gpt-4o-mini",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return b"data: " + json.dumps(payload).encode() + b"\n\n"


class _Gate(BaseHTTPRequestHandler):
    """Sends a stream's first event, then holds the rest until the client says it got it."""

    protocol_version = "HTTP/1.1"
    released: threading.Event
    held: list[bool]

    def do_GET(self) -> None:  # /release, once the client holds the first event
        type(self).released.set()
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", "0")))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        events = [_chunk("first"), _chunk("second"), _chunk(None, "stop"), b"data: [DONE]\n\n"]
        try:
            self._send(events[0])
            # Only a client that got the first event before the rest exists can release it.
            type(self).held.append(type(self).released.wait(timeout=15))
            type(self).released.clear()
            for event in events[1:]:
                self._send(event)
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except OSError:
            self.close_connection = True

    def _send(self, event: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
        self.wfile.flush()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[_Gate]]:
    handler = type("Gate", (_Gate,), {"released": threading.Event(), "held": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    monkeypatch.setenv("STANDIN_URL", f"http://127.0.0.1:{server.server_address[1]}")
    try:
        yield handler
    finally:
        server.shutdown()
        server.server_close()


STREAMS = """
import urllib.request

import aiohttp
import openai
import pytest
import requests

BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "stream": True}
HEADERS = {"authorization": "Bearer " + KEY}


def release():
    urllib.request.urlopen(URL + "/release").read()  # not an LLM call: never intercepted


def with_openai(whole):
    client = openai.OpenAI(base_url=URL + "/v1", api_key=KEY, max_retries=0)
    got = []
    stream = client.chat.completions.create(**BODY)
    for chunk in stream:
        got.append(chunk.choices[0].delta.content if chunk.choices else None)
        if len(got) == 1:
            release()
            if not whole:
                break
    stream.close()
    return got


def with_requests(whole):
    got = []
    with requests.post(URL + "/v1/chat/completions", json=BODY, headers=HEADERS, stream=True) as answer:
        for line in answer.iter_lines():
            if line:
                got.append(line.decode())
                if len(got) == 1:
                    release()
                    if not whole:
                        break
    return got


def with_aiohttp(whole):
    async def main():
        got = []
        async with aiohttp.ClientSession() as session:
            async with session.post(URL + "/v1/chat/completions", json=BODY, headers=HEADERS) as answer:
                async for line in answer.content:
                    if line.strip():
                        got.append(line.decode().strip())
                        if len(got) == 1:
                            release()
                            if not whole:
                                break
        return got

    return asyncio.run(main())


CLIENTS = {"openai": with_openai, "requests": with_requests, "aiohttp": with_aiohttp}
WHOLE = os.environ.get("WHOLE") == "1"


@pytest.mark.parametrize("client", CLIENTS)
def test_stream(client):
    got = CLIENTS[client](WHOLE)
    results = json.loads(pathlib.Path(os.environ["RESULT_FILE"]).read_text() or "{}")
    results[client] = got
    save(results)
"""


def _cassettes(root: Path) -> dict[str, dict[str, Any]]:
    folder = root / "cassettes" / "test_streams"
    return {
        client: load_cassette(folder / f"test_stream[{client}].yaml")
        for client in ("openai", "requests", "aiohttp")
    }


@pytest.mark.parametrize("whole", [True, False], ids=["whole", "break-early"])
def test_recording_passes_each_chunk_through_as_it_arrives(
    pytester: pytest.Pytester, gate: type[_Gate], monkeypatch: pytest.MonkeyPatch, whole: bool
) -> None:
    result_file = pytester.path / "result.json"
    result_file.write_text("")
    monkeypatch.setenv("RESULT_FILE", str(result_file))
    monkeypatch.setenv("WHOLE", "1" if whole else "0")
    write_test(pytester, "test_streams", STREAMS)
    pytester.runpytest("-p", "no:cacheprovider", "--llm-record=rewrite").assert_outcomes(passed=3)
    # Each client had the first event while the server still held back the rest.
    assert gate.held == [True, True, True]
    live = result_of(pytester)
    for client, cassette in _cassettes(pytester.path).items():
        (interaction,) = cassette["interactions"]
        body = interaction["response"]["body"]["string"]
        assert '"first"' in body, client
        if whole:
            assert body.endswith("data: [DONE]\n\n"), client
            # The openai SDK closes a stream at [DONE], before the HTTP body's end: the
            # recording is whole all the same, and not flagged as cut short.
            assert "truncated" not in interaction, client
        else:
            assert '"second"' not in body, client
            assert interaction["truncated"] is True, client
    assert len(live["openai"]) == (3 if whole else 1)

    # The cassettes replay, broken-off ones included, without a call to the server.
    result_file.write_text("")
    pytester.runpytest("-p", "no:cacheprovider", "--llm-record=none").assert_outcomes(passed=3)
    assert result_of(pytester) == live
    assert len(gate.held) == 3, "the replay sent nothing"


MODULES_CONFTEST = """
import json, sys

import pytest

def pytest_unconfigure(config):
    with open("modules.json", "w") as stream:
        json.dump(sorted(sys.modules), stream)
{config}
"""


@pytest.mark.parametrize(
    ("vcr_config", "imports_vcrpy"),
    [
        ("", False),  # pytest-recording's default vcr_config: {}
        ("{'match_on': ['method', 'uri', 'body'], 'record_mode': 'none'}", False),
        ("{'filter_headers': ['authorization']}", True),
        ("{'match_on': ['method', 'url']}", True),  # vcrpy's alias: vcrpy reads it
    ],
)
def test_a_marked_suite_with_a_plain_vcr_config_replays_without_vcrpy(
    pytester: pytest.Pytester,
    standin: StandIn,
    monkeypatch: pytest.MonkeyPatch,
    vcr_config: str,
    imports_vcrpy: bool,
) -> None:
    """vcrpy is read only for what needs it: its import costs a replay more than its matching."""
    monkeypatch.setenv("RESULT_FILE", str(pytester.path / "result.json"))
    fixture = (
        f"\n@pytest.fixture(scope='module')\ndef vcr_config():\n    return {vcr_config}\n"
        if vcr_config
        else ""
    )
    pytester.makeconftest(MODULES_CONFTEST.format(config=fixture))
    write_test(
        pytester,
        "test_marked",
        CHAT + "\nimport pytest\n\n@pytest.mark.vcr\ndef test_marked():\n"
        "    save([chat('hello'), chat('again')])\n",
    )
    args = ("-p", "no:cacheprovider", "-p", "no:recording")
    pytester.runpytest_subprocess(*args, "--llm-record=once").assert_outcomes(passed=1)
    cassette = pytester.path / "cassettes" / "test_marked" / "test_marked.yaml"
    assert [i["request"]["uri"] for i in load_cassette(cassette)["interactions"]] == [
        f"{standin.url}/v1/chat/completions"
    ] * 2
    hits = standin.hits
    result = pytester.runpytest_subprocess(*args, "--llm-record=none")
    result.assert_outcomes(passed=1)
    assert standin.hits == hits, "the replay made no live call"
    assert result_of(pytester) == ["Echo: hello", "Echo: again"]
    modules = set(json.loads((pytester.path / "modules.json").read_text()))
    assert ("vcr" in modules) is imports_vcrpy


HEADER_CHECK = """
import httpx2
from pytest_llmbudget.intercept.httpx_adapter import header_list

for headers in (
    [("Authorization", "Bearer sk-abc"), ("X-Stainless-OS", "Linux"), ("x-dup", "1"), ("X-Dup", "2")],
    [("X-Name", "Zoë".encode()), ("Accept", "application/json")],  # not ASCII
):
    request = httpx2.Request("POST", "https://api.openai.com/v1/x", headers=headers)
    assert header_list(request.headers) == list(request.headers.multi_items()), headers
    assert ("authorization", "Bearer sk-abc") in header_list(request.headers) or headers[1][0] == "Accept"
print("same")
"""


def test_request_headers_are_read_as_multi_items_reads_them() -> None:
    """In a process of its own: importing the adapter here would outlive pytester's runs."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", HEADER_CHECK], capture_output=True, text=True, check=False
    )
    assert (done.returncode, done.stdout.strip()) == (0, "same"), done.stderr
