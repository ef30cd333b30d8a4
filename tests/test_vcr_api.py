"""pytest-recording's API, served by this plugin when pytest-recording is disabled.

A suite moving over keeps its conftest: ``vcr_config`` and the marker's options
must mean here what they meant to vcrpy when the cassettes were recorded, and
the ``vcr`` fixture, the options and the hook must be there. Each test records
against the stand-in through this plugin, then replays, as a user's suite would.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import load_cassette
from standin import StandIn

# pytest-recording is installed in this environment: every run here disables it.
ALONE = ("-p", "no:recording", "-p", "no:cacheprovider", "-W", "error")

CHAT = """
import os

import httpx
import pytest

URL = os.environ["STANDIN_URL"]


def chat(text, path="/v1/chat/completions", **extra):
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}]}
    reply = httpx.post(URL + path, json={**body, **extra.pop("fields", {})}, **extra)
    reply.raise_for_status()
    return reply
"""


def _suite(pytester: pytest.Pytester, conftest: str, tests: str) -> None:
    pytester.makeconftest(textwrap.dedent(conftest))
    pytester.makepyfile(test_suite=CHAT + textwrap.dedent(tests))


def _cassette(pytester: pytest.Pytester, name: str) -> dict[str, Any]:
    return load_cassette(pytester.path / "cassettes" / "test_suite" / name)


FILTERS = """
import pytest

def before_record_request(request):
    if request.path.endswith("/embeddings"):
        return None  # kept out of the cassette: sent live every time
    request.headers["x-filtered-by"] = "before_record_request"
    return request

def before_record_response(response):
    response["headers"]["x-filtered-by"] = ["before_record_response"]
    return response

@pytest.fixture(scope="module")
def vcr_config():
    return {
        "filter_headers": ["x-team-secret", ("user-agent", "recorded-agent")],
        "filter_query_parameters": ["trace", ("mode", "MODE")],
        "filter_post_data_parameters": ["client_secret"],
        "before_record_request": before_record_request,
        "before_record_response": before_record_response,
        "decode_compressed_response": True,
    }
"""

FILTERED_TEST = """
@pytest.mark.vcr
def test_filtered():
    chat(
        "filters",
        path="/v1/chat/completions?trace=t-123&mode=fast",
        headers={"x-team-secret": "team-value", "x-standin-gzip": "1"},
        fields={"client_secret": "shh-value"},
    )
    embedding = httpx.post(URL + "/v1/embeddings", json={"model": "text-embedding-3-small", "input": "x"})
    assert embedding.status_code == 200
