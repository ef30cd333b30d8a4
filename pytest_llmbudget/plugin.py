"""pytest glue: options, markers, the fixture, and the run's start and end.

Kept thin on purpose: every decision is made in a module named for it (the
per-test hooks live with the run's state, in runstate.py). Kept light too:
pytest imports this module for every run, so what only a test making an LLM
call needs (recorder, gates, ledger, prices) is imported and built at that
first call, and the summary only when there is something to report.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

import pytest

from pytest_llmbudget import hookspecs
from pytest_llmbudget.budget_warnings import BudgetWarnings
from pytest_llmbudget.intercept import install as interception
from pytest_llmbudget.limits import violation
from pytest_llmbudget.runstate import RUN_ID_KEY, SLOT, RunState
from pytest_llmbudget.settings import Settings, add_options

if TYPE_CHECKING:  # loaded when needed: the first LLM call, the end of a run
    from pytest_llmbudget.pricing import PriceBook
    from pytest_llmbudget.records import CallRecord
    from pytest_llmbudget.summary import RunSummary, Totals
    from pytest_llmbudget.usage import LLMUsage
    from pytest_llmbudget.whatif import WhatIf

RUN = pytest.StashKey[RunState]()


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hookspecs)


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_load_initial_conftests(
    early_config: pytest.Config, parser: pytest.Parser
) -> Generator[None, None, None]:
    """pytest-recording's fixtures and options, when pytest-recording is not there to add
    them: decided around the conftests, which may bring it in themselves."""
    from pytest_llmbudget.vcrcompat import options

    options.before_conftests(early_config)
    result = yield
    options.after_conftests(early_config, parser)
    return result


def _price_book(settings: Settings) -> PriceBook:
    from pytest_llmbudget.pricing import PriceBook, PriceFileError, load_overrides

    overrides = {}
    if settings.prices_file is not None:
        try:
            overrides = load_overrides(settings.prices_file)
        except PriceFileError as error:
            raise pytest.UsageError(f"llm_prices: {error}") from None
    from pytest_llmbudget.rates_cache import RatesCache

    return PriceBook(overrides, settings.free_hosts, RatesCache.for_this_install())


def _price_book_factory(settings: Settings) -> Callable[[], PriceBook]:
    """The price book, built at first use; a prices file is read now: a bad one stops the run."""
    if settings.prices_file is not None:
        book = _price_book(settings)
        return lambda: book
    return lambda: _price_book(settings)


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
    from pytest_llmbudget.vcrcompat import options

    if options.serves_vcr(config):
        from pytest_llmbudget.vcrcompat import plugin as vcr_plugin

        if not vcr_plugin.register(config, settings):
            config.stash[options.SERVES_VCR] = False
    from pytest_llmbudget.defaults import DefaultHooks

    config.pluginmanager.register(
        DefaultHooks(settings.hosts, _price_book_factory(settings)), "llmbudget-defaults"
    )
    watch = settings.report_path is not None  # what llmbudget prune and rerecord read
    run = RunState(
        settings=settings,
        pluginmanager=config.pluginmanager,
        run_id=_run_id(config),
        warn=BudgetWarnings(config),
        is_worker=_is_worker(config),
        log_outcomes=watch or _distributes(config),
    )
    config.stash[RUN] = run
    config.pluginmanager.register(run, "llmbudget-run")
    if watch:
        from pytest_llmbudget import runscope

        runscope.watch(config, rootdir=settings.rootdir, record_mode=settings.record_mode.value)
    if watch or config.option.xmlpath:
        config.pluginmanager.register(ReportExtras(), "llmbudget-report-extras")
    interception.install()


def _is_worker(config: pytest.Config) -> bool:
    """An xdist worker: runs tests, hands its calls to the controller, reports nothing."""
    return hasattr(config, "workerinput")


def _distributes(config: pytest.Config) -> bool:
    """An xdist controller: its workers run the tests (``-n``, ``--dist``)."""
    return getattr(config.option, "dist", "no") != "no" and not _is_worker(config)


def _run_id(config: pytest.Config) -> str:
    import uuid

    given = getattr(config, "workerinput", {}).get(RUN_ID_KEY)
    return str(given or uuid.uuid4().hex)


def pytest_unconfigure(config: pytest.Config) -> None:
    if RUN in config.stash:
        run = config.stash[RUN]
        if run.built is not None:
            run.built.ledger.close()
            if run.built.shared is not None:
                run.built.shared.close()
        del config.stash[RUN]
        interception.uninstall()


class ReportExtras:
    """Per-test extras on the reports, registered only for runs that write them."""

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        """Cost properties for ``--junitxml`` and the cassette a test played, for prune.

        On the teardown report, when every call is in.
        """
        if call.when != "teardown":
            return (yield)
        slot = item.stash.get(SLOT, None)
        if slot is not None and item.config.option.xmlpath:
            from pytest_llmbudget.report.junit import properties

            recorder = slot.recorder
            item.user_properties.extend(properties(recorder.records if recorder else []))
        report = yield
        from pytest_llmbudget import runscope

        if slot is not None and runscope.SCOPE in item.config.stash:
            from pytest_llmbudget.recording.playback import REPORT_ATTRIBUTE

            # On the report, so that it comes back from xdist workers with it.
            setattr(report, REPORT_ATTRIBUTE, slot.get().cassette_use().as_json())
        return report


@pytest.fixture
def llm_usage(request: pytest.FixtureRequest) -> LLMUsage:
    """The LLM calls the running test has made so far: counts, tokens, cost."""
    from pytest_llmbudget.usage import LLMUsage

    slot = request.node.stash.get(SLOT, None)
    return LLMUsage(slot.get().records if slot is not None else [])


def _violations(run: RunState, totals: Totals) -> list[dict[str, Any]]:
    """Everything that broke a limit, in the order it happened, end-of-run checks last."""
    from pytest_llmbudget.report.formatting import usd

    limits = run.settings.limits
    found = run.gate_violations() + list(run.violations)
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
            run.abandon_running()
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


def _nothing_to_report(run: RunState, config: pytest.Config) -> bool:
    """No call, no violation, no report to write and no ``pytest_llmbudget_summary``
    listener: then the summary, and the modules that build it, are not needed."""
    settings = run.settings
    return (
        not run.records
        and not run.violations
        and not run.gate_violations()
        and not run.workers_done
        and not run.workers_lost
        and settings.report_path is None
        and settings.junit_path is None
        and settings.html_path is None
        and not _on_github(config)
        and not config.hook.pytest_llmbudget_summary.get_hookimpls()
    )


def _finish(run: RunState, session: pytest.Session) -> None:
    run.warn.flush()
    if _is_worker(session.config):
        from pytest_llmbudget import workers

        found = [*run.gate_violations(), *run.violations]
        payload = workers.dump(
            run.records,
            found,
            _token_counter(run.records),
            drift=run.drift,
            appended=run.appended,
        )
        session.config.workeroutput[workers.KEY] = payload  # type: ignore[attr-defined]
        return
    if _nothing_to_report(run, session.config):
        run.quiet = True
        return
    from pytest_llmbudget import summary as summaries

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
    run.summary.drift = list(run.drift)
    run.summary.appended = list(run.appended)
    if run.settings.unknown_model == "ignore":
        run.summary.unknown_models.clear()
    scope = None
    if run.settings.report_path is not None:  # only then is the run's scope watched
        from pytest_llmbudget import runscope

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
    settings = run.settings
    if settings.html_path is not None:
        from pytest_llmbudget.report import html

        html.write(
            run.summary,
            settings.html_path,
            ledger_path=settings.ledger_url or settings.ledger_path,
            what_if=_what_if(session.config, settings, run.summary),
        )
    if _on_github(session.config):
        from pytest_llmbudget.report import github

        github.write_files(run.summary)
    session.config.hook.pytest_llmbudget_summary(summary=run.summary)
    if run.summary.violations and not session.testsfailed:
        session.testsfailed += 1  # any violation fails the run, even if every test passed


def _what_if(config: pytest.Config, settings: Settings, summary: RunSummary) -> list[WhatIf]:
    """The suite priced on the ini's few models, for the HTML page; nothing without calls."""
    if not summary.totals.calls or not settings.what_if:
        return []
    from pytest_llmbudget.whatif import what_ifs

    defaults = config.pluginmanager.get_plugin("llmbudget-defaults")
    book = defaults.price_book if defaults is not None else _price_book(settings)
    return what_ifs(summary.records, settings.what_if, book)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    run = terminalreporter.config.stash.get(RUN, None)
    if run is None:
        return
    from pytest_llmbudget.misses import cassette_misses, no_calls_line

    misses = cassette_misses(terminalreporter.stats)  # refused calls leave no record
    if run.quiet:
        terminalreporter.write_line(no_calls_line(misses))
    if run.summary is None:
        return
    from pytest_llmbudget.report import terminal

    if not run.summary.empty or run.workers_lost:
        terminalreporter.write_sep("-", "LLM budget")
    if run.workers_lost:
        terminalreporter.write_line(
            f"pytest-xdist worker(s) {', '.join(run.workers_lost)} stopped without handing "
            "over their LLM calls: the totals below miss them",
            red=True,
        )
    terminal.render(
        run.summary,
        terminalreporter.write_line,
        verbose=terminalreporter.config.option.verbose,
        misses=misses,
    )
    if _on_github(terminalreporter.config) and not run.summary.empty:
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
