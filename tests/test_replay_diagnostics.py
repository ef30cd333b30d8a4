"""What a replay tells the user when it does not go as recorded.

A CassetteMiss that only says "no recording" sends people diffing YAML by
hand; loopback servers that pick a new port every run must not turn every
replay into a miss; and ``new`` mode, which quietly grows a cassette, has to
say what it added and what the test stopped playing, or stale recordings
pile up unseen.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from helpers import load_cassette, result_of, write_test
from standin import StandIn

CHAT = """
import httpx

def chat(text, max_tokens=8192, query="", headers=None, path="/v1/chat/completions", **extra):
    body = {"model": "gpt-4o-mini", "max_tokens": max_tokens,
            "messages": [{"role": "user", "content": text}], **extra}
    reply = httpx.post(URL + path + query, json=body, headers=headers or {})
    return reply.json()
"""

CASSETTE = "cassettes/test_fix/test_fix.yaml"
NODEID = "test_fix.py::test_fix"


def suite(pytester: pytest.Pytester, *calls: str) -> None:
    """One module, rewritten between runs, as a user edits a test and then replays it."""
    body = "".join(f"    {call}\n" for call in calls)
    write_test(pytester, "test_fix", CHAT + "\ndef test_fix():\n" + body)


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest("-p", "no:cacheprovider", *args)


def replay(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return run(pytester, "--llm-record=none", *args)


def explanation(result: pytest.RunResult) -> list[str]:
    """The lines CassetteMiss adds under its first one, as the user reads them.

    Compared as whole lines, not fnmatch patterns: a JSON path's ``[0]`` is a
    character class to fnmatch.
    """
    lines = result.stdout.lines
    start = next(i for i, line in enumerate(lines) if "errors.CassetteMiss: " in line)
    indent = lines[start].index("pytest_llmbudget.errors.CassetteMiss")
    shown = []
    for line in lines[start + 1 :]:
        if not line.startswith("E "):
            break
        shown.append(line[indent:])
    return shown


def report(pytester: pytest.Pytester) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((pytester.path / "report.json").read_text())
    return document


# -- A. a miss explains itself -------------------------------------------------------


def test_a_miss_names_the_closest_recording_and_the_fields_that_differ(
    pytester: pytest.Pytester, standin: StandIn
) -> None:
    suite(
        pytester,
        "chat('Summarise the log.', 10, temperature=0)",
        "chat('My CI build is broken.')",
    )
    run(pytester).assert_outcomes(passed=1)
    standin.reset()
    # Interaction 1 is first in the file but differs in three fields; 2 is the closest.
    suite(pytester, "chat('My CI build is broken!', 64000)")
    result = replay(pytester)
    result.assert_outcomes(failed=1)
    assert explanation(result) == [
        "The closest recording, interaction 2 of test_fix.yaml, differs in:",
        "  max_tokens: 8192 -> 64000",
        '  messages[0].content: "My CI build is broken." -> "My CI build is broken!"',
    ]
    assert standin.hits == 0


def test_a_miss_lists_query_and_header_changes_but_never_a_secret(
    pytester: pytest.Pytester, standin: StandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Redacted headers hold REDACTED in the cassette and the real value on the wire: the diff
    must neither print that value into a CI log nor call it a difference."""
    monkeypatch.setenv("ORG_ID", "org-Zq8Kx2Lm9Np4")
    monkeypatch.setenv("RELAY_TOKEN", "relay-7d1f0c9a5e3b")
    secret_headers = (
        "'openai-organization': os.environ['ORG_ID'], 'x-relay': os.environ['RELAY_TOKEN']"
    )
    suite(
        pytester,
        f"chat('hi', query='?api-version=2024-01-01', headers={{'x-team': 'a', {secret_headers}}})",
    )
    run(pytester).assert_outcomes(passed=1)
    suite(
        pytester,
        f"chat('hi', query='?api-version=2024-06-01', headers={{'x-team': 'b', {secret_headers}}})",
    )
    result = replay(pytester)
    result.assert_outcomes(failed=1)
    assert explanation(result) == [
        "The closest recording, interaction 1 of test_fix.yaml, differs in:",
        '  query.api-version: "2024-01-01" -> "2024-06-01"',
        '  header.x-team: "a" -> "b"',
    ]
    output = result.stdout.str() + result.stderr.str()
    assert "org-Zq8Kx2Lm9Np4" not in output
    assert "relay-7d1f0c9a5e3b" not in output