"""


def test_vcr_config_filters_shape_the_recording_and_the_calls_still_replay(
    pytester: pytest.Pytester, standin: StandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    _suite(pytester, FILTERS, FILTERED_TEST)

    pytester.runpytest(*ALONE).assert_outcomes(passed=1)

    (interaction,) = _cassette(pytester, "test_filtered.yaml")["interactions"]
    request, response = interaction["request"], interaction["response"]
    assert "x-team-secret" not in request["headers"]
    assert request["headers"]["user-agent"] == ["recorded-agent"]
    assert request["headers"]["x-filtered-by"] == ["before_record_request"]
    assert request["uri"].endswith("/v1/chat/completions?mode=MODE")
    assert "client_secret" not in json.loads(request["body"])
    assert response["headers"]["x-filtered-by"] == ["before_record_response"]
    # decode_compressed_response: the gzip answer is stored as readable JSON.
    assert "content-encoding" not in response["headers"]
    assert json.loads(response["body"]["string"])["usage"]["prompt_tokens"] > 0
    text = (pytester.path / "cassettes" / "test_suite" / "test_filtered.yaml").read_text()
    assert "team-value" not in text
    assert "shh-value" not in text
    assert "t-123" not in text

    standin.reset()
    monkeypatch.setenv("CI", "true")
    pytester.runpytest(*ALONE).assert_outcomes(passed=1)
    # The chat call replayed; the embeddings call, kept out by before_record_request, went live.
    assert [request.path for request in standin.requests] == ["/v1/embeddings"]


def test_the_vcr_fixture_reads_the_test_cassette_as_vcrpy_does(
    pytester: pytest.Pytester, standin: StandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    _suite(
        pytester,
        "",
        """
        @pytest.fixture
        def client(vcr):
            yield chat
            # the assertion real suites put in their conftest
            assert vcr.play_count >= 1, "no recorded interaction was played"

        @pytest.mark.vcr
        def test_reads(vcr, client):
            replaying = vcr.write_protected
            assert vcr.record_mode == ("none" if replaying else "new_episodes")
            assert len(vcr) == (2 if replaying else 0)
            client("first")
            client("second")
            assert len(vcr) == 2
            assert [request.method for request in vcr.requests] == ["POST", "POST"]
            assert vcr.responses[0]["status"]["code"] == 200
            assert vcr.all_played is replaying
            assert vcr.play_count == (2 if replaying else 0)
            assert vcr.path.endswith("cassettes/test_suite/test_reads.yaml")

        def test_unmarked(vcr):
            assert vcr is None
        """,
    )
    # Recording: the client fixture's own check fails, as under pytest-recording.
    result = pytester.runpytest(*ALONE)
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*no recorded interaction was played*"])

    monkeypatch.setenv("CI", "true")
    pytester.runpytest(*ALONE).assert_outcomes(passed=2)
    assert standin.hits == 2  # only the recording run reached the server


def test_record_mode_in_vcr_config_applies_unless_the_run_names_one(
    pytester: pytest.Pytester, standin: StandIn
) -> None:
    _suite(
        pytester,
        """
        import pytest

        @pytest.fixture
        def vcr_config():
            return {"record_mode": "none"}
        """,
        """
        @pytest.mark.vcr
        def test_mode():
            chat("mode")
        """,
    )
    refused = pytester.runpytest(*ALONE)
    refused.assert_outcomes(failed=1)
    refused.stdout.fnmatch_lines(["*CassetteMiss*record_mode from vcr_config=none*"])
    assert standin.hits == 0

    pytester.runpytest(*ALONE, "--llm-record=new").assert_outcomes(passed=1)
    assert standin.hits == 1
    pytester.runpytest(*ALONE).assert_outcomes(passed=1)
    assert standin.hits == 1


def test_rewrite_in_vcr_config_records_afresh_each_run_as_pytest_recording_does(
    pytester: pytest.Pytester, standin: StandIn
) -> None:
    """vcrpy itself has no "rewrite" mode: pytest-recording adds it, and so do we."""
    _suite(
        pytester,
        """
        import pytest

        @pytest.fixture
        def vcr_config():
            return {"record_mode": "rewrite"}
        """,
        """
        @pytest.mark.vcr
        def test_fresh():
            chat("fresh")
        """,
    )
    for run in (1, 2):
        pytester.runpytest(*ALONE).assert_outcomes(passed=1)
        assert standin.hits == run
        assert len(_cassette(pytester, "test_fresh.yaml")["interactions"]) == 1


@pytest.mark.parametrize(
    ("options", "hits"),
    [
        (("--record-mode=none",), None),
        (("--block-network",), None),
        # test_new has no cassette yet: "once" records it.
        (("--record-mode=once",), 1),
        (("--record-mode=new_episodes",), 1),
        (("--record-mode=all",), 2),
        (("--record-mode=rewrite", "--allowed-hosts=127.0.0.1"), 2),
    ],
)
def test_pytest_recording_options_map_to_record_modes(
    pytester: pytest.Pytester, standin: StandIn, options: tuple[str, ...], hits: int | None
) -> None:
    """The suite's CI line keeps working once pytest-recording is gone.

    ``hits``: the calls that went live, or None when the run may not record at all.
    """
    _suite(
        pytester,
        "",
        """
        @pytest.mark.vcr
        def test_old():
            chat("recorded")

        @pytest.mark.vcr
        def test_new():
            chat("never recorded")
        """,
    )
    pytester.runpytest(*ALONE, "-k", "test_old").assert_outcomes(passed=1)
    standin.reset()

    result = pytester.runpytest(*ALONE, *options)

    if hits is None:
        result.assert_outcomes(passed=1, failed=1)
        result.stdout.fnmatch_lines(["*CassetteMiss*test_new.yaml*"])
        assert standin.hits == 0
    else:
        result.assert_outcomes(passed=2)
        assert standin.hits == hits


def test_a_record_mode_pytest_recording_does_not_know_is_a_usage_error(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_suite="def test_nothing():\n    pass\n")
    result = pytester.runpytest(*ALONE, "--record-mode=sometimes")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--record-mode*invalid choice*'sometimes'*none*new_episodes*"])


def test_ignored_hosts_go_live_unrecorded_and_still_count(
    pytester: pytest.Pytester, standin: StandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    """vcrpy's ignore_localhost: the suite's own local server is never recorded."""
    _suite(
        pytester,
        """
        import pytest

        @pytest.fixture
        def vcr_config():
            return {"ignore_localhost": True}
        """,
        """
        @pytest.mark.vcr
        def test_local():
            chat("local")
        """,
    )
    monkeypatch.setenv("CI", "true")
    result = pytester.runpytest(*ALONE, "--llm-report=report.json")
    result.assert_outcomes(passed=1)
    assert standin.hits == 1
    assert not (pytester.path / "cassettes").exists()
    totals = json.loads((pytester.path / "report.json").read_text())["totals"]
    assert (totals["calls"], totals["live_calls"]) == (1, 1)


def test_block_network_on_a_test_without_vcr_lets_its_llm_calls_only_replay(
    pytester: pytest.Pytester, standin: StandIn
) -> None:
    """pytest-recording blocks that test's sockets whatever the record mode."""
    _suite(
        pytester,
        "",
        """
        @pytest.mark.block_network
        def test_blocked():
            chat("blocked")

        @pytest.mark.block_network
        @pytest.mark.vcr
        def test_recorded():
            chat("recorded")
        """,
    )
    result = pytester.runpytest(*ALONE, "--llm-record=new")

    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        ["*CassetteMiss*test_blocked.yaml*record_mode from @pytest.mark.block_network=none*"]
    )
    assert standin.hits == 1  # the vcr-marked test recorded, as with pytest-recording


