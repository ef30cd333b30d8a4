"""pytest-recording's API, served by this plugin when pytest-recording is not there.

A suite recorded with pytest-recording carries its API in every file: the
``vcr`` marker, the ``vcr_config`` / ``vcr_cassette_dir`` /
``default_cassette_name`` fixtures it overrides, the ``vcr`` fixture its
conftest uses and the ``pytest_recording_configure`` hook. This module is
registered as a plugin only when pytest-recording is absent or disabled, so
the two never both serve one test; nothing here imports vcrpy until a marked
test is set up.

The fixtures are module functions, not methods of a plugin object: pytest
deprecates fixtures defined as instance methods, and a suite run with
``-W error`` must not fail on our account.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_llmbudget.vcrcompat import hookspec
from pytest_llmbudget.vcrcompat.options import OURS_TO_VCR

if TYPE_CHECKING:
    from pytest_llmbudget.settings import Settings
    from pytest_llmbudget.vcrcompat.view import CassetteView

MARKERS = (
    "vcr(*cassettes, **vcr_config): record and replay this test's HTTP calls; "
    "extra cassettes to replay from too (pytest-recording's marker, served by pytest-llmbudget)",
    "default_cassette(name): the name of this test's cassette (pytest-recording's marker)",
    "block_network: a test without the vcr marker may only replay its LLM calls "
    "(pytest-recording's marker)",
    "allowed_hosts(hosts): accepted for pytest-recording's sake",
)
SETTINGS = pytest.StashKey["Settings"]()


NAME = "llmbudget-vcr-api"


def install(pluginmanager: pytest.PytestPluginManager) -> None:
    """The fixtures, before any conftest or ``pytest_plugins`` module loads (theirs win)."""
    pluginmanager.register(sys.modules[__name__], NAME)


def register(config: pytest.Config, settings: Settings) -> bool:
    """The hook, the markers and the run's settings for the fixtures; False, and nothing
    served, when pytest-recording came in after all (a conftest's ``pytest_plugins``)."""
    from pytest_llmbudget.vcrcompat.options import recording_active

    if recording_active(config.pluginmanager):
        config.pluginmanager.unregister(name=NAME)
        return False
    if not _has_spec(config.pluginmanager):
        config.pluginmanager.add_hookspecs(hookspec)
    for line in MARKERS:
        config.addinivalue_line("markers", line)
    config.stash[SETTINGS] = settings
    return True


def _has_spec(pluginmanager: pytest.PytestPluginManager) -> bool:
    caller = getattr(pluginmanager.hook, "pytest_recording_configure", None)
    return caller is not None and caller.spec is not None


def _marked(item: pytest.Item) -> bool:
    from pytest_llmbudget.runstate import closest_marker

    return closest_marker(item, "vcr") is not None


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A marked test sets up ``vcr`` first, as pytest-recording's autouse fixture does,
    so its cassette settings are in place before any fixture makes a call. Unmarked
    tests pay nothing (an autouse fixture, or a per-test hook, would cost every test)."""
    from pytest_llmbudget.runstate import closest_marker

    for item in items:
        if _marked(item):
            names = getattr(item, "fixturenames", None)
            if isinstance(names, list) and "vcr" not in names:
                names.insert(_first_function_scoped(item, names), "vcr")
        elif closest_marker(item, "block_network") is not None:
            _block_network(item)


def _first_function_scoped(item: pytest.Item, names: list[str]) -> int:
    """Where ``vcr`` goes: after the module- and session-scoped fixtures, as an autouse
    function fixture would be set up, so their calls are not the first test's to record."""
    definitions = getattr(getattr(item, "_fixtureinfo", None), "name2fixturedefs", {})
    for index, name in enumerate(names):
        defs = definitions.get(name)
        if not defs or getattr(defs[-1], "scope", "function") == "function":
            return index
    return len(names)


def _block_network(item: pytest.Item) -> None:
    """``@pytest.mark.block_network`` on a test without ``vcr``: pytest-recording blocks its
    sockets whatever the record mode, so its LLM calls may only replay."""
    from pytest_llmbudget.recording.cassette_setup import CassetteSetup
    from pytest_llmbudget.recording.modes import RecordMode
    from pytest_llmbudget.runstate import CASSETTE_SETUP, cassette_file

    item.stash[CASSETTE_SETUP] = CassetteSetup(
        path=cassette_file(item, item.config.stash[SETTINGS]),
        mode=RecordMode.NONE,
        source="@pytest.mark.block_network",
    )


@pytest.fixture(scope="session")
def record_mode(request: pytest.FixtureRequest) -> str:
    """The run's record mode, in pytest-recording's words."""
    return OURS_TO_VCR[request.config.stash[SETTINGS].record_mode]


@pytest.fixture(scope="session")
def disable_recording(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("disable_recording", False))


@pytest.fixture
def vcr_config() -> dict[str, Any]:
    """Override it (any scope) to configure every marked test, as with pytest-recording."""
    return {}


@pytest.fixture(scope="module")
def vcr_cassette_dir(request: pytest.FixtureRequest) -> str:
    """Where the module's cassettes live: the same folder as for unmarked tests."""
    module = Path(str(request.node.path))
    base = request.config.stash[SETTINGS].cassette_dir or module.parent / "cassettes"
    return str(base / module.stem)


@pytest.fixture
def default_cassette_name(request: pytest.FixtureRequest) -> str:
    from pytest_llmbudget.recording.naming import default_cassette_name

    marker = request.node.get_closest_marker("default_cassette")
    if marker is not None:
        if not marker.args:
            raise pytest.UsageError(
                f"{request.node.nodeid}: @pytest.mark.default_cassette needs the "
                "cassette's name, e.g. default_cassette('login.yaml')"
            )
        return str(marker.args[0])
    cls = request.cls
    return default_cassette_name(request.node.name, cls.__name__ if cls else None)


@pytest.fixture
def vcr(request: pytest.FixtureRequest) -> Iterator[CassetteView | None]:
    """The test's cassette, as pytest-recording's ``vcr`` fixture gives it; None when the
    test is not marked (or ``--disable-recording``)."""
    item = request.node
    if not isinstance(item, pytest.Item) or not _marked(item):
        yield None
        return
    if request.getfixturevalue("disable_recording"):
        yield None
        return
    from pytest_llmbudget.runstate import CASSETTE_SETUP
    from pytest_llmbudget.vcrcompat.resolve import resolve
    from pytest_llmbudget.vcrcompat.view import CassetteView

    setup = resolve(request, request.config.stash[SETTINGS])
    item.stash[CASSETTE_SETUP] = setup
    yield CassetteView(item, setup)
