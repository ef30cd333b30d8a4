"""pytest-recording's command-line options, taken on when pytest-recording is not there.

A suite's CI line (``pytest --record-mode=none --block-network``) must keep
working once pytest-recording is uninstalled or disabled (``-p no:recording``).
Its options can only be added once every plugin is registered, or they clash
with pytest-recording's own: so here, in ``pytest_load_initial_conftests``.
"""

from __future__ import annotations

import pytest

from pytest_llmbudget.recording.modes import RecordMode

# pytest-recording's record modes (vcrpy's, and its own "rewrite") in ours.
VCR_MODES = {
    "none": RecordMode.NONE,
    "once": RecordMode.ONCE,
    "new_episodes": RecordMode.NEW,
    "all": RecordMode.REWRITE,
    "rewrite": RecordMode.REWRITE,
}
OURS_TO_VCR = {
    RecordMode.NONE: "none",
    RecordMode.ONCE: "once",
    RecordMode.NEW: "new_episodes",
    RecordMode.REWRITE: "rewrite",
}
# Set when this plugin, not pytest-recording, serves @pytest.mark.vcr in this run.
SERVES_VCR = pytest.StashKey[bool]()
RECORDING_PLUGINS = ("recording", "pytest_recording.plugin", "pytest_recording")


def recording_active(pluginmanager: pytest.PytestPluginManager) -> bool:
    """pytest-recording is registered (installed and not disabled with ``-p no:recording``)."""
    return any(pluginmanager.get_plugin(name) is not None for name in RECORDING_PLUGINS)


def before_conftests(config: pytest.Config) -> None:
    """pytest-recording's fixtures, unless it is registered, before the conftests load: a
    suite's own ``vcr_config`` in a ``pytest_plugins`` module registers after ours and wins."""
    if not recording_active(config.pluginmanager):
        from pytest_llmbudget.vcrcompat import plugin

        plugin.install(config.pluginmanager)


def after_conftests(config: pytest.Config, parser: pytest.Parser) -> None:
    """pytest-recording's options, unless a conftest brought pytest-recording in after all
    (``pytest_plugins = ["pytest_recording.plugin"]``): then it serves its own marker, and
    ours would clash with its options."""
    from pytest_llmbudget.vcrcompat import plugin

    if recording_active(config.pluginmanager):
        if config.pluginmanager.get_plugin(plugin.NAME) is not None:
            config.pluginmanager.unregister(name=plugin.NAME)
        return
    config.stash[SERVES_VCR] = True
    group = parser.getgroup("recording", "pytest-recording's options, served by pytest-llmbudget")
    group.addoption(
        "--record-mode",
        action="store",
        default=None,
        choices=tuple(VCR_MODES),
        help="pytest-recording's record mode, as --llm-record: none, once, new_episodes "
        "(new), all and rewrite (rewrite). --llm-record wins when both are given.",
    )
    group.addoption(
        "--block-network",
        action="store_true",
        default=False,
        help="No LLM call goes live: replay only, unless --llm-record or --record-mode "
        "says otherwise. Other traffic is not blocked.",
    )
    group.addoption(
        "--allowed-hosts",
        action="store",
        default=None,
        help="Accepted for pytest-recording's sake; LLM calls are never blocked by host.",
    )
    group.addoption(
        "--allow-private-ips",
        action="store_true",
        default=False,
        help="Accepted for pytest-recording's sake; LLM calls are never blocked by address.",
    )
    group.addoption(
        "--disable-recording",
        action="store_true",
        default=False,
        help="Ignore @pytest.mark.vcr and vcr_config: tests record and replay by "
        "pytest-llmbudget's own rules.",
    )


def serves_vcr(config: pytest.Config) -> bool:
    return config.stash.get(SERVES_VCR, False)


def record_mode(config: pytest.Config) -> tuple[RecordMode, str] | None:
    """The mode pytest-recording's options ask for, and which option did."""
    if not serves_vcr(config):
        return None
    given = config.getoption("record_mode", None)
    if given:
        return VCR_MODES[str(given)], "--record-mode"
    if config.getoption("block_network", False):
        return RecordMode.NONE, "--block-network"
    return None