def test_disable_recording_leaves_the_test_to_this_plugins_own_rules(
    pytester: pytest.Pytester, standin: StandIn
) -> None:
    _suite(
        pytester,
        """
        import pytest

        @pytest.fixture
        def vcr_config():
            return {"filter_headers": ["x-team-secret"], "record_mode": "none"}
        """,
        """
        @pytest.mark.vcr
        def test_plain(vcr):
            assert vcr is None
            chat("plain", headers={"x-team-secret": "team-value"})
        """,
    )
    # vcr_config's record_mode "none" no longer applies: the call is recorded.
    pytester.runpytest(*ALONE, "--disable-recording").assert_outcomes(passed=1)
    (interaction,) = _cassette(pytester, "test_plain.yaml")["interactions"]
    # ...by this plugin's rules: its own stamp, the header vcr_config filtered kept.
    assert "recorded_at" in interaction
    assert interaction["request"]["headers"]["x-team-secret"] == ["team-value"]


def test_a_matcher_registered_in_pytest_recording_configure_is_used_in_match_on(
    pytester: pytest.Pytester, standin: StandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A foreign cassette matched by the suite's own matcher: the model asked for."""
    _suite(
        pytester,
        """
        import json

        import pytest

        def same_model(r1, r2):
            assert json.loads(r1.body)["model"] == json.loads(r2.body)["model"]

        def pytest_recording_configure(config, vcr):
            vcr.register_matcher("same_model", same_model)

        @pytest.fixture
        def vcr_config():
            return {"match_on": ["method", "path", "same_model"]}
        """,
        """
        @pytest.mark.vcr
        def test_models():
            assert "mini" in chat("a", fields={"model": "gpt-4o-mini"}).json()["model"]
            assert "nano" in chat("b", fields={"model": "gpt-4.1-nano"}).json()["model"]
        """,
    )
    monkeypatch.setenv("CI", "true")
    folder = pytester.path / "cassettes" / "test_suite"
    folder.mkdir(parents=True)
    # Recorded by vcrpy: no stamp of ours, prompts that differ from today's, reverse order.
    interactions = [
        _vcrpy_interaction(model, f"recorded for {model}")
        for model in ("gpt-4.1-nano", "gpt-4o-mini")
    ]
    (folder / "test_models.yaml").write_text(
        yaml.safe_dump({"interactions": interactions, "version": 1})
    )

    result = pytester.runpytest(*ALONE[:4])  # drift warnings expected: not -W error

    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines(["*same_model*", '*messages[[]0[]].content: "recorded for*'])
    assert standin.hits == 0


def test_equal_options_are_read_by_vcrpy_once_and_a_fresh_callable_each_time(
    pytester: pytest.Pytester, standin: StandIn
) -> None:
    """pytest-recording's own ``vcr_config`` is function-scoped: each test returns a new
    dict. Equal plain options are read once for the run; options holding a callable built
    per test are read per test, and each test's filter is its own."""
    _suite(
        pytester,
        """
        import pytest

        def pytest_recording_configure(config, vcr):
            with open("configured.txt", "a") as log:
                log.write("x")

        @pytest.fixture
        def vcr_config(request):
            if "filtered" not in request.node.name:
                return {"filter_headers": ["x-team-secret"], "match_on": ["method", "path"]}
            tag = request.node.name.rsplit("_", 1)[-1]

            def before_record_request(recorded):
                recorded.headers["x-tag"] = tag
                return recorded

            return {"before_record_request": before_record_request}
        """,
        """
        @pytest.mark.vcr
        @pytest.mark.parametrize("n", range(3))
        def test_plain(n):
            chat(f"plain {n}", headers={"x-team-secret": "team-value"})

        @pytest.mark.vcr
        def test_filtered_one():
            chat("one")

        @pytest.mark.vcr
        def test_filtered_two():
            chat("two")
        """,
    )

    pytester.runpytest(*ALONE, "--llm-record=new").assert_outcomes(passed=5)

    # Once for the three equal configurations, once for each of the other two.
    assert (pytester.path / "configured.txt").read_text() == "xxx"
    for n in range(3):
        (interaction,) = _cassette(pytester, f"test_plain[{n}].yaml")["interactions"]
        assert "x-team-secret" not in interaction["request"]["headers"]
    for tag in ("one", "two"):
        (interaction,) = _cassette(pytester, f"test_filtered_{tag}.yaml")["interactions"]
        assert interaction["request"]["headers"]["x-tag"] == [tag]
    assert standin.hits == 5


@pytest.mark.parametrize("repeats", [True, False])
def test_allow_playback_repeats_replays_a_recording_again(
    pytester: pytest.Pytester, standin: StandIn, monkeypatch: pytest.MonkeyPatch, repeats: bool
) -> None:
    """A polling test recorded once, replayed as often as it asks (vcrpy's option)."""
    _suite(
        pytester,
        f"""
        import pytest

        @pytest.fixture
        def vcr_config():
            return {{"allow_playback_repeats": {repeats}}}
        """,
        """
        @pytest.mark.vcr
        def test_polls():
            answers = [chat("status?").json()["choices"][0]["message"]["content"] for _ in range(3)]
            assert answers == ["ok"] * 3
        """,
    )
    monkeypatch.setenv("CI", "true")
    folder = pytester.path / "cassettes" / "test_suite"
    folder.mkdir(parents=True)
    recorded = {"interactions": [_vcrpy_interaction("gpt-4o-mini", "status?")], "version": 1}
    (folder / "test_polls.yaml").write_text(yaml.safe_dump(recorded))

    result = pytester.runpytest(*ALONE, "--llm-report=report.json")

    if repeats:
        result.assert_outcomes(passed=1)
        report = json.loads((pytester.path / "report.json").read_text())
        assert report["totals"]["calls"] == 3
    else:
        result.assert_outcomes(failed=1)
        result.stdout.fnmatch_lines(["*CassetteMiss*", "*already played by this test*"])
    assert standin.hits == 0


def test_a_credential_each_side_redacted_its_own_way_is_no_drift(
    pytester: pytest.Pytester, standin: StandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The suite's filter wrote ``key=<FILTERED>``; this plugin redacts the live key as
    ``REDACTED``: the same credential, not a change to report."""
    _suite(
        pytester,
        """
        import pytest

        @pytest.fixture
        def vcr_config():
            return {"filter_query_parameters": [("key", "<FILTERED>")]}
        """,
        """
        @pytest.mark.vcr
        def test_keyed():
            chat("status?", path="/v1/chat/completions?key=live-key-123456789")
        """,
    )
    monkeypatch.setenv("CI", "true")
    folder = pytester.path / "cassettes" / "test_suite"
    folder.mkdir(parents=True)
    interaction = _vcrpy_interaction("gpt-4o-mini", "status?")
    interaction["request"]["uri"] += "?key=%3CFILTERED%3E"
    (folder / "test_keyed.yaml").write_text(
        yaml.safe_dump({"interactions": [interaction], "version": 1})
    )

    result = pytester.runpytest(*ALONE, "--llm-report=report.json")

    result.assert_outcomes(passed=1)
    assert json.loads((pytester.path / "report.json").read_text())["drift"] == []
    assert "live-key-123456789" not in result.stdout.str()
    assert standin.hits == 0


def _vcrpy_interaction(model: str, prompt: str) -> dict[str, Any]:
    body = {"model": model, "messages": [{"role": "user", "content": prompt}]}
    answer = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": model,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 9, "completion_tokens": 1, "total_tokens": 10},
    }
    return {
        "request": {
            "body": json.dumps(body),
            "headers": {"content-type": ["application/json"]},
            "method": "POST",
            "uri": "http://127.0.0.1:9/v1/chat/completions",
        },
        "response": {
            "body": {"string": json.dumps(answer)},
            "headers": {"content-type": ["application/json"]},
            "status": {"code": 200, "message": "OK"},
        },
    }


def test_the_marker_cassettes_are_replayed_too_and_never_written(
    pytester: pytest.Pytester, standin: StandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``@pytest.mark.vcr("shared.yaml")``: recordings several tests share, read-only."""
    _suite(
        pytester,
        "",
        """
        @pytest.mark.vcr("shared.yaml")
        def test_shared():
            chat("shared")
            chat("own")
        """,
    )
    folder = pytester.path / "cassettes" / "test_suite"
    folder.mkdir(parents=True)
    # shared.yaml as another test recorded it.
    pytester.makepyfile(test_donor=CHAT + "\ndef test_donor():\n    chat('shared')\n")
    pytester.runpytest(*ALONE, "test_donor.py", "--llm-cassette-dir=donor").assert_outcomes(
        passed=1
    )
    shared = folder / "shared.yaml"
    (pytester.path / "donor" / "test_donor" / "test_donor.yaml").rename(shared)
    before = shared.read_bytes()
    standin.reset()

    pytester.runpytest(*ALONE, "test_suite.py").assert_outcomes(passed=1)

    assert [json.loads(r.body)["messages"][0]["content"] for r in standin.requests] == ["own"]
    assert shared.read_bytes() == before
    own = _cassette(pytester, "test_shared.yaml")["interactions"]
    assert [json.loads(i["request"]["body"])["messages"][0]["content"] for i in own] == ["own"]

    monkeypatch.setenv("CI", "true")
    standin.reset()
    pytester.runpytest(*ALONE, "test_suite.py").assert_outcomes(passed=1)
    assert standin.hits == 0


def test_cassette_names_and_folders_come_from_pytest_recordings_fixtures(
    pytester: pytest.Pytester, standin: StandIn
) -> None:
    _suite(
        pytester,
        """
        from pathlib import Path

        import pytest

        @pytest.fixture(scope="module")
        def vcr_cassette_dir(request):
            return str(Path(__file__).parent / "recordings" / request.module.__name__)

        @pytest.fixture(scope="session")
        def vcr_config():
            return {"serializer": "json"}
        """,
        """
        pytestmark = pytest.mark.vcr

        class TestGroup:
            def test_in_class(self):
                chat("class")

        @pytest.mark.default_cassette("chosen")
        def test_named():
            chat("named")
        """,
    )
    pytester.runpytest(*ALONE).assert_outcomes(passed=2)
    assert not (pytester.path / "cassettes").exists()
    written = sorted(
        p.relative_to(pytester.path).as_posix() for p in (pytester.path / "recordings").rglob("*")
    )
    assert written == [
        "recordings/test_suite",
        "recordings/test_suite/TestGroup.test_in_class.json",
        "recordings/test_suite/chosen.json",
    ]
    document = json.loads((pytester.path / written[1]).read_text())
    assert document["version"] == 1
    assert len(document["interactions"]) == 1


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ('{"persister": Persister}', "*CassetteError*the persister Persister cannot read it*"),
        (
            '{"filter_sensitive_data": {"<ACCOUNT>": "acct-98765"}}',
            "*filter_sensitive_data is not supported by pytest-llmbudget*pytest-recording*",
        ),
        ('[("match_on", ["method"])]', "*vcr_config fixture returned list, not a dict*"),
        ('{"record_mode": "sometimes"}', "*record_mode='sometimes' is not a record mode*"),
    ],
)
def test_a_vcr_config_this_plugin_cannot_serve_is_a_clear_error(
    pytester: pytest.Pytester, standin: StandIn, config: str, message: str
) -> None:
    _suite(
        pytester,
        f"""
        import pytest

        class Persister:
            @staticmethod
            def load_cassette(path, serializer):
                raise RuntimeError("a disk on fire")

            @staticmethod
            def save_cassette(path, data, serializer):
                pass

        @pytest.fixture
        def vcr_config():
            return {config}
        """,
        """
        @pytest.mark.vcr
        def test_configured():
            chat("configured")
        """,
    )
    result = pytester.runpytest(*ALONE)
    assert result.ret != pytest.ExitCode.OK
    result.stdout.fnmatch_lines([message])
    assert standin.hits == 0
    assert not Path(pytester.path / "cassettes").exists()


