"""Suites shaped like real projects recorded with pytest-recording, replayed by it alone.

Each suite under tests/data/migration/ is a conftest, test modules and the cassettes
pytest-recording would have written for them, recorded by older SDKs: the request bodies
the tests send today are not the recorded ones. These tests pin down how pytest-recording
itself behaves on them, the baseline a replacement has to meet.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Generator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from pytest_llmbudget.report import jsonreport

MIGRATION = Path(__file__).parent / "data" / "migration"

# How many tests each suite has (pytest-recording passes them all).
SUITES = {"anthropic_suite": 9, "gemini_suite": 4, "openai_suite": 5}

# Many real suites turn every warning into an error; all three pass that way with pytest-recording.
STRICT_WARNINGS = ("-W", "error")
# pytest-recording alone, replay only, and no socket may be opened.
PYTEST_RECORDING = (
    "-p",
    "no:llmbudget",
    "-p",
    "recording",
    "-p",
    "no:cacheprovider",
    "--record-mode=none",
    "--block-network",
    *STRICT_WARNINGS,
)

# vcrpy's own default, which pytest-recording keeps unless vcr_config says otherwise.
VCRPY_MATCH_ON = ("method", "scheme", "host", "port", "path", "query")

# The tests whose recorded request bodies differ in meaning from what they send now
# (not only in key order, spacing or escapes).
BODY_CHANGED = {
    "anthropic_suite": {
        # max_tokens 1024 recorded, 4096 sent.
        "test_messages.py::test_create_message",
        # max_tokens 8192 recorded, 64000 sent.
        "test_messages.py::test_stream_message",
        # "My CI build is broken." recorded, "...broken!" sent.
        "test_messages.py::TestConversation::test_multi_turn",
        # system as a string recorded, as a cached text block sent.
        "test_messages.py::TestConversation::test_system_prompt",
    },
    "gemini_suite": {
        # maxOutputTokens 128 recorded, 256 sent; the SDK now adds the system instruction's role.
        "test_generate.py::test_generate_with_config",
        # safetySettings recorded, none sent.
        "test_generate.py::test_stream_story",
    },
    "openai_suite": {
        # max_tokens recorded, max_completion_tokens sent (both requests).
        "test_chat.py::test_chat_flow",
        # the user message as a string recorded, as a list of content parts sent.
        "test_chat.py::test_stream_with_usage",
        # the tool recorded without "strict" and "additionalProperties".
        "test_tools.py::test_tool_call",
    },
}

# The tests whose recorded URL is not the one the SDK calls now: they pass only because
# the suite's own match_on leaves out what changed.
URI_CHANGED = {
    # /v1/messages/count_tokens?beta=true recorded (the beta of SDK 0.40), no query sent.
    "anthropic_suite": {"test_models.py::test_count_tokens"},
    # /v1beta/models/... recorded by google-genai 1.10, /v1/models/... sent by 3.x.
    "gemini_suite": {
        "test_generate.py::test_generate_text",
        "test_generate.py::test_generate_with_config",
        "test_generate.py::test_compare_models",
        "test_generate.py::test_stream_story",
    },
    "openai_suite": set(),
}

# Environment that would send the SDKs somewhere other than their real base URLs.
PROVIDER_ENVIRONMENT = (
    "ANTHROPIC_BASE_URL",
    "OPENAI_BASE_URL",
    "GOOGLE_GEMINI_BASE_URL",
    "GOOGLE_GENAI_USE_VERTEXAI",
    "GOOGLE_CLOUD_PROJECT",
    "GOOGLE_CLOUD_LOCATION",
)


def copy_suite(pytester: pytest.Pytester, name: str) -> Path:
    """Copy tests/data/migration/<name> into the pytester directory; return that directory."""
    shutil.copytree(
        MIGRATION / name,
        pytester.path,
        dirs_exist_ok=True,
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    return pytester.path


def cassette_files(root: Path) -> dict[str, bytes]:
    return {str(path.relative_to(root)): path.read_bytes() for path in sorted(root.rglob("*.yaml"))}


@pytest.fixture(autouse=True)
def _real_provider_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROVIDER_ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)


class _MatchOn:
    """Changes what every ``vcr_config`` of an inner run matches on.

    ``add`` extends the suite's match_on (vcrpy's default when it has none); ``replace``
    puts vcrpy's default back in place of the suite's own.
    """

    def __init__(self, *, add: tuple[str, ...] = (), replace: bool = False) -> None:
        self.add = add
        self.replace = replace

    @pytest.hookimpl(wrapper=True)
    def pytest_fixture_setup(
        self, fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest
    ) -> Generator[None, object, object]:
        value = yield
        if fixturedef.argname == "vcr_config" and isinstance(value, dict):
            # The cached value itself: every test of the module sees the change.
            match_on = VCRPY_MATCH_ON if self.replace else value.get("match_on", VCRPY_MATCH_ON)
            value["match_on"] = [*match_on, *(m for m in self.add if m not in match_on)]
        return value


def failing_tests(reprec: pytest.HookRecorder) -> dict[str, str]:
    """Node id -> the text of its first failure (in any phase)."""
    failures: dict[str, str] = {}
    for report in reprec.getreports("pytest_runtest_logreport"):
        if report.failed:
            failures.setdefault(report.nodeid, report.longreprtext)
    return failures


def passed_tests(reprec: pytest.HookRecorder) -> set[str]:
    passed, _, _ = reprec.listoutcomes()
    return {report.nodeid for report in passed}


@pytest.mark.parametrize(("name", "count"), sorted(SUITES.items()))
def test_pytest_recording_alone_replays_every_test_of_the_suite(
    pytester: pytest.Pytester, name: str, count: int
) -> None:
    root = copy_suite(pytester, name)
    before = cassette_files(root)
    assert before, "the suite has no cassettes"

    result = pytester.runpytest(*PYTEST_RECORDING)

    result.assert_outcomes(passed=count)
    assert cassette_files(root) == before


@pytest.mark.parametrize("name", sorted(SUITES))
def test_matching_bodies_too_misses_exactly_the_tests_whose_bodies_changed(
    pytester: pytest.Pytester, name: str
) -> None:
    copy_suite(pytester, name)

    reprec = pytester.inline_run(*PYTEST_RECORDING, plugins=[_MatchOn(add=("body",))])

    failures = failing_tests(reprec)
    assert set(failures) == BODY_CHANGED[name]
    for nodeid, text in failures.items():
        assert "CannotOverwriteExistingCassetteException" in text, nodeid
        assert "differ in body" in text, nodeid
    assert len(passed_tests(reprec)) == SUITES[name] - len(BODY_CHANGED[name])


@pytest.mark.parametrize("name", sorted(SUITES))
def test_vcrpy_default_matching_misses_exactly_the_tests_whose_urls_changed(
    pytester: pytest.Pytester, name: str
) -> None:
    copy_suite(pytester, name)

    reprec = pytester.inline_run(*PYTEST_RECORDING, plugins=[_MatchOn(replace=True)])

    failures = failing_tests(reprec)
    assert set(failures) == URI_CHANGED[name]
    for nodeid, text in failures.items():
        assert "CannotOverwriteExistingCassetteException" in text, nodeid
    assert len(passed_tests(reprec)) == SUITES[name] - len(URI_CHANGED[name])


def _check_headers(headers: Any, where: str) -> None:
    assert isinstance(headers, dict), where
    for header, values in headers.items():
        assert isinstance(header, str), where
        assert isinstance(values, list), where
        assert all(isinstance(value, str) for value in values), where


def test_the_cassettes_are_shaped_as_vcrpy_writes_them() -> None:
    """Only what vcrpy writes: no key of ours (recorded_at, duration_s...) anywhere."""
    paths = sorted(MIGRATION.rglob("*.yaml"))
    assert len(paths) == 18
    for path in paths:
        where = str(path.relative_to(MIGRATION))
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert set(document) == {"interactions", "version"}, where
        assert document["version"] == 1, where
        assert document["interactions"], where
        for interaction in document["interactions"]:
            assert set(interaction) == {"request", "response"}, where
            request, response = interaction["request"], interaction["response"]
            # The gemini suite's serializer stores JSON bodies under parsed_body instead.
            request_body = {"parsed_body"} if "parsed_body" in request else {"body"}
            assert set(request) == {*request_body, "headers", "method", "uri"}, where
            response_body = {"parsed_body"} if "parsed_body" in response else {"body"}
            assert set(response) == {*response_body, "headers", "status"}, where
            if "body" in response:
                assert set(response["body"]) == {"string"}, where
            assert set(response["status"]) == {"code", "message"}, where
            assert response["status"]["code"] == 200, where
            _check_headers(request["headers"], where)
            _check_headers(response["headers"], where)


# What each suite's tests call, counted from their code (a shared cassette holds more).
CALLS = {"anthropic_suite": 10, "gemini_suite": 5, "openai_suite": 7}

# This plugin alone: pytest-recording disabled, replay-only as on CI.
THIS_PLUGIN_ALONE = (
    "-p",
    "no:recording",
    "-p",
    "no:cacheprovider",
    "--llm-report=report.json",
    *STRICT_WARNINGS,
)
# Both plugins, pytest-recording replay-only: vcrpy answers, this plugin counts.
BOTH_PLUGINS = (
    "-p",
    "no:cacheprovider",
    "--record-mode=none",
    "--llm-report=report.json",
    *STRICT_WARNINGS,
)


def drift_warnings(reprec: pytest.HookRecorder) -> dict[str, int]:
    """Node id -> how many LLMCassetteDrift warnings it got."""
    counts: dict[str, int] = {}
    for call in reprec.getcalls("pytest_warning_recorded"):
        if call.warning_message.category.__name__ == "LLMCassetteDrift":
            counts[call.nodeid] = counts.get(call.nodeid, 0) + 1
    return counts


def report_of(root: Path) -> dict[str, Any]:
    """The run's JSON report, checked against the schema the package ships."""
    document: dict[str, Any] = json.loads((root / "report.json").read_text())
    jsonschema.validate(document, jsonreport.schema())
    return document


