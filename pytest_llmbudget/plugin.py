"""pytest glue: options, markers, fixtures, and the hooks that give each test its recorder.

Kept thin on purpose: every decision is made in a module named for it.
"""

from __future__ import annotations

import threading
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_llmbudget import hookspecs, runscope
from pytest_llmbudget.budget import Limits, RunGate, TestGate, violation
from pytest_llmbudget.errors import LLMBudgetExceeded
from pytest_llmbudget.intercept import install as interception
from pytest_llmbudget.intercept.switchboard import SWITCHBOARD
from pytest_llmbudget.ledger import Ledger
from pytest_llmbudget.recording.naming import cassette_path
from pytest_llmbudget.recording.playback import REPORT_ATTRIBUTE
from pytest_llmbudget.recording.recorder import HttpRequest, RecorderConfig, TestRecorder
from pytest_llmbudget.recording.scrub import Scrubber
from pytest_llmbudget.records import CallRecord
from pytest_llmbudget.report.formatting import usd
from pytest_llmbudget.settings import Settings, add_options, parse_count, parse_usd
from pytest_llmbudget.usage import LLMUsage

if TYPE_CHECKING:  # loaded when needed: xdist workers, the end of a run
    from pytest_llmbudget.shared_gate import SharedAdmissions
    from pytest_llmbudget.summary import RunSummary, Totals


@dataclass
class RunState:
    """What one pytest session knows: its settings, gates and every call made so far."""

    settings: Settings
    recorder_config: RecorderConfig
    hook: Any
    gate: RunGate
    ledger: Ledger
    records: list[CallRecord] = field(default_factory=list)
    outcomes: dict[str, str] = field(default_factory=dict)
    violations: list[dict[str, Any]] = field(default_factory=list)
    locations: dict[str, tuple[str, int | None]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    summary: RunSummary | None = None
    shared: SharedAdmissions | None = None  # the run-wide gate of an xdist worker
    collection_order: list[str] = field(default_factory=list)  # xdist controller only
    workers_done: set[str] = field(default_factory=set)
    workers_lost: list[str] = field(default_factory=list)
    worker_counters: list[str] = field(default_factory=list)

    def add(self, record: CallRecord) -> None:
        from pytest_llmbudget.accounting import account

        account(record, self.hook)
        if record.live:
            self.gate.spent(record.cost_usd)
            self.ledger.add(record)
        with self.lock:
            self.records.append(record)

    def violate(self, entry: dict[str, Any]) -> None:
        with self.lock:
            self.violations.append(entry)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Remember each test's outcome and place for the reports: a failed phase wins."""
        self.locations.setdefault(report.nodeid, (report.location[0], report.location[1]))
        if report.when != "call" and report.outcome == "passed":
            return
        if self.outcomes.get(report.nodeid) in (None, "passed"):
            outcome: str = report.outcome
            if report.when != "call" and report.outcome == "failed":
                outcome = "error"
            self.outcomes[report.nodeid] = outcome

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
        node.workerinput[RUN_ID_KEY] = self.ledger.run_id

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
            if result.token_counter:
                self.worker_counters.append(result.token_counter)


RUN = pytest.StashKey[RunState]()
RUN_ID_KEY = "llmbudget_run_id"
RECORDER = pytest.StashKey[TestRecorder]()


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hookspecs)


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def _price_book(settings: Settings) -> Any:
    from pytest_llmbudget.pricing import PriceBook, PriceFileError, load_overrides

    overrides = {}
    if settings.prices_file is not None:
        try:
            overrides = load_overrides(settings.prices_file)
        except PriceFileError as error:
            raise pytest.UsageError(f"llm_prices: {error}") from None
    return PriceBook(overrides, settings.free_hosts)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "llm_cassette(name): record this test's LLM calls into cassette NAME"
    )
    config.addinivalue_line(
        "markers",
        "llm_budget(usd=None, calls=None): this test may cost at most USD "
        "(replayed calls included) and make at most CALLS LLM calls",
    )
    settings = Settings.from_config(config)
    from pytest_llmbudget.defaults import DefaultHooks

    config.pluginmanager.register(
        DefaultHooks(settings.hosts, _price_book(settings)), "llmbudget-defaults"
    )
    hook = config.hook

    def classify_with_hooks(request: HttpRequest) -> Any:
        return hook.pytest_llmbudget_classify(request=request)

    limits = settings.limits
    run_id = _run_id(config)
    ledger = Ledger(settings.ledger_path, run_id=run_id)
    run_wide = (limits.budget_usd, limits.max_calls, limits.daily_budget_usd)
    shared = None
    if _is_worker(config) and any(limit is not None for limit in run_wide):
        from pytest_llmbudget.shared_gate import SharedAdmissions

        shared = SharedAdmissions(settings.ledger_path, run_id)
    gate = RunGate(
        limits,
        spent_today=ledger.spent_last_day if limits.daily_budget_usd is not None else None,
        warn=_warner(config),
        shared=shared,
    )
    config.stash[RUN] = RunState(
        settings=settings,
        recorder_config=RecorderConfig(
            mode=settings.record_mode,
            scrubber=Scrubber(settings.redact_headers),
            match_ignore=settings.match_ignore,
            record_errors=settings.record_errors,
            extra_hosts=settings.hosts,
            rootdir=settings.rootdir,
            classifier=classify_with_hooks,
            run_gate=gate,
            run_id=run_id,
        ),
        hook=hook,
        gate=gate,
        ledger=ledger,
        shared=shared,
    )
    config.pluginmanager.register(config.stash[RUN], "llmbudget-run")
    if settings.report_path is not None:  # what llmbudget prune and rerecord read
        runscope.watch(config, rootdir=settings.rootdir, record_mode=settings.record_mode.value)
    interception.install()


