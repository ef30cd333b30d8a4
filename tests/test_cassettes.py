"""Cassette format, compatibility, matching, atomic saves and damaged files."""

from __future__ import annotations

import gzip
import json
import os
import textwrap
from pathlib import Path

import pytest
import yaml
from helpers import PROLOGUE, load_cassette, result_of, write_test
from standin import StandIn

from pytest_llmbudget.errors import CassetteError
from pytest_llmbudget.recording.canonical import canonical_body, request_key
from pytest_llmbudget.recording.cassette import Cassette, write_atomic

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"

CHAT = """
import httpx

def chat(text, **extra):
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}], **extra}
    return httpx.post(URL + "/v1/chat/completions", json=body).json()["choices"][0]["message"]["content"]
"""


def test_canonical_body_ignores_key_order_and_whitespace() -> None:
    assert canonical_body(b'{"b": 1, "a": [1, 2]}') == canonical_body(b'{"a":[1,2],"b":1}')
    assert canonical_body(b'{"a": 1}') != canonical_body(b'{"a": 2}')


def test_canonical_body_drops_ignored_fields_at_any_depth() -> None:
    one = b'{"model": "m", "user": "u1", "metadata": {"trace": 1, "keep": 2}}'
    two = b'{"model": "m", "user": "u2", "metadata": {"trace": 9, "keep": 2}}'
    ignore = ["user", "metadata.trace"]
    assert canonical_body(one, ignore) == canonical_body(two, ignore)
    assert canonical_body(one) != canonical_body(two)


def test_request_key_sorts_the_query() -> None:
    assert request_key("post", "http://h/x?b=2&a=1", b"") == request_key(
        "POST", "http://h/x?a=1&b=2", b""
    )


def test_two_prompts_on_one_url_never_replay_swapped(
    pytester: pytest.Pytester, standin: StandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RESULT_FILE", str(pytester.path / "result.json"))
    write_test(pytester, "test_two", CHAT + "\ndef test_two():\n    save([chat('A'), chat('B')])\n")
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)
    live = result_of(pytester)
    write_test(pytester, "test_two", CHAT + "\ndef test_two():\n    save([chat('B'), chat('A')])\n")
    pytester.runpytest("-p", "no:cacheprovider", "--llm-record=none").assert_outcomes(passed=1)
    assert result_of(pytester) == [live[1], live[0]]


def test_identical_requests_replay_in_recorded_order(
    pytester: pytest.Pytester, standin: StandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_test(
        pytester,
        "test_poll",
        """
        import httpx
        def test_poll():
            answers = []
            for _ in range(3):
                reply = httpx.post(URL + "/v1/chat/completions",
                                   json={"model": "m", "messages": [{"role": "user", "content": "same"}]})
                answers.append(reply.headers["x-standin-sequence"])
            save(answers)
        """,
    )
    monkeypatch.setenv("RESULT_FILE", str(pytester.path / "result.json"))
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)
    live = result_of(pytester)
    assert len(set(live)) == 3
    pytester.runpytest("-p", "no:cacheprovider", "--llm-record=none").assert_outcomes(passed=1)
    assert result_of(pytester) == live


def test_llm_match_ignore_fields(pytester: pytest.Pytester, standin: StandIn) -> None:
    pytester.makeini("[pytest]\nllm_match_ignore =\n    user\n    metadata\n")
    write_test(
        pytester,
        "test_ign",
        CHAT + "\ndef test_ign():\n    chat('hi', user=os.environ.get('WHO', 'a'))\n",
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)
    os.environ["WHO"] = "b"
    try:
        pytester.runpytest("-p", "no:cacheprovider", "--llm-record=none").assert_outcomes(passed=1)
    finally:
        del os.environ["WHO"]