def test_a_miss_on_a_url_the_cassette_never_called_lists_what_it_records(
    pytester: pytest.Pytester, standin: StandIn
) -> None:
    suite(pytester, "chat('one')", "chat('two')")
    run(pytester).assert_outcomes(passed=1)
    suite(pytester, "chat('one', path='/v1/embeddings')")
    result = replay(pytester)
    result.assert_outcomes(failed=1)
    # Loopback URLs are shown as matching sees them: any port, one host name.
    assert explanation(result) == [
        "The cassette has no POST request to http://localhost/v1/embeddings; it records:",
        "  POST http://localhost/v1/chat/completions (2 times)",
    ]


def test_a_miss_without_a_cassette_says_it_does_not_exist_yet(
    pytester: pytest.Pytester, standin: StandIn
) -> None:
    suite(pytester, "chat('hi')")
    result = replay(pytester)
    result.assert_outcomes(failed=1)
    assert explanation(result) == ["The cassette does not exist yet (test_fix.yaml)."]
    assert not (pytester.path / CASSETTE).exists()
    assert standin.hits == 0


@pytest.mark.parametrize(
    ("second", "expected"),
    [
        pytest.param(
            "chat('hi')",
            [
                "The same request is interaction 1 of test_fix.yaml, already played by this "
                "test: it makes this call once more than when the cassette was recorded."
            ],
            id="the-same-request",
        ),
        pytest.param(
            "chat('hi', 16)",
            [
                "Every recording of POST http://localhost/v1/chat/completions was already "
                "played by this test; the closest, interaction 1 of test_fix.yaml, differs in:",
                "  max_tokens: 8192 -> 16",
            ],
            id="a-changed-request",
        ),
    ],
)
def test_a_call_past_the_recorded_ones_says_they_were_all_played(
    pytester: pytest.Pytester, standin: StandIn, second: str, expected: list[str]
) -> None:
    """A loop that now calls once more than it did looks like a changed request unless the
    miss says the recordings were there, and used up."""
    suite(pytester, "chat('hi')")
    run(pytester).assert_outcomes(passed=1)
    suite(pytester, "chat('hi')", second)
    result = replay(pytester)
    result.assert_outcomes(failed=1)
    assert explanation(result) == expected


# -- B. loopback ports and llm_match_ignore_url ----------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]"])
def test_a_loopback_recording_replays_on_another_port_and_host_name(
    pytester: pytest.Pytester, standin: StandIn, monkeypatch: pytest.MonkeyPatch, host: str
) -> None:
    monkeypatch.setenv("RESULT_FILE", str(pytester.path / "result.json"))
    suite(pytester, "save([chat('first'), chat('second')])")
    run(pytester).assert_outcomes(passed=1)
    recorded = result_of(pytester)
    with StandIn() as other:
        assert other.url != standin.url
        monkeypatch.setenv("STANDIN_URL", other.url.replace("127.0.0.1", host))
        replay(pytester).assert_outcomes(passed=1)
        assert other.hits == 0
    assert standin.hits == 2, "only the recording run reached a server"
    assert result_of(pytester) == recorded


@pytest.mark.parametrize("ignored", ["query.trace", "query"])
def test_llm_match_ignore_url_leaves_a_query_parameter_out_of_matching(
    pytester: pytest.Pytester, standin: StandIn, ignored: str
) -> None:
    suite(pytester, "chat('hi', query='?trace=1')")
    run(pytester).assert_outcomes(passed=1)
    suite(pytester, "chat('hi', query='?trace=2')")
    missed = replay(pytester)
    missed.assert_outcomes(failed=1)
    assert '  query.trace: "1" -> "2"' in explanation(missed)
    pytester.makeini(f"[pytest]\nllm_match_ignore_url = {ignored}\n")
    replay(pytester).assert_outcomes(passed=1)
    assert standin.hits == 1