def replay_suite(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, name: str, *args: str
) -> dict[str, Any]:
    """Replay suite ``name`` as CI does: every test passes, no cassette changes, every call
    is counted and priced, none live. The run's report, for more checks."""
    monkeypatch.setenv("CI", "true")
    root = copy_suite(pytester, name)
    before = cassette_files(root)

    reprec = pytester.inline_run(*args)

    assert failing_tests(reprec) == {}
    assert len(passed_tests(reprec)) == SUITES[name]
    assert cassette_files(root) == before
    report = report_of(root)
    totals = report["totals"]
    assert (totals["calls"], totals["live_calls"]) == (CALLS[name], 0)
    assert totals["cost_usd"] > 0
    return report


@pytest.mark.parametrize("name", sorted(SUITES))
def test_this_plugin_alone_replays_every_test_and_counts_every_call(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    replay_suite(pytester, monkeypatch, name, *THIS_PLUGIN_ALONE)


@pytest.mark.parametrize("name", sorted(SUITES))
def test_each_test_whose_request_changed_gets_one_drift_warning_and_report_entry(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.setenv("CI", "true")
    root = copy_suite(pytester, name)
    changed = BODY_CHANGED[name] | URI_CHANGED[name]

    reprec = pytester.inline_run(*THIS_PLUGIN_ALONE)

    assert drift_warnings(reprec) == dict.fromkeys(changed, 1)
    drift = report_of(root)["drift"]
    assert {entry["nodeid"] for entry in drift} == changed
    for entry in drift:
        assert entry["changes"], entry
        assert entry["cassette"].endswith(".yaml")


# Loaded with -p before anything else: pytest_recording cannot be imported, as if never installed.
NOT_INSTALLED = """
import importlib.abc
import sys


class _NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] == "pytest_recording":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, _NotInstalled())
"""


@pytest.mark.parametrize(("name", "count"), sorted(SUITES.items()))
def test_without_pytest_recording_installed_every_test_replays_and_every_call_counts(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, name: str, count: int
) -> None:
    """No pytest-recording at all: no entry point loaded, its package not importable."""
    monkeypatch.setenv("CI", "true")
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    root = copy_suite(pytester, name)
    pytester.makepyfile(no_pytest_recording=NOT_INSTALLED)
    before = cassette_files(root)

    result = pytester.runpytest_subprocess(
        "-p", "no_pytest_recording", "-p", "llmbudget", *THIS_PLUGIN_ALONE[2:]
    )

    result.assert_outcomes(passed=count, warnings=len(BODY_CHANGED[name] | URI_CHANGED[name]))
    assert cassette_files(root) == before
    totals = report_of(root)["totals"]
    assert (totals["calls"], totals["live_calls"]) == (CALLS[name], 0)
    check = pytester.run(sys.executable, "-c", "import no_pytest_recording, pytest_recording")
    assert "No module named 'pytest_recording'" in check.stderr.str()


@pytest.mark.parametrize("name", sorted(SUITES))
def test_drift_fails_a_test_only_when_its_own_warning_category_is_made_an_error(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    """``-W error`` is for the suite's own warnings; naming LLMCassetteDrift asks for failures.

    In a subprocess: warning categories are resolved by import, and in-process runs
    drop and re-import our modules between runs.
    """
    monkeypatch.setenv("CI", "true")
    copy_suite(pytester, name)
    changed = BODY_CHANGED[name] | URI_CHANGED[name]

    result = pytester.runpytest_subprocess(
        *THIS_PLUGIN_ALONE, "-W", "error::pytest_llmbudget.LLMCassetteDrift", "-rE"
    )

    # The body of every test passed; each drifted one errors in its teardown, once.
    result.assert_outcomes(passed=SUITES[name], errors=len(changed))
    errored = {line.split(" ")[1] for line in result.outlines if line.startswith("ERROR ")}
    assert errored == changed
    assert result.stdout.str().count("LLMCassetteDrift: ") >= len(changed)


@pytest.mark.parametrize(
    ("name", "nodeid", "change"),
    [
        (
            "anthropic_suite",
            "test_messages.py::test_stream_message",
            {"path": "max_tokens", "recorded": 8192, "sent": 64000},
        ),
        (
            "anthropic_suite",
            "test_messages.py::TestConversation::test_multi_turn",
            {
                "path": "messages[0].content",
                "recorded": "My CI build is broken.",
                "sent": "My CI build is broken!",
            },
        ),
        (
            "anthropic_suite",
            "test_models.py::test_count_tokens",
            {"path": "query.beta", "recorded": "true"},
        ),
        (
            "openai_suite",
            "test_tools.py::test_tool_call",
            {"path": "tools[0].function.strict", "sent": True},
        ),
        (
            "gemini_suite",
            "test_generate.py::test_generate_text",
            {
                "path": "path",
                "recorded": "/v1beta/models/gemini-2.0-flash:generateContent",
                "sent": "/v1/models/gemini-2.0-flash:generateContent",
            },
        ),
    ],
)
def test_the_drift_entry_holds_the_field_level_change(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    nodeid: str,
    change: dict[str, Any],
) -> None:
    monkeypatch.setenv("CI", "true")
    root = copy_suite(pytester, name)

    pytester.inline_run(*THIS_PLUGIN_ALONE, nodeid)

    changes = [c for entry in report_of(root)["drift"] for c in entry["changes"]]
    assert change in changes


@pytest.mark.parametrize("name", sorted(SUITES))
def test_beside_pytest_recording_every_call_vcrpy_answers_is_counted_once(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    report = replay_suite(pytester, monkeypatch, name, *BOTH_PLUGINS)

    # vcrpy matched these, not this plugin: no drift is claimed for them.
    assert report["drift"] == []