def test_cassettes_are_vcrpy_v1_yaml_that_vcrpy_and_pytest_recording_replay(
    pytester: pytest.Pytester, standin: StandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RESULT_FILE", str(pytester.path / "result.json"))
    source = CHAT + "\ndef test_vcr():\n    save(chat('compatible'))\n"
    write_test(pytester, "test_compat", source)
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)
    ours = result_of(pytester)
    cassette_file = pytester.path / "cassettes" / "test_compat" / "test_vcr.yaml"
    assert load_cassette(cassette_file)["version"] == 1
    # Written in the JSON style: the same data to a JSON reader as to YAML.
    text = cassette_file.read_text()
    assert text.startswith('{\n  "interactions": [')
    assert json.loads(text) == load_cassette(cassette_file)

    # vcrpy's own loader reads it.
    from vcr.persisters.filesystem import FilesystemPersister
    from vcr.serializers import yamlserializer

    requests_, responses = FilesystemPersister.load_cassette(str(cassette_file), yamlserializer)
    assert requests_[0].method == "POST"
    assert responses[0]["status"]["code"] == 200

    # pytest-recording replays it, with our plugin off.
    standin.reset()
    pytester.makepyfile(
        test_compat=PROLOGUE
        + "import pytest\n"
        + CHAT
        + "\n@pytest.mark.vcr\ndef test_vcr():\n    save(chat('compatible'))\n"
    )
    result = pytester.runpytest(
        "-p", "no:cacheprovider", "-p", "no:llmbudget", "-p", "recording", "--record-mode=none"
    )
    result.assert_outcomes(passed=1)
    assert standin.hits == 0
    assert result_of(pytester) == ours


def test_the_block_yaml_style_on_request_and_kept_when_a_test_adds_to_a_cassette(
    pytester: pytest.Pytester, standin: StandIn
) -> None:
    pytester.makeini("[pytest]\nllm_cassette_style = yaml\n")
    write_test(pytester, "test_styles", CHAT + "\ndef test_one():\n    chat('first')\n")
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)
    cassette = pytester.path / "cassettes" / "test_styles" / "test_one.yaml"
    assert cassette.read_text().startswith("interactions:\n- ")

    # The JSON style is the default now, yet a block-YAML cassette a test adds to stays so.
    pytester.makeini("[pytest]\n")
    write_test(
        pytester, "test_styles", CHAT + "\ndef test_one():\n    chat('first')\n    chat('more')\n"
    )
    pytester.runpytest("-p", "no:cacheprovider", "--llm-record=new").assert_outcomes(passed=1)
    assert cassette.read_text().startswith("interactions:\n- ")
    assert len(load_cassette(cassette)["interactions"]) == 2
    # Re-recorded from scratch, it takes the style of the run.
    pytester.runpytest("-p", "no:cacheprovider", "--llm-record=rewrite").assert_outcomes(passed=1)
    assert cassette.read_text().startswith("{")
    assert len(load_cassette(cassette)["interactions"]) == 2


def test_an_unknown_cassette_style_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nllm_cassette_style = toml\n")
    pytester.makepyfile("def test_x():\n    assert 1 + 1 == 2\n")
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*llm_cassette_style='toml' is not allowed; use one of: json, yaml*"]
    )