def test_a_miss_does_not_blame_an_ignored_query_parameter(
    pytester: pytest.Pytester, standin: StandIn
) -> None:
    """Matching did not look at it, so naming it sends the user after the wrong change."""
    pytester.makeini("[pytest]\nllm_match_ignore_url = query.trace\n")
    suite(pytester, "chat('hi', query='?trace=1')")
    run(pytester).assert_outcomes(passed=1)
    suite(pytester, "chat('hello', query='?trace=2')")
    result = replay(pytester)
    result.assert_outcomes(failed=1)
    assert explanation(result) == [
        "The closest recording, interaction 1 of test_fix.yaml, differs in:",
        '  messages[0].content: "hi" -> "hello"',
    ]


@pytest.mark.parametrize("value", ["path", "fragment", "query."])
def test_a_bad_llm_match_ignore_url_value_is_a_usage_error_naming_the_allowed_ones(
    pytester: pytest.Pytester, standin: StandIn, value: str
) -> None:
    pytester.makeini(f"[pytest]\nllm_match_ignore_url = {value}\n")
    suite(pytester, "chat('hi')")
    result = run(pytester)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert (
        f"llm_match_ignore_url: {value!r} is not a part of a URL; use one of: "
        "scheme, host, port, query, or query.NAME for one query parameter"
    ) in result.stderr.str()
    assert standin.hits == 0


# -- C. what new mode appended ---------------------------------------------------------


def test_new_mode_says_what_it_added_to_a_cassette_and_what_the_test_no_longer_plays(
    pytester: pytest.Pytester, standin: StandIn
) -> None:
    suite(pytester, "chat('A')", "chat('B')")
    run(pytester).assert_outcomes(passed=1)
    suite(pytester, "chat('A')", "chat('C')")
    result = run(pytester, "--llm-record=new", "--llm-report=report.json")
    result.assert_outcomes(passed=1)
    assert standin.hits == 3, "A replayed, C recorded"
    assert (
        f"cassette {CASSETTE}: 1 interaction added by {NODEID}; 1 recorded one it did not play"
    ) in result.stdout.lines
    assert report(pytester)["appended"] == [
        {"nodeid": NODEID, "cassette": CASSETTE, "added": 1, "unplayed": 1}
    ]
    contents = [
        json.loads(interaction["request"]["body"])["messages"][0]["content"]
        for interaction in load_cassette(pytester.path / CASSETTE)["interactions"]
    ]
    assert contents == ["A", "B", "C"]


@pytest.mark.parametrize("mode", ["new", "none"])
def test_a_new_cassette_or_a_pure_replay_appends_nothing(
    pytester: pytest.Pytester, standin: StandIn, mode: str
) -> None:
    """The note is for cassettes that grew under the user's feet, not for every recording."""
    suite(pytester, "chat('A')", "chat('B')")
    recorded = run(pytester, "--llm-record=new", "--llm-report=report.json")
    recorded.assert_outcomes(passed=1)
    assert report(pytester)["appended"] == []
    assert "added by" not in recorded.stdout.str()
    replayed = run(pytester, f"--llm-record={mode}", "--llm-report=report.json")
    replayed.assert_outcomes(passed=1)
    assert standin.hits == 2
    assert report(pytester)["appended"] == []
    assert "added by" not in replayed.stdout.str()


def test_a_repeated_request_is_explained_by_its_played_recording_not_another_one(
    pytester: pytest.Pytester, standin: StandIn
) -> None:
    """An unplayed recording of the same URL for another prompt is not why this one missed."""
    suite(pytester, "chat('status?')", "chat('something else')")
    run(pytester).assert_outcomes(passed=1)
    suite(pytester, "chat('status?')", "chat('status?')")
    result = replay(pytester)
    result.assert_outcomes(failed=1)
    assert explanation(result) == [
        "The same request is interaction 1 of test_fix.yaml, already played by this test: "
        "it makes this call once more than when the cassette was recorded."
    ]
