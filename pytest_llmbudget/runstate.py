"""One pytest session's state, and the per-test hooks that hand each test its recorder.

pytest calls the per-test hooks for every test of a suite, and most tests
make no LLM call: so a test gets a `RecorderSlot` (its recorder is made at
its first call), and what only matters once calls happen - the outcome log,
the per-test cost check, the recorder settings, gates and ledger - is
registered or built when it first can matter, not for every run.
"""

from __future__ import annotations

import threading
from collections.abc import Generator, Sequence
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import pytest

from pytest_llmbudget.intercept.switchboard import SWITCHBOARD, RecorderSlot
from pytest_llmbudget.limits import Limits, violation
from pytest_llmbudget.recording.modes import RecordMode
from pytest_llmbudget.settings import Settings, parse_count, parse_usd

if TYPE_CHECKING:  # loaded when needed: the first LLM call, xdist, the end of a run
    from _pytest.nodes import Node

    from pytest_llmbudget.accounting import UsageNote
    from pytest_llmbudget.budget import RunGate
    from pytest_llmbudget.budget_warnings import BudgetWarnings
    from pytest_llmbudget.ledger import LedgerStore
    from pytest_llmbudget.recording.cassette_setup import CassetteSetup  # noqa: F401 (named in a string below)
    from pytest_llmbudget.recording.recorder import RecorderConfig, TestRecorder
    from pytest_llmbudget.records import CallRecord
    from pytest_llmbudget.shared_gate import Admissions
    from pytest_llmbudget.summary import RunSummary

RUN_ID_KEY = "llmbudget_run_id"
SLOT = pytest.StashKey[RecorderSlot]()
# Set by the vcr compatibility layer for a test marked @pytest.mark.vcr.
CASSETTE_SETUP = pytest.StashKey["CassetteSetup"]()
DID_NOT_PASS = pytest.StashKey[bool]()


class Engine(NamedTuple):
    """What recording and gating calls takes, built at the run's first LLM call."""

    recorder_config: RecorderConfig
    gate: RunGate
    ledger: LedgerStore
    shared: Admissions | None  # the run-wide gate of xdist workers, or of a team ledger


class OutcomeLog:
    """Each test's outcome and place, for the reports: a failed phase wins.

    Only tests with calls appear in the reports, so the log is registered at
    the run's first call; from the start where other tests matter too: on an
    xdist controller (its workers make the calls) and with ``--llm-report``
    (which lists every test's cassette, for prune).
    """

    def __init__(self) -> None:
        self.outcomes: dict[str, str] = {}
        self.locations: dict[str, tuple[str, int | None]] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        outcome: str = report.outcome
        if outcome == "passed" and report.when != "call":
            return  # every test has a call report or a setup report that is not "passed"
        nodeid = report.nodeid
        if nodeid not in self.locations:
            self.locations[nodeid] = (report.location[0], report.location[1])
        if self.outcomes.get(nodeid, "passed") == "passed":
            if outcome == "failed" and report.when != "call":
                outcome = "error"
            self.outcomes[nodeid] = outcome


class CostCheck:
    """Fails a test whose calls cost more than its budget: registered once a test has one.

    Checked after the test body, whatever its outcome: a test failing for
    another reason still has its cost violation reported (not raised over its
    own error). Not after teardown: module and session fixtures are torn down
    inside the last test's teardown, and their calls would fail that test.
    """

    def __init__(self, run: RunState) -> None:
        self._run = run

    @pytest.hookimpl(wrapper=True, trylast=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, None, None]:
        __tracebackhide__ = True
        try:
            result = yield
        except BaseException:
            self._check(item, raise_it=False)
            raise
        self._check(item, raise_it=True)
        return result

    def _check(self, item: pytest.Item, *, raise_it: bool) -> None:
        __tracebackhide__ = True
        slot = item.stash.get(SLOT, None)
        recorder = slot.recorder if slot is not None else None
        if recorder is None or not recorder.records:
            return
        limit, source = cost_limit(item, self._run.settings.limits)
        cost = sum((record.cost_usd for record in recorder.records), Decimal(0))
        if limit is None or cost <= limit:
            return
        from pytest_llmbudget.errors import LLMBudgetExceeded
        from pytest_llmbudget.report.formatting import usd

        message = (
            f"{item.nodeid} cost {usd(cost)} in LLM calls (replayed included), "
            f"over its budget of {usd(limit)} ({source})"
        )
        self._run.violate(
            violation(
                "test_budget", message, limit=float(limit), actual=float(cost), nodeid=item.nodeid
            )
        )
        if raise_it:
            raise LLMBudgetExceeded(
                message, limit=float(limit), actual=float(cost), nodeid=item.nodeid
            )