def test_a_corrupt_cassette_fails_the_test_by_name_and_is_left_alone(
    pytester: pytest.Pytester, standin: StandIn
) -> None:
    write_test(pytester, "test_bad", CHAT + "\ndef test_bad():\n    chat('x')\n")
    cassette = pytester.path / "cassettes" / "test_bad" / "test_bad.yaml"
    cassette.parent.mkdir(parents=True)
    cassette.write_text("interactions: [\n  - {request: ")
    before = cassette.read_bytes()
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*CassetteError: cassette *test_bad.yaml is unreadable: invalid YAML*"]
    )
    assert cassette.read_bytes() == before
    assert standin.hits == 0


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("- just\n- a list\n", "not a mapping"),
        ("interactions: 3\n", "not a list"),
        ("interactions:\n- request: {uri: x}\n  response: {}\n", "interaction 1 has no request"),
        (
            "interactions:\n- request: {method: GET, uri: x}\n  response: {status: {code: abc}}\n",
            "interaction 1: response status code 'abc' is not an HTTP status",
        ),
        (
            "interactions:\n- request: {method: GET, uri: x}\n  response: {status: {code: null}}\n",
            "interaction 1: response status code None",
        ),
        (
            "interactions:\n- request: {method: POST, uri: x, parsed_body: &a {self: *a}}\n"
            "  response: {status: {code: 200}}\n",
            "interaction 1: its request: Circular reference",
        ),
    ],
)
def test_structural_damage_is_named(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(CassetteError, match=problem):
        Cassette.load(path)


def test_reads_parsed_body_cassettes_from_the_corpus() -> None:
    if not CORPUS.is_dir():
        pytest.skip("the shared corpus is not beside this checkout")
    files = sorted(CORPUS.rglob("*.yaml"))
    assert len(files) >= 60
    for path in files:
        cassette = Cassette.load(path)
        assert len(cassette) >= 1
        first = cassette.interactions[0]
        key = request_key(first["request"]["method"], first["request"]["uri"], b"")
        assert key[0] in {"GET", "POST"}


def test_a_stock_vcrpy_cassette_with_a_gzip_body_replays_and_is_priced(
    pytester: pytest.Pytester, standin: StandIn
) -> None:
    """vcrpy stores a compressed answer as it came (``!!binary``, with its Content-Encoding)."""
    answer = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-4o-mini",
        "choices": [
            {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "z"}}
        ],
        "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8},
    }
    body = {"messages": [{"role": "user", "content": "gz"}], "model": "gpt-4o-mini"}
    raw = gzip.compress(json.dumps(answer).encode())
    cassette = pytester.path / "cassettes" / "test_stock" / "test_stock.yaml"
    cassette.parent.mkdir(parents=True)
    document = {
        "interactions": [
            {
                "request": {
                    "method": "POST",
                    "uri": standin.url + "/v1/chat/completions",
                    "headers": {"content-type": ["application/json"]},
                    "body": json.dumps(body),
                },
                "response": {
                    "status": {"code": 200, "message": "OK"},
                    "headers": {
                        "content-type": ["application/json"],
                        "content-encoding": ["gzip"],
                        "content-length": [str(len(raw))],
                    },
                    "body": {"string": raw},
                },
            }
        ],
        "version": 1,
    }
    cassette.write_text(yaml.safe_dump(document))
    assert "!!binary" in cassette.read_text()
    write_test(
        pytester,
        "test_stock",
        """
        import openai
        def test_stock():
            client = openai.OpenAI(base_url=URL + "/v1", api_key=KEY, max_retries=0)
            reply = client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "gz"}])
            assert reply.choices[0].message.content == "z"
        """,
    )
    report = pytester.path / "report.json"
    result = pytester.runpytest(
        "-p", "no:cacheprovider", "--llm-record=none", f"--llm-report={report}"
    )
    result.assert_outcomes(passed=1)
    assert standin.hits == 0
    (test,) = json.loads(report.read_text())["tests"]
    (record,) = test["records"]
    assert (record["input_tokens"], record["output_tokens"]) == (5, 3)
    assert not record["estimated"]


def test_parsed_body_interactions_replay(
    pytester: pytest.Pytester, standin: StandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RESULT_FILE", str(pytester.path / "result.json"))
    cassette = pytester.path / "cassettes" / "test_parsed" / "test_parsed.yaml"
    cassette.parent.mkdir(parents=True)
    document = {
        "interactions": [
            {
                "request": {
                    "method": "POST",
                    "uri": standin.url + "/v1/chat/completions",
                    "headers": {"content-type": ["application/json"]},
                    "parsed_body": {"messages": [{"role": "user", "content": "p"}], "model": "m"},
                },
                "response": {
                    "status": {"code": 200, "message": "OK"},
                    "headers": {"content-type": ["application/json"], "content-encoding": ["gzip"]},
                    "parsed_body": {"choices": [{"message": {"content": "from parsed_body"}}]},
                },
            }
        ],
        "version": 1,
    }
    cassette.write_text(yaml.safe_dump(document))
    write_test(
        pytester,
        "test_parsed",
        """
        import httpx
        def test_parsed():
            reply = httpx.post(URL + "/v1/chat/completions",
                               json={"model": "m", "messages": [{"role": "user", "content": "p"}]})
            save(reply.json()["choices"][0]["message"]["content"])
        """,
    )
    pytester.runpytest("-p", "no:cacheprovider", "--llm-record=none").assert_outcomes(passed=1)
    assert result_of(pytester) == "from parsed_body"


def test_error_responses_are_not_recorded_unless_asked(
    pytester: pytest.Pytester, standin: StandIn
) -> None:
    write_test(
        pytester,
        "test_err",
        """
        import httpx
        def test_err():
            reply = httpx.post(URL + "/v1/chat/completions",
                               json={"model": "m", "messages": [{"role": "user", "content": "e"}]})
            assert reply.status_code == 429
        """,
    )
    quota = {
        "error": {"message": "quota", "type": "insufficient_quota", "code": "insufficient_quota"}
    }
    standin.fail_next(429, quota)
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)
    assert not (pytester.path / "cassettes" / "test_err" / "test_err.yaml").exists()

    pytester.makeini("[pytest]\nllm_record_errors = true\n")
    standin.fail_next(429, quota)
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)
    stored = load_cassette(pytester.path / "cassettes" / "test_err" / "test_err.yaml")
    assert stored["interactions"][0]["response"]["status"]["code"] == 429