def _is_worker(config: pytest.Config) -> bool:
    """An xdist worker: runs tests, hands its calls to the controller, reports nothing."""
    return hasattr(config, "workerinput")


def _run_id(config: pytest.Config) -> str:
    import uuid

    given = getattr(config, "workerinput", {}).get(RUN_ID_KEY)
    return str(given or uuid.uuid4().hex)


def _warner(config: pytest.Config) -> Any:
    def warn(message: str) -> None:
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(message, yellow=True)

    return warn


def pytest_unconfigure(config: pytest.Config) -> None:
    if RUN in config.stash:
        run = config.stash[RUN]
        run.ledger.close()
        if run.shared is not None:
            run.shared.close()
        del config.stash[RUN]
        interception.uninstall()


def cassette_file(item: pytest.Item, settings: Settings) -> Path:
    """A test's cassette: named by its ``llm_cassette`` marker, else by pytest-recording's rule."""
    marker = item.get_closest_marker("llm_cassette")
    marker_name = str(marker.args[0]) if marker is not None and marker.args else None
    cls = getattr(item, "cls", None)
    return cassette_path(
        test_file=item.path,
        test_name=item.name,
        class_name=cls.__name__ if cls is not None else None,
        cassette_dir=settings.cassette_dir,
        marker_name=marker_name,
    )


def _recorder_for(item: pytest.Item, run: RunState) -> TestRecorder:
    return TestRecorder(
        run.recorder_config,
        nodeid=item.nodeid,
        cassette_path=lambda: cassette_file(item, run.settings),
        on_call=run.add,
        test_gate=TestGate(
            item.nodeid, *_test_call_limit(item, run.settings.limits), report=run.violate
        ),
    )


def _marker_limits(item: pytest.Item) -> tuple[Decimal | None, int | None]:
    marker = item.get_closest_marker("llm_budget")
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


def _test_call_limit(item: pytest.Item, limits: Limits) -> tuple[int | None, str]:
    _usd, calls = _marker_limits(item)
    if calls is not None:
        return calls or None, "@pytest.mark.llm_budget(calls=...)"
    return limits.test_max_calls, "--llm-test-max-calls"