class RewriteOutcomes:
    """Under ``rewrite`` only: notes the tests whose setup or body did not pass.

    Such a test (skipped, failed, errored) keeps its earlier cassette: a
    ``skipif`` on another platform, or a provider's error answer, must not
    wipe a recording that works.
    """

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        if report.when != "teardown" and not report.passed:
            item.stash[DID_NOT_PASS] = True
        return report


class RunState:
    """What one pytest session knows: its settings, gates and every call made so far.

    Registered as a plugin: the per-test hooks and the xdist controller's are
    its methods. A plain class (and `Engine` a NamedTuple), not dataclasses:
    every run imports this module, and a dataclass takes about a millisecond
    to create.
    """

    def __init__(
        self,
        *,
        settings: Settings,
        pluginmanager: pytest.PytestPluginManager,
        run_id: str,
        warn: BudgetWarnings,
        is_worker: bool,
        log_outcomes: bool,
    ) -> None:
        self.settings = settings
        self.pluginmanager = pluginmanager
        self.hook = pluginmanager.hook
        self.run_id = run_id
        self.warn = warn
        self.is_worker = is_worker
        self.records: list[CallRecord] = []
        self.violations: list[dict[str, Any]] = []
        self.drift: list[dict[str, Any]] = []
        self.appended: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.summary: RunSummary | None = None
        self.collection_order: list[str] = []  # xdist controller only
        self.workers_done: set[str] = set()
        self.workers_lost: list[str] = []
        self.worker_counters: list[str] = []
        self.built: Engine | None = None
        self.quiet = False  # no call, nothing to write: the summary was not built
        self.log = OutcomeLog()
        self._logging = False
        self._cost_check = False
        self._running: list[RecorderSlot] = []  # tests set up and not yet torn down
        self._default_hooks: Any = None
        if log_outcomes:
            self._log_outcomes()
        if settings.record_mode is RecordMode.REWRITE:
            pluginmanager.register(RewriteOutcomes(), "llmbudget-rewrite-outcomes")

    @property
    def outcomes(self) -> dict[str, str]:
        return self.log.outcomes

    @property
    def locations(self) -> dict[str, tuple[str, int | None]]:
        return self.log.locations

    def _log_outcomes(self) -> None:
        # A worker's outcomes reach the reports through the controller's own log.
        if not self._logging and not self.is_worker:
            self._logging = True
            self.pluginmanager.register(self.log, "llmbudget-outcomes")

    def engine(self) -> Engine:
        """The recorder settings, gates and ledger: made once, by the run's first LLM call."""
        built = self.built
        if built is None:
            with self.lock:
                built = self.built
                if built is None:
                    built = self.built = build_engine(self)
            self._log_outcomes()
        return built

    def gate_violations(self) -> list[dict[str, Any]]:
        return list(self.built.gate.violations) if self.built is not None else []

    def add(self, record: CallRecord, note: UsageNote | None = None) -> UsageNote | None:
        """Account ``record``; a replay's ``note`` may stand for reading its answer (see
        accounting.py). Returns what reading the answer found, worth keeping, if it was read."""
        from pytest_llmbudget.accounting import account

        found = account(record, self.hook, note=note, defaults=self._defaults())
        if record.live:
            engine = self.engine()
            engine.gate.spent(record.cost_usd)
            engine.ledger.add(record)
        with self.lock:
            self.records.append(record)
        return found

    def _defaults(self) -> Any:
        defaults = self._default_hooks
        if defaults is None:
            defaults = self._default_hooks = self.pluginmanager.get_plugin("llmbudget-defaults")
        return defaults

    def abandon_running(self) -> None:
        """The run was interrupted inside a test (Ctrl-C, ``pytest.exit``): pytest skips its
        teardown. What it recorded live was paid for: save it (``rewrite`` keeps the earlier
        cassette, as for any test that did not pass)."""
        while self._running:
            slot = self._running.pop()
            SWITCHBOARD.pop(slot)
            if slot.recorder is not None:
                slot.recorder.close(passed=False)

    def violate(self, entry: dict[str, Any]) -> None:
        with self.lock:
            self.violations.append(entry)

    # -- every test ------------------------------------------------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        # The marker is read now, so that a malformed one fails the test that carries it.
        usd_limit, calls = marker_limits(item)
        if not self._cost_check and (
            usd_limit is not None or self.settings.limits.test_budget_usd is not None
        ):
            self._cost_check = True
            self.pluginmanager.register(CostCheck(self), "llmbudget-cost-check")
        if calls is not None:
            call_limit = (calls or None, "@pytest.mark.llm_budget(calls=...)")
        else:
            call_limit = (self.settings.limits.test_max_calls, "--llm-test-max-calls")
        slot = RecorderSlot(partial(self._recorder, item, call_limit))
        item.stash[SLOT] = slot
        self._running.append(slot)
        SWITCHBOARD.push(slot)

    def _recorder(self, item: pytest.Item, call_limit: tuple[int | None, str]) -> TestRecorder:
        from pytest_llmbudget.budget import TestGate
        from pytest_llmbudget.recording.recorder import TestRecorder

        return TestRecorder(
            self.engine().recorder_config,
            nodeid=item.nodeid,
            cassette_path=lambda: cassette_file(item, self.settings),
            on_call=self.add,
            test_gate=TestGate(item.nodeid, *call_limit, report=self.violate),
            setup=item.stash.get(CASSETTE_SETUP, None),
        )

    @pytest.hookimpl(wrapper=True, trylast=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> Generator[None, None, None]:
        try:
            return (yield)
        finally:
            self.warn.flush()  # what the test's threads had to say, now on pytest's thread
            slot = item.stash.get(SLOT, None)
            if slot is not None:
                SWITCHBOARD.pop(slot)
                if slot in self._running:
                    self._running.remove(slot)
                recorder = slot.recorder
                passed = not item.stash.get(DID_NOT_PASS, False)
                setup = item.stash.get(CASSETTE_SETUP, None)
                mode = setup.mode if setup is not None and setup.mode else self.settings.record_mode
                if recorder is None and passed and mode is RecordMode.REWRITE:
                    recorder = slot.get()  # rewrite drops the cassette of a test that made no call
                if recorder is not None:
                    recorder.close(passed=passed)
                    self._notes(item, recorder)

    def _notes(self, item: pytest.Item, recorder: TestRecorder) -> None:
        """Drift (one warning per test) and cassettes added to, for the summary."""
        with self.lock:
            self.drift.extend(recorder.drift)
            if recorder.appended_entry is not None:
                self.appended.append(recorder.appended_entry)
        if recorder.drift_text:
            from pytest_llmbudget import notices
            from pytest_llmbudget.errors import LLMCassetteDrift

            count = len(recorder.drift)
            head = (
                f"{count} call{'s' if count != 1 else ''} replayed a recording made for "
                f"a request that has changed since (matched {recorder.matching.loose_rule()}):"
            )
            notices.warn(item, LLMCassetteDrift("\n".join([head, *recorder.drift_text])))

    # -- pytest-xdist, on the controller --------------------------------------

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: Sequence[str]) -> None:
        if not self.collection_order:
            self.collection_order = list(ids)

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        """Every worker of this run shares its run id: the ledger's admissions are per run.

        Not xdist's ``testrunuid``: users pin that (``--testrunuid``) across runs.
        """
        node.workerinput[RUN_ID_KEY] = self.run_id

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: object) -> None:
        """A worker is done: its calls and violations join the run's (once: xdist may say twice)."""
        from pytest_llmbudget import workers

        name = str(getattr(getattr(node, "gateway", None), "id", id(node)))
        payload = getattr(node, "workeroutput", {}).get(workers.KEY)
        with self.lock:
            if name in self.workers_done or name in self.workers_lost:
                return
            if payload is None:  # the worker crashed before it could say
                self.workers_lost.append(name)
                return
            self.workers_done.add(name)
        result = workers.load(payload)
        with self.lock:
            self.records.extend(result.records)
            self.violations.extend(result.violations)
            self.drift.extend(result.drift)
            self.appended.extend(result.appended)
            if result.token_counter:
                self.worker_counters.append(result.token_counter)