# Both plugins active: pytest-recording serves the marker, this plugin counts and budgets.
BESIDE = ("-p", "recording", "-p", "no:cacheprovider", "-W", "error")


def test_beside_pytest_recording_live_calls_vcrpy_records_are_counted_and_budgeted(
    pytester: pytest.Pytester, standin: StandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    _suite(
        pytester,
        "",
        """
        @pytest.mark.vcr
        def test_twice():
            chat("one")
            chat("two")
        """,
    )
    stopped = pytester.runpytest(
        *BESIDE, "--record-mode=once", "--llm-max-calls=1", "--llm-report=report.json"
    )

    stopped.assert_outcomes(failed=1)
    stopped.stdout.fnmatch_lines(["*LLMBudgetExceeded*"])
    assert standin.hits == 1  # the second call was refused before it was sent
    report = json.loads((pytester.path / "report.json").read_text())
    assert (report["totals"]["calls"], report["totals"]["live_calls"]) == (1, 1)
    assert report["totals"]["spend_usd"] > 0

    # Recorded by vcrpy (pytest-recording's cassette), replayed by vcrpy, counted here.
    pytester.runpytest(*BESIDE, "--record-mode=rewrite").assert_outcomes(passed=1)
    assert standin.hits == 3
    monkeypatch.setenv("CI", "true")
    pytester.runpytest(*BESIDE, "--record-mode=none", "--llm-report=report.json").assert_outcomes(
        passed=1
    )
    assert standin.hits == 3
    totals = json.loads((pytester.path / "report.json").read_text())["totals"]
    assert (totals["calls"], totals["live_calls"], totals["spend_usd"]) == (2, 0, 0)
    assert totals["cost_usd"] > 0


@pytest.mark.parametrize("absolute", [False, True])
def test_cassette_library_dir_in_vcr_config_is_where_cassettes_live(
    pytester: pytest.Pytester, standin: StandIn, monkeypatch: pytest.MonkeyPatch, absolute: bool
) -> None:
    """langchain's shape: every cassette in one folder, relative to where pytest runs."""
    library = str(pytester.path / "tests" / "cassettes") if absolute else "tests/cassettes"
    pytester.mkdir("tests")
    (pytester.path / "tests" / "conftest.py").write_text(
        textwrap.dedent(
            f"""
            import pytest

            @pytest.fixture(scope="session")
            def vcr_config():
                return {{"cassette_library_dir": {library!r}, "record_mode": "once"}}
            """
        )
    )
    (pytester.path / "tests" / "integration").mkdir()
    (pytester.path / "tests" / "integration" / "test_suite.py").write_text(
        CHAT + "\n@pytest.mark.vcr\ndef test_lib():\n    chat('library')\n"
    )
    pytester.runpytest(*ALONE).assert_outcomes(passed=1)
    assert (pytester.path / "tests" / "cassettes" / "test_lib.yaml").is_file()
    assert not list(pytester.path.rglob("cassettes/test_suite"))

    monkeypatch.setenv("CI", "true")
    pytester.runpytest(*ALONE).assert_outcomes(passed=1)
    assert standin.hits == 1


def test_vcr_config_from_a_pytest_plugins_module_overrides_ours(
    pytester: pytest.Pytester, standin: StandIn
) -> None:
    """AutoGPT's shape: the VCR settings live in a module the conftest lists in pytest_plugins."""
    pytester.makepyfile(
        suite_vcr="""
        import pytest

        @pytest.fixture(scope="module")
        def vcr_cassette_dir(request):
            return str(request.config.rootpath / "vcr_cassettes" / request.node.name[:-3])

        @pytest.fixture
        def vcr_config():
            return {"filter_headers": ["x-team-secret"]}
        """
    )
    pytester.makeconftest('pytest_plugins = ["suite_vcr"]')
    pytester.makepyfile(
        test_suite=CHAT
        + "\n@pytest.mark.vcr\ndef test_plug():\n"
        + "    chat('plugged', headers={'x-team-secret': 'team-value'})\n"
    )
    pytester.syspathinsert()

    pytester.runpytest(*ALONE).assert_outcomes(passed=1)

    cassette = pytester.path / "vcr_cassettes" / "test_suite" / "test_plug.yaml"
    (interaction,) = load_cassette(cassette)["interactions"]
    assert "x-team-secret" not in interaction["request"]["headers"]


def test_cassette_names_are_pytest_recordings_for_odd_and_long_test_ids(
    pytester: pytest.Pytester, standin: StandIn
) -> None:
    """Quotes and percent signs become ``-``; a name too long for a file ends in its MD5."""
    long_id = "x" * 300
    _suite(
        pytester,
        "",
        f"""
        @pytest.mark.vcr
        @pytest.mark.parametrize(
            "question", ["What's 50% of 10?", pytest.param("long", id="{long_id}")]
        )
        def test_ask(question, vcr):
            chat(question)
            assert vcr._path == vcr.path

        @pytest.mark.parametrize("question", ["What's 50% of 10?"])
        def test_plain(question):
            chat(question)
        """,
    )
    pytester.runpytest(*ALONE, "--allow-private-ips").assert_outcomes(passed=3)

    names = sorted(p.name for p in (pytester.path / "cassettes" / "test_suite").iterdir())
    full = f"test_ask[{long_id}]"
    digest = hashlib.md5(full.encode()).hexdigest()
    (long_name,) = [name for name in names if name.startswith("test_ask[xxx")]
    assert sorted(set(names) - {long_name}) == [
        "test_ask[What-s 50- of 10-].yaml",
        "test_plain[What-s 50- of 10-].yaml",
    ]
    assert long_name.endswith(f"...{digest}.yaml")
    assert len(long_name) <= 255


GZIP_PERSISTER = """
import gzip

import pytest
import yaml
from vcr.persisters.filesystem import CassetteNotFoundError
from vcr.request import Request


class GzipSerializer:
    @staticmethod
    def serialize(cassette_dict):
        cassette_dict["requests"] = [request._to_dict() for request in cassette_dict["requests"]]
        return gzip.compress(yaml.safe_dump(cassette_dict).encode("utf-8"))

    @staticmethod
    def deserialize(data):
        cassette = yaml.safe_load(gzip.decompress(data).decode("utf-8"))
        cassette["requests"] = [Request._from_dict(r) for r in cassette["requests"]]
        return cassette


class GzipPersister:
    @classmethod
    def load_cassette(cls, cassette_path, serializer):
        try:
            with open(cassette_path, "rb") as stream:
                data = stream.read()
        except FileNotFoundError:
            raise CassetteNotFoundError(cassette_path) from None
        cassette = serializer.deserialize(data)
        return cassette["requests"], cassette["responses"]

    @staticmethod
    def save_cassette(cassette_path, cassette_dict, serializer):
        with open(cassette_path, "wb") as stream:
            stream.write(serializer.serialize(cassette_dict))


def pytest_recording_configure(config, vcr):
    vcr.register_persister(GzipPersister())
    vcr.register_serializer("yaml.gz", GzipSerializer())


@pytest.fixture(scope="session")
def vcr_config():
    return {
        "serializer": "yaml.gz",
        "match_on": ["method", "uri", "body"],
        "filter_headers": [("authorization", "PLACEHOLDER")],
    }
"""


def test_a_persister_of_the_suite_reads_and_writes_its_cassettes(
    pytester: pytest.Pytester, standin: StandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    """langchain's shape: gzipped cassettes through a persister registered in the hook."""
    _suite(
        pytester,
        GZIP_PERSISTER,
        """
        @pytest.mark.vcr
        def test_zipped():
            chat("zipped", headers={"authorization": "Bearer sk-test-abcdefghijkl"})
        """,
    )
    pytester.mkdir("cassettes")
    (pytester.path / "cassettes" / "test_suite").mkdir()

    pytester.runpytest(*ALONE).assert_outcomes(passed=1)

    written = pytester.path / "cassettes" / "test_suite" / "test_zipped.yaml.gz"
    text = gzip.decompress(written.read_bytes()).decode("utf-8")
    assert "sk-test-abcdefghijkl" not in text
    document = yaml.safe_load(text)
    (request,) = document["requests"]
    assert request["headers"]["authorization"] == ["REDACTED"]
    assert json.loads(document["responses"][0]["body"]["string"])["usage"]["prompt_tokens"] > 0

    monkeypatch.setenv("CI", "true")
    for plugins in (ALONE, BESIDE):
        result = pytester.runpytest(*plugins, "--record-mode=none", "--llm-report=report.json")
        result.assert_outcomes(passed=1)
        totals = json.loads((pytester.path / "report.json").read_text())["totals"]
        assert (totals["calls"], totals["live_calls"]) == (1, 0)
    assert standin.hits == 1


def test_a_vcr_test_records_and_replays_all_its_http_and_counts_only_llm_calls(
    pytester: pytest.Pytester, standin: StandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    """vcrpy records every request of a marked test (a document download, a search API):
    replay-only CI must not send them. An unmarked test's other traffic stays untouched."""
    _suite(
        pytester,
        "",
        """
        import requests

        @pytest.mark.vcr
        def test_everything(vcr):
            assert httpx.get(URL + "/documents/report.pdf").json() == {"ok": True}
            assert requests.post(URL + "/v2/search", json={"q": "x"}).status_code == 404
            chat("summarise")
            assert vcr.play_count == (3 if vcr.write_protected else 0)

        def test_unmarked():
            assert httpx.get(URL + "/status").json() == {"ok": True}
        """,
    )
    pytester.runpytest(*ALONE, "--llm-report=report.json").assert_outcomes(passed=2)
    assert standin.hits == 4
    interactions = _cassette(pytester, "test_everything.yaml")["interactions"]
    assert [i["request"]["uri"].split("/", 3)[3] for i in interactions] == [
        "documents/report.pdf",
        "v2/search",
        "v1/chat/completions",
    ]
    # the 404 of a request that is no LLM call is recorded, as vcrpy records it
    assert interactions[1]["response"]["status"]["code"] == 404
    assert not (pytester.path / "cassettes" / "test_suite" / "test_unmarked.yaml").exists()
    totals = json.loads((pytester.path / "report.json").read_text())["totals"]
    assert (totals["calls"], totals["live_calls"]) == (1, 1)

    standin.reset()
    monkeypatch.setenv("CI", "true")
    result = pytester.runpytest(*ALONE, "--llm-report=report.json", "--llm-max-calls=0")
    result.assert_outcomes(passed=2)
    assert [request.path for request in standin.requests] == ["/status"]
    totals = json.loads((pytester.path / "report.json").read_text())["totals"]
    assert (totals["calls"], totals["live_calls"]) == (1, 0)


def test_headers_in_match_on_compare_credentials_as_the_cassette_holds_them(
    pytester: pytest.Pytester, standin: StandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cassette holds ``authorization: REDACTED``; the live header is compared redacted."""
    pytester.makeconftest(
        textwrap.dedent(
            """
            import pytest

            @pytest.fixture
            def vcr_config():
                return {"match_on": ["method", "uri", "headers"]}
            """
        )
    )
    pytester.makepyfile(
        test_suite=CHAT.replace("import os", "import json\nimport os")
        + textwrap.dedent(
            """
            @pytest.mark.vcr
            def test_signed(vcr):
                reply = chat("signed", headers={"authorization": "Bearer sk-test-abcdefghijkl"})
                assert reply.json() == json.loads(vcr.responses[0]["body"]["string"])
            """
        )
    )
    pytester.runpytest(*ALONE).assert_outcomes(passed=1)
    monkeypatch.setenv("CI", "true")
    pytester.runpytest(*ALONE).assert_outcomes(passed=1)
    assert standin.hits == 1


def test_a_module_fixture_calls_before_the_first_test_cassette_opens(
    pytester: pytest.Pytester, standin: StandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As with pytest-recording: a module fixture's traffic is no test's to record, so any
    one test replays alone."""
    _suite(
        pytester,
        "",
        """
        @pytest.fixture(scope="module")
        def warm():
            return httpx.get(URL + "/health").json()

        @pytest.mark.vcr
        def test_one(warm):
            chat("one")

        @pytest.mark.vcr
        def test_two(warm):
            chat("two")
        """,
    )
    pytester.runpytest(*ALONE).assert_outcomes(passed=2)
    uris = [i["request"]["uri"] for i in _cassette(pytester, "test_one.yaml")["interactions"]]
    assert [uri.rsplit("/", 1)[1] for uri in uris] == ["completions"]
    monkeypatch.setenv("CI", "true")
    pytester.runpytest(*ALONE, "-k", "test_two").assert_outcomes(passed=1)


def test_pytest_recording_loaded_by_a_conftest_serves_the_marker_without_a_clash(
    pytester: pytest.Pytester, standin: StandIn
) -> None:
    """``pytest_plugins = ["pytest_recording.plugin"]`` with ``-p no:recording``."""
    _suite(
        pytester,
        'pytest_plugins = ["pytest_recording.plugin"]\n',
        """
        @pytest.mark.vcr
        def test_theirs(vcr):
            chat("theirs")
            assert type(vcr).__module__ == "vcr.cassette"
        """,
    )
    result = pytester.runpytest(*ALONE, "--record-mode=once", "--llm-report=report.json")
    result.assert_outcomes(passed=1)
    totals = json.loads((pytester.path / "report.json").read_text())["totals"]
    assert (totals["calls"], totals["live_calls"]) == (1, 1)


def test_a_serializer_that_fails_to_save_is_a_named_error(
    pytester: pytest.Pytester, standin: StandIn
) -> None:
    _suite(
        pytester,
        """
        import pytest

        class Broken:
            @staticmethod
            def serialize(cassette_dict):
                raise TypeError("cannot write binary data")

            @staticmethod
            def deserialize(text):
                return {"interactions": [], "version": 1}

        def pytest_recording_configure(config, vcr):
            vcr.register_serializer("broken", Broken)

        @pytest.fixture
        def vcr_config():
            return {"serializer": "broken"}
        """,
        """
        @pytest.mark.vcr
        def test_saved():
            chat("saved")
        """,
    )
    result = pytester.runpytest(*ALONE)
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        ["*CassetteSaveError: cassette *test_saved.broken could not be saved: the serializer*"]
    )