def _test_cost_limit(item: pytest.Item, limits: Limits) -> tuple[Decimal | None, str]:
    usd_limit, _calls = _marker_limits(item)
    if usd_limit is not None:
        return usd_limit, "@pytest.mark.llm_budget(usd=...)"
    return limits.test_budget_usd, "--llm-test-budget"


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    run = item.config.stash.get(RUN, None)
    if run is not None:
        recorder = _recorder_for(item, run)
        item.stash[RECORDER] = recorder
        SWITCHBOARD.push(recorder)
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    result = yield
    run = item.config.stash.get(RUN, None)
    recorder = item.stash.get(RECORDER, None)
    if run is not None and recorder is not None:
        _check_test_cost(item, run, recorder)
    return result


def _check_test_cost(item: pytest.Item, run: RunState, recorder: TestRecorder) -> None:
    __tracebackhide__ = True
    if not recorder.records:
        return
    limit, source = _test_cost_limit(item, run.settings.limits)
    cost = sum((record.cost_usd for record in recorder.records), Decimal(0))
    if limit is None or cost <= limit:
        return
    message = (
        f"{item.nodeid} cost {usd(cost)} in LLM calls (replayed included), "
        f"over its budget of {usd(limit)} ({source})"
    )
    run.violate(
        violation(
            "test_budget", message, limit=float(limit), actual=float(cost), nodeid=item.nodeid
        )
    )
    raise LLMBudgetExceeded(message, limit=float(limit), actual=float(cost), nodeid=item.nodeid)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Cost properties for ``--junitxml``: on the teardown report, when every call is in."""
    if call.when != "teardown":
        return (yield)
    recorder = item.stash.get(RECORDER, None)
    if recorder is not None and item.config.option.xmlpath:
        from pytest_llmbudget.report.junit import properties

        item.user_properties.extend(properties(recorder.records))
    report = yield
    if recorder is not None and runscope.SCOPE in item.config.stash:
        # On the report, so that it comes back from xdist workers with it.
        setattr(report, REPORT_ATTRIBUTE, recorder.cassette_use().as_json())
    return report


@pytest.hookimpl(wrapper=True, trylast=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, None, None]:
    try:
        return (yield)
    finally:
        recorder = item.stash.get(RECORDER, None)
        if recorder is not None:
            SWITCHBOARD.pop(recorder)
            recorder.close()


@pytest.fixture
def llm_usage(request: pytest.FixtureRequest) -> LLMUsage:
    """The LLM calls the running test has made so far: counts, tokens, cost."""
    recorder = request.node.stash.get(RECORDER, None)
    return LLMUsage(recorder.records if recorder is not None else [])


def _violations(run: RunState, totals: Totals) -> list[dict[str, Any]]:
    """Everything that broke a limit, in the order it happened, end-of-run checks last."""
    limits = run.settings.limits
    found = list(run.gate.violations) + list(run.violations)
    kinds = {entry["kind"] for entry in found}
    over_budget = limits.budget_usd is not None and totals.spend_usd > limits.budget_usd
    if over_budget and limits.budget_usd is not None and "budget" not in kinds:
        found.append(
            violation(
                "budget",
                f"live spend {usd(totals.spend_usd)} exceeds --llm-budget {usd(limits.budget_usd)}",
                limit=float(limits.budget_usd),
                actual=float(totals.spend_usd),
            )
        )
    if limits.max_cost_usd is not None and totals.cost_usd > limits.max_cost_usd:
        found.append(
            violation(
                "max_cost",
                f"the suite's LLM calls cost {usd(totals.cost_usd)} (replayed included), "
                f"over --llm-max-cost {usd(limits.max_cost_usd)}",
                limit=float(limits.max_cost_usd),
                actual=float(totals.cost_usd),
            )
        )
    if run.settings.unknown_model == "fail":
        seen: set[tuple[str, str | None]] = set()
        for record in run.records:
            key = (record.provider, record.model)
            if not record.priced and record.status < 400 and key not in seen:
                seen.add(key)
                found.append(
                    violation(
                        "unknown_model",
                        f"no price is known for {record.provider} model "
                        f"{record.model or '(unnamed)'} (--llm-unknown-model=fail)",
                        limit=None,
                        actual=None,
                        nodeid=record.nodeid,
                    )
                )
    return found


@pytest.hookimpl(wrapper=True)
def pytest_runtestloop(session: pytest.Session) -> Generator[None, object, object]:
    run = session.config.stash.get(RUN, None)
    try:
        result = yield
    except (
        pytest.Session.Failed,
        pytest.Session.Interrupted,
        KeyboardInterrupt,
        pytest.exit.Exception,
    ):
        if run is not None:  # -x, --maxfail, Ctrl-C, pytest.exit(): still report, as a partial run
            _finish(run, session)
        raise
    if run is not None:
        _finish(run, session)
    return result


def _token_counter(records: list[CallRecord]) -> str:
    """How estimated tokens were counted, for the summary; empty when nothing was estimated."""
    if not any(record.estimated for record in records):
        return ""
    from pytest_llmbudget.tokens import encoding_status

    return encoding_status()


def _finish(run: RunState, session: pytest.Session) -> None:
    from pytest_llmbudget import summary as summaries

    if _is_worker(session.config):
        from pytest_llmbudget import workers

        found = [*run.gate.violations, *run.violations]
        payload = workers.dump(run.records, found, _token_counter(run.records))
        session.config.workeroutput[workers.KEY] = payload  # type: ignore[attr-defined]
        return
    if run.workers_done or run.workers_lost:
        from pytest_llmbudget import workers

        run.records[:] = workers.in_collection_order(run.records, run.collection_order)
        run.violations[:] = workers.merge_violations(run.violations, run.collection_order)

    if run.workers_done:
        counter = ", ".join(dict.fromkeys(run.worker_counters))
    else:
        counter = _token_counter(run.records)
    run.summary = summaries.build(
        run.records,
        outcomes=run.outcomes,
        limits=run.settings.limits.as_json(),
        violations=[],
        token_counter=counter,
    )
    run.summary.violations.extend(_violations(run, run.summary.totals))
    if run.settings.unknown_model == "ignore":
        run.summary.unknown_models.clear()
    scope = session.config.stash.get(runscope.SCOPE, None)
    if scope is not None:
        run.summary.run, run.summary.cassettes = scope.describe(
            session, run.outcomes, run.settings.cassette_dir
        )
    if run.settings.report_path is not None:
        from pytest_llmbudget.report import jsonreport

        jsonreport.write(run.summary, run.settings.report_path)
    if run.settings.junit_path is not None:
        from pytest_llmbudget.report import junit

        junit.write(
            run.summary,
            run.settings.junit_path,
            unknown_model_fails=run.settings.unknown_model == "fail",
        )
    if run.settings.html_path is not None:
        from pytest_llmbudget.report import html

        html.write(run.summary, run.settings.html_path, ledger_path=run.settings.ledger_path)
    if _on_github(session.config):
        from pytest_llmbudget.report import github

        github.write_files(run.summary)
    session.config.hook.pytest_llmbudget_summary(summary=run.summary)
    if run.summary.violations and not session.testsfailed:
        session.testsfailed += 1  # any violation fails the run, even if every test passed


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    run = terminalreporter.config.stash.get(RUN, None)
    if run is None or run.summary is None:
        return
    from pytest_llmbudget.report import terminal

    if run.summary.totals.calls or run.workers_lost:
        terminalreporter.write_sep("-", "LLM budget")
    if run.workers_lost:
        terminalreporter.write_line(
            f"pytest-xdist worker(s) {', '.join(run.workers_lost)} stopped without handing "
            "over their LLM calls: the totals below miss them",
            red=True,
        )
    terminal.render(
        run.summary, terminalreporter.write_line, verbose=terminalreporter.config.option.verbose
    )
    if _on_github(terminalreporter.config) and run.summary.totals.calls:
        from pytest_llmbudget.report import github

        for line in github.workflow_commands(
            run.summary, run.locations, rootdir=run.settings.rootdir
        ):
            terminalreporter.write_line(line)


def _on_github(config: pytest.Config) -> bool:
    """In GitHub Actions, and the process that reports (not an xdist worker)."""
    import os

    if "GITHUB_ACTIONS" not in os.environ or _is_worker(config):
        return False
    from pytest_llmbudget.report import github

    return github.active()