# URLs whose default classification a run remembers (a suite calls a handful of endpoints).
CLASSIFIED_URLS = 1024


def build_engine(run: RunState) -> Engine:
    from pytest_llmbudget.budget import RunGate
    from pytest_llmbudget.ledger import Ledger
    from pytest_llmbudget.recording.recorder import RecorderConfig
    from pytest_llmbudget.recording.scrub import Scrubber

    settings = run.settings
    hook = run.hook

    classify_hook = hook.pytest_llmbudget_classify
    defaults = run.pluginmanager.get_plugin("llmbudget-defaults")
    by_url: dict[str, Any] = {}

    def classify_with_hooks(request: Any) -> Any:
        """The classify hook; the default answers by URL alone, so it is asked once per URL."""
        impls = classify_hook.get_hookimpls()
        if len(impls) != 1 or impls[0].plugin is not defaults:
            return classify_hook(request=request)
        url = request.url
        if url in by_url:
            return by_url[url]
        if len(by_url) >= CLASSIFIED_URLS:
            by_url.clear()
        found = by_url[url] = classify_hook(request=request)
        return found

    limits = settings.limits
    run_wide = any(
        limit is not None
        for limit in (limits.budget_usd, limits.max_calls, limits.daily_budget_usd)
    )
    ledger: LedgerStore
    shared: Admissions | None = None
    if settings.ledger_url is not None:
        # The team ledger: every live call admitted against it, whatever the process, so
        # a daily budget holds across the hosts that share it.
        from pytest_llmbudget.pg_ledger import PgAdmissions, PgLedger

        # Admitted with or without a limit: a server that cannot be reached refuses the
        # call before it is sent, rather than after, when its record cannot be written.
        ledger = PgLedger(settings.ledger_url, run_id=run.run_id)
        shared = PgAdmissions(settings.ledger_url, run.run_id)
    else:
        ledger = Ledger(settings.ledger_path, run_id=run.run_id)
        if run.is_worker and run_wide:
            from pytest_llmbudget.shared_gate import SharedAdmissions

            shared = SharedAdmissions(settings.ledger_path, run.run_id)
    gate = RunGate(
        limits,
        spent_today=ledger.spent_last_day if limits.daily_budget_usd is not None else None,
        warn=run.warn,
        shared=shared,
    )
    config = RecorderConfig(
        mode=settings.record_mode,
        scrubber=Scrubber(settings.redact_headers),
        match_ignore=settings.match_ignore,
        match_ignore_url=settings.match_ignore_url,
        record_errors=settings.record_errors,
        cassette_style=settings.cassette_style,
        extra_hosts=settings.hosts,
        rootdir=settings.rootdir,
        classifier=classify_with_hooks,
        run_gate=gate,
        run_id=run.run_id,
    )
    return Engine(recorder_config=config, gate=gate, ledger=ledger, shared=shared)