def test_compressed_responses_are_stored_decoded(
    pytester: pytest.Pytester, standin: StandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RESULT_FILE", str(pytester.path / "result.json"))
    write_test(
        pytester,
        "test_gz",
        """
        import httpx, requests
        BODY = {"model": "m", "messages": [{"role": "user", "content": "zip"}]}
        def test_gz():
            one = httpx.post(URL + "/v1/chat/completions?gzip=1", json=BODY,
                             headers={"accept-encoding": "gzip"})
            two = requests.post(URL + "/v1/chat/completions?gzip=1", json=dict(BODY, n=2),
                                headers={"accept-encoding": "gzip"})
            save([one.json(), two.json()])
        """,
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)
    live = result_of(pytester)
    assert len(standin.requests) == 2
    assert all("gzip" in request.headers["accept-encoding"] for request in standin.requests)
    stored = load_cassette(pytester.path / "cassettes" / "test_gz" / "test_gz.yaml")
    for interaction in stored["interactions"]:
        body = interaction["response"]["body"]["string"]
        assert isinstance(body, str)
        assert '"usage"' in body
        names = {name.lower() for name in interaction["response"]["headers"]}
        assert "content-encoding" not in names
    standin.reset()
    pytester.runpytest("-p", "no:cacheprovider", "--llm-record=none").assert_outcomes(passed=1)
    assert result_of(pytester) == live


def test_a_compressed_stream_the_sdk_closes_at_done_is_stored_whole_and_decoded(
    pytester: pytest.Pytester, standin: StandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The openai SDK stops at [DONE], before the gzip trailer: the stream is whole all the same."""
    monkeypatch.setenv("RESULT_FILE", str(pytester.path / "result.json"))
    write_test(
        pytester,
        "test_gz_stream",
        """
        import openai
        def test_gz_stream():
            client = openai.OpenAI(base_url=URL + "/v1", api_key=KEY, max_retries=0,
                                   default_headers={"x-standin-gzip": "1"})
            stream = client.chat.completions.create(
                model="gpt-4o-mini", stream=True, stream_options={"include_usage": True},
                messages=[{"role": "user", "content": "squeeze this stream"}])
            save("".join(c.choices[0].delta.content or "" for c in stream if c.choices))
        """,
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)
    live = result_of(pytester)
    assert live
    (request,) = standin.requests
    assert "gzip" in request.headers["accept-encoding"]
    stored = load_cassette(pytester.path / "cassettes" / "test_gz_stream" / "test_gz_stream.yaml")
    (interaction,) = stored["interactions"]
    assert "truncated" not in interaction
    body = interaction["response"]["body"]["string"]
    assert isinstance(body, str)
    assert body.endswith("data: [DONE]\n\n")
    names = {name.lower() for name in interaction["response"]["headers"]}
    assert "content-encoding" not in names
    standin.reset()
    pytester.runpytest("-p", "no:cacheprovider", "--llm-record=none").assert_outcomes(passed=1)
    assert result_of(pytester) == live
    assert not standin.requests


@pytest.mark.parametrize("coding", ["br", "zstd"])
@pytest.mark.parametrize("client", ["openai", "httpx"])
def test_brotli_and_zstd_answers_are_stored_decoded_scrubbed_and_priced(
    client: str, coding: str, pytester: pytest.Pytester, standin: StandIn
) -> None:
    """httpx asks for br and zstd whenever their packages are installed, as they are here."""
    calls = {
        "openai": """
            import openai
            def test_coded():
                c = openai.OpenAI(base_url=URL + "/v1", api_key=KEY, max_retries=0,
                                  default_headers=HEADERS)
                c.chat.completions.create(model="gpt-4o-mini",
                                          messages=[{"role": "user", "content": "coded"}])
        """,
        "httpx": """
            import httpx
            def test_coded():
                reply = httpx.post(URL + "/v1/chat/completions",
                                   headers={**HEADERS, "authorization": "Bearer " + KEY},
                                   json={"model": "gpt-4o-mini",
                                         "messages": [{"role": "user", "content": "coded"}]})
                assert reply.json()["usage"]["prompt_tokens"] > 0
        """,
    }
    headers = f"HEADERS = {{'x-standin-encoding': {coding!r}, 'x-standin-echo-key': '1'}}\n"
    write_test(pytester, "test_coded", headers + textwrap.dedent(calls[client]))
    report = pytester.path / "report.json"
    result = pytester.runpytest("-p", "no:cacheprovider", f"--llm-report={report}")
    result.assert_outcomes(passed=1)
    (request,) = standin.requests
    assert coding in request.headers["accept-encoding"]
    stored = load_cassette(pytester.path / "cassettes" / "test_coded" / "test_coded.yaml")
    (interaction,) = stored["interactions"]
    body = interaction["response"]["body"]["string"]
    assert isinstance(body, str), "decoded to text"
    assert '"prompt_tokens"' in body
    assert "REDACTED" in body, "the echoed key was found and scrubbed"
    assert "abcdefghijklmnop1234" not in body
    assert "content-encoding" not in {name.lower() for name in interaction["response"]["headers"]}
    (test_entry,) = json.loads(report.read_text())["tests"]
    (record,) = test_entry["records"]
    usage = json.loads(body)["usage"]
    assert record["input_tokens"] == usage["prompt_tokens"]
    assert record["output_tokens"] == usage["completion_tokens"]
    assert not record["estimated"]


def test_saves_are_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "c.yaml"
    target.write_text("old")

    def broken_replace(src: str, dst: str) -> None:
        raise KeyboardInterrupt  # the run is killed between write and rename

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(target, "new " * 1000)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["c.yaml"], "no temp file left behind"
    monkeypatch.undo()
    write_atomic(target, "new")
    assert target.read_text() == "new"


def test_a_cassette_that_cannot_be_written_is_a_named_error(
    pytester: pytest.Pytester, standin: StandIn
) -> None:
    """Disk full, no permission, a file where the folder should be: say which cassette."""
    write_test(
        pytester,
        "test_save",
        CHAT
        + """
def test_save():
    chat('unsaved')
    # The folder the cassette goes to, taken by a file while the test ran.
    pathlib.Path("blocked").mkdir()
    pathlib.Path("blocked/test_save").write_text("a file, not a folder")
""",
    )

    result = pytester.runpytest("-p", "no:cacheprovider", "--llm-cassette-dir=blocked")

    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        ["*CassetteSaveError: cassette *blocked/test_save/test_save.yaml could not be saved: *"]
    )
    assert (pytester.path / "blocked" / "test_save").read_text() == "a file, not a folder"


def test_a_body_sent_as_recorded_takes_the_recorded_canonical_form(tmp_path: Path) -> None:
    uri = "http://127.0.0.1:4001/v1/chat/completions"
    bodies = ['{"model":"m","messages":[{"role":"user","content":"hi"}]}', '{"b": 1, "a": 2}']
    interactions = [
        {
            "request": {"method": "POST", "uri": uri, "body": body, "headers": {}},
            "response": {"status": {"code": 200, "message": "OK"}, "body": {"string": "{}"}},
        }
        for body in bodies
    ]
    path = tmp_path / "c.yaml"
    path.write_text(json.dumps({"interactions": interactions, "version": 1}))
    cassette = Cassette.load(path)
    # Another loopback port: the key is the recording's, its body's form taken as recorded.
    live_uri = "http://localhost:5002/v1/chat/completions"
    for position, body in enumerate(bodies):
        sent = body.encode()
        known = cassette.known_body(sent)
        assert known is not None
        assert cassette.matching.strict_key("post", live_uri, sent, canonical=known) == (
            cassette.key_at(position)
        )
        assert request_key("POST", live_uri, sent) == cassette.key_at(position)
    # The same JSON sent with other bytes has the same key, worked out the long way.
    assert cassette.known_body(b'{"a":2,"b":1}') is None
    assert request_key("POST", uri, b'{"a":2,"b":1}') == cassette.key_at(1)
