"""Record modes as SPEC §3 defines them, the CI default, and CassetteMiss."""

from __future__ import annotations

import pytest
from helpers import load_cassette, write_test
from standin import StandIn

ASK = """
import openai

def ask(text):
    client = openai.OpenAI(base_url=URL + "/v1", api_key=KEY, max_retries=0)
    reply = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": text}]
    )
    return reply.choices[0].message.content

def test_ask():
    ask(os.environ.get("PROMPT", "first"))
"""

CASSETTE = ("cassettes", "test_mode", "test_ask.yaml")


def _interactions(pytester: pytest.Pytester) -> int:
    return len(load_cassette(pytester.path.joinpath(*CASSETTE))["interactions"])


@pytest.fixture
def suite(pytester: pytest.Pytester, standin: StandIn) -> pytest.Pytester:
    write_test(pytester, "test_mode", ASK)
    return pytester


def test_none_mode_fails_a_miss_with_a_message_that_says_what_to_do(
    suite: pytest.Pytester, standin: StandIn
) -> None:
    result = suite.runpytest("-p", "no:cacheprovider", "--llm-record=none")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*CassetteMiss: POST http://127.0.0.1:*/v1/chat/completions has no recording in "
            "cassettes/test_mode/test_ask.yaml*--llm-record=none*"
            "pytest --llm-record=new 'test_mode.py::test_ask'*"
        ]
    )
    assert standin.hits == 0, "no byte reaches the network"
    assert not suite.path.joinpath(*CASSETTE).exists()
    assert "recorder.py" not in result.stdout.str(), "our own frames are hidden"


REFUSED_ONE = "LLM budget: no LLM call made; 1 call refused: no recording to replay (CassetteMiss)"


@pytest.mark.parametrize(
    "options",
    [[], ["--llm-report=report.json"], ["-n", "2"]],
    ids=["quiet", "with-report", "xdist"],
)
def test_a_run_whose_only_call_was_refused_says_so(
    suite: pytest.Pytester, standin: StandIn, options: list[str]
) -> None:
    """Not "no LLM calls": the run failed on one. (With a report the summary is built; under
    xdist the miss happened on a worker and the controller sums up.)"""
    result = suite.runpytest_subprocess("-p", "no:cacheprovider", "--llm-record=none", *options)
    result.assert_outcomes(failed=1)
    assert REFUSED_ONE in result.outlines
    assert "LLM budget: no LLM calls" not in result.outlines
    assert standin.hits == 0


def test_calls_refused_in_a_fixture_or_a_test_are_all_counted(
    pytester: pytest.Pytester, standin: StandIn
) -> None:
    """A miss in a fixture errors the test rather than failing it: still a refused call."""
    write_test(
        pytester,
        "test_fixture",
        ASK
        + """
import pytest

@pytest.fixture
def greeting():
    return ask("hello")

def test_greeted(greeting):
    pass
""",
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "--llm-record=none")
    result.assert_outcomes(failed=1, errors=1)
    assert (
        "LLM budget: no LLM call made; 2 calls refused: no recording to replay (CassetteMiss)"
        in result.outlines
    )