def closest_marker(item: pytest.Item, name: str) -> pytest.Mark | None:
    """What ``item.get_closest_marker(name)`` answers, walking the nodes by hand.

    pytest's version chains three generators; for every test of a suite that
    cost more than everything else this module does per test.
    """
    node: Node | None = item
    while node is not None:
        for mark in node.own_markers:
            if mark.name == name:
                return mark
        node = node.parent
    return None


def cassette_file(item: pytest.Item, settings: Settings) -> Path:
    """A test's cassette: named by its ``llm_cassette`` marker, else by pytest-recording's rule."""
    from pytest_llmbudget.recording.naming import cassette_path

    marker = closest_marker(item, "llm_cassette")
    marker_name = str(marker.args[0]) if marker is not None and marker.args else None
    cls = getattr(item, "cls", None)
    return cassette_path(
        test_file=item.path,
        test_name=item.name,
        class_name=cls.__name__ if cls is not None else None,
        cassette_dir=settings.cassette_dir,
        marker_name=marker_name,
    )


def marker_limits(item: pytest.Item) -> tuple[Decimal | None, int | None]:
    """The ``llm_budget`` marker's ``usd`` and ``calls``; a malformed marker is a usage error."""
    marker = closest_marker(item, "llm_budget")
    if marker is None:
        return None, None
    unknown = set(marker.kwargs) - {"usd", "calls"}
    if unknown or marker.args:
        raise pytest.UsageError(
            f"{item.nodeid}: @pytest.mark.llm_budget takes usd= and calls= only"
        )
    usd_limit = marker.kwargs.get("usd")
    calls = marker.kwargs.get("calls")
    return (
        parse_usd(usd_limit, "llm_budget(usd=...)") if usd_limit is not None else None,
        parse_count(calls, "llm_budget(calls=...)") if calls is not None else None,
    )


def cost_limit(item: pytest.Item, limits: Limits) -> tuple[Decimal | None, str]:
    """The test's cost budget and where it was set: its marker wins over the option."""
    usd_limit, _calls = marker_limits(item)
    if usd_limit is not None:
        return usd_limit, "@pytest.mark.llm_budget(usd=...)"
    return limits.test_budget_usd, "--llm-test-budget"