def test_refused_calls_are_listed_beside_the_replayed_ones(
    suite: pytest.Pytester, standin: StandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The prompt of one test changed since it was recorded: one call replays, one is refused."""
    write_test(
        suite, "test_mode", ASK + "\ndef test_other():\n    ask(os.environ.get('OTHER', 'x'))\n"
    )
    suite.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=2)
    monkeypatch.setenv("OTHER", "an edited prompt")
    result = suite.runpytest("-p", "no:cacheprovider", "--llm-record=none")
    result.assert_outcomes(passed=1, failed=1)
    lines = result.outlines
    assert any(line.startswith("calls: 1 (0 live, 1 replayed)") for line in lines)
    start = lines.index("refused: 1 call with no recording to replay (CassetteMiss):")
    assert lines[start + 1] == "  test_mode.py::test_other"


def test_the_sdk_does_not_swallow_or_retry_a_miss(suite: pytest.Pytester, standin: StandIn) -> None:
    suite.makepyfile(
        test_retry="""
        import openai, os
        def test_retrying_client():
            client = openai.OpenAI(base_url=os.environ["STANDIN_URL"] + "/v1",
                                   api_key="k", max_retries=5)
            try:
                client.chat.completions.create(model="m", messages=[])
            except Exception as error:  # what a polling loop would write
                raise AssertionError(f"swallowed as {type(error).__name__}")
        """
    )
    result = suite.runpytest("-p", "no:cacheprovider", "--llm-record=none", "test_retry.py")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*CassetteMiss*"])
    output = result.stdout.str()
    assert "swallowed" not in output
    assert "APIConnectionError" not in output, "the SDK did not wrap it for a retry"
    assert standin.hits == 0


def test_ci_defaults_to_replay_only(
    suite: pytest.Pytester, standin: StandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI", "true")
    result = suite.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*CassetteMiss*--llm-record=none*"])
    assert standin.hits == 0


@pytest.mark.parametrize("value", ["false", "0", ""])
def test_ci_false_records(
    value: str, suite: pytest.Pytester, standin: StandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI", value)
    suite.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)
    assert standin.hits == 1


def test_ini_sets_the_mode_and_the_option_wins(suite: pytest.Pytester, standin: StandIn) -> None:
    suite.makeini("[pytest]\nllm_record = none\n")
    suite.runpytest("-p", "no:cacheprovider").assert_outcomes(failed=1)
    suite.runpytest("-p", "no:cacheprovider", "--llm-record=new").assert_outcomes(passed=1)


def test_new_replays_matches_and_records_the_rest(
    suite: pytest.Pytester, standin: StandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    suite.runpytest("-p", "no:cacheprovider", "--llm-record=new").assert_outcomes(passed=1)
    suite.runpytest("-p", "no:cacheprovider", "--llm-record=new").assert_outcomes(passed=1)
    assert standin.hits == 1, "the second run replayed"
    monkeypatch.setenv("PROMPT", "second")
    suite.runpytest("-p", "no:cacheprovider", "--llm-record=new").assert_outcomes(passed=1)
    assert standin.hits == 2
    assert _interactions(suite) == 2


def test_once_records_only_a_missing_cassette(
    suite: pytest.Pytester, standin: StandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    suite.runpytest("-p", "no:cacheprovider", "--llm-record=once").assert_outcomes(passed=1)
    assert standin.hits == 1
    suite.runpytest("-p", "no:cacheprovider", "--llm-record=once").assert_outcomes(passed=1)
    assert standin.hits == 1
    monkeypatch.setenv("PROMPT", "second")
    result = suite.runpytest("-p", "no:cacheprovider", "--llm-record=once")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*CassetteMiss*--llm-record=once*"])
    assert _interactions(suite) == 1


def test_rewrite_records_afresh(
    suite: pytest.Pytester, standin: StandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    suite.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)
    monkeypatch.setenv("PROMPT", "second")
    suite.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)
    assert _interactions(suite) == 2
    suite.runpytest("-p", "no:cacheprovider", "--llm-record=rewrite").assert_outcomes(passed=1)
    assert standin.hits == 3, "rewrite goes live even though a recording matches"
    cassette = load_cassette(suite.path.joinpath(*CASSETTE))
    assert len(cassette["interactions"]) == 1
    assert "second" in cassette["interactions"][0]["request"]["body"]


@pytest.mark.parametrize("value", ["sometimes", "NONE!", "replay"])
def test_an_unknown_mode_is_a_usage_error(suite: pytest.Pytester, value: str) -> None:
    result = suite.runpytest("-p", "no:cacheprovider", f"--llm-record={value}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*use one of: none, once, new, rewrite*"])


def test_a_bad_ini_boolean_is_a_usage_error(suite: pytest.Pytester) -> None:
    suite.makeini("[pytest]\nllm_record_errors = maybe\n")
    result = suite.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*llm_record_errors*true or false*"])


KEEPERS = """
import openai, pytest

PHASE = os.environ.get("PHASE", "record")

def ask(text):
    client = openai.OpenAI(base_url=URL + "/v1", api_key=KEY, max_retries=0)
    return client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": text}])

@pytest.fixture
def service():
    if PHASE == "rewrite":
        raise RuntimeError("the service fixture broke")

@pytest.mark.skipif(PHASE == "rewrite", reason="another platform")
def test_skipped_by_marker():
    ask("a")

def test_skips_itself():
    if PHASE == "rewrite":
        pytest.skip("not today")
    ask("b")

def test_fails_before_its_call():
    assert PHASE != "rewrite"
    ask("c")

def test_fixture_errors(service):
    ask("d")

def test_gets_an_error_answer():
    try:
        ask("e")
    except openai.APIStatusError:
        assert PHASE == "rewrite"

def test_passes_without_calls_now():
    if PHASE != "rewrite":
        ask("f")

def test_passes_with_a_new_call():
    ask("g" if PHASE != "rewrite" else "g, again")
"""


def test_rewrite_keeps_the_cassette_of_a_test_that_did_not_pass_or_recorded_nothing(
    pytester: pytest.Pytester, standin: StandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_test(pytester, "test_keep", KEEPERS)
    pytester.runpytest("-p", "no:cacheprovider", "--llm-record=new").assert_outcomes(passed=7)
    folder = pytester.path / "cassettes" / "test_keep"
    before = {path.name: path.read_bytes() for path in folder.iterdir()}
    assert len(before) == 7

    monkeypatch.setenv("PHASE", "rewrite")
    # test_gets_an_error_answer is the fifth call: the first four never reach the server.
    standin.fail_next(400, {"error": {"message": "bad request", "type": "invalid_request_error"}})
    result = pytester.runpytest("-p", "no:cacheprovider", "--llm-record=rewrite")
    result.assert_outcomes(passed=3, skipped=2, failed=1, errors=1)

    after = {path.name: path.read_bytes() for path in folder.iterdir()}
    kept = [
        "test_skipped_by_marker.yaml",
        "test_skips_itself.yaml",
        "test_fails_before_its_call.yaml",
        "test_fixture_errors.yaml",
        "test_gets_an_error_answer.yaml",
    ]
    for name in kept:
        assert after.get(name) == before[name], name
    assert "test_passes_without_calls_now.yaml" not in after, "a passing test without calls"
    rewritten = after["test_passes_with_a_new_call.yaml"]
    assert rewritten != before["test_passes_with_a_new_call.yaml"]
    assert b"g, again" in rewritten


INTERRUPTED = """
import openai

def test_interrupted():
    client = openai.OpenAI(base_url=URL + "/v1", api_key=KEY, max_retries=0)
    client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": os.environ["PROMPT"]}])
    if os.environ.get("STOP") == "exit":
        import pytest
        pytest.exit("stopped by the test")
    raise KeyboardInterrupt  # Ctrl-C after a call that was paid for
"""


@pytest.mark.parametrize("stop", ["ctrl-c", "exit"])
def test_an_interrupted_test_keeps_the_calls_it_paid_for(
    stop: str, pytester: pytest.Pytester, standin: StandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A subprocess: in-process, pytester hands a KeyboardInterrupt on to the outer run."""
    write_test(pytester, "test_stop", INTERRUPTED)
    monkeypatch.setenv("STOP", stop)
    monkeypatch.setenv("PROMPT", "paid for")
    cassette = pytester.path / "cassettes" / "test_stop" / "test_interrupted.yaml"
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--llm-record=new")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    assert standin.hits == 1
    (interaction,) = load_cassette(cassette)["interactions"]
    assert "paid for" in interaction["request"]["body"]
    # rewrite: the interrupted test did not pass, so its earlier cassette stays.
    earlier = cassette.read_bytes()
    monkeypatch.setenv("PROMPT", "paid for again")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--llm-record=rewrite")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    assert standin.hits == 2
    assert cassette.read_bytes() == earlier
