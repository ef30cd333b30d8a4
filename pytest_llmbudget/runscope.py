"""Whether a run saw the whole suite, and which cassettes its tests used.

``llmbudget prune`` deletes what a run did not use, so a report must say
whether the run was complete: no test deselected (``-k``, ``-m``,
``--deselect``, ``--lf``) or dropped by a plugin, no subset of the paths or
node ids, nothing stopped early, every collected test run to its teardown.
It must also name the cassette of every collected test, those that made no
call included, and the paths that collection skipped or was told to ignore,
whose tests' cassettes prune must keep. A run given some paths (``pytest
tests``) and nothing else that narrows it is whole for the tests under them:
the report says which paths (``complete_in``), and prune takes it as a full
run for their cassettes.

The per-test part rides on each teardown report (see ``recording.playback``),
so pytest-xdist brings it back with the reports; collection happens on the
workers, which send their counts in ``workeroutput``. All of it is a few
counters and one small dict per test, and only when ``--llm-report`` is on.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Generator, Iterable, Sequence
from dataclasses import dataclass, field
from glob import glob
from pathlib import Path
from typing import Any

import pytest

from pytest_llmbudget.recording.playback import REPORT_ATTRIBUTE, CassetteUse, to_ranges

WORKEROUTPUT_KEY = "llmbudget_collection"

# Folders collection ignores that never hold the project's tests.
_FOREIGN_DIRS = frozenset({"__pycache__", "node_modules", "site-packages"})


def _now() -> str:
    """Milliseconds: prune compares file times with it (a cassette newer than the run stays)."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _plural(number: int, word: str) -> str:
    return f"{number:,} {word}{'' if number == 1 else 's'}"


@dataclass(slots=True)
class Collection:
    """What one collecting process saw: the serial run, or each xdist worker."""

    collected: int | None = None
    deselected: int = 0
    dropped: int = 0
    ignored: set[str] = field(default_factory=set)
    skipped: set[str] = field(default_factory=set)
    errors: set[str] = field(default_factory=set)

    def as_json(self) -> dict[str, Any]:
        return {
            "collected": self.collected,
            "deselected": self.deselected,
            "dropped": self.dropped,
            "ignored": sorted(self.ignored),
            "skipped": sorted(self.skipped),
            "errors": sorted(self.errors),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Collection:
        return cls(
            collected=data.get("collected"),
            deselected=int(data.get("deselected", 0)),
            dropped=int(data.get("dropped", 0)),
            ignored=set(data.get("ignored", ())),
            skipped=set(data.get("skipped", ())),
            errors=set(data.get("errors", ())),
        )


def watch(config: pytest.Config, *, rootdir: Path, record_mode: str) -> RunScope:
    """Start watching this run's scope; `SCOPE` in the config's stash finds it again."""
    scope = RunScope(config, rootdir=rootdir, record_mode=record_mode)
    config.pluginmanager.register(scope, "llmbudget-scope")
    config.stash[SCOPE] = scope
    return scope


class RunScope:
    """A plugin that watches collection and teardown reports; `describe` sums it up."""

    def __init__(self, config: pytest.Config, *, rootdir: Path, record_mode: str) -> None:
        self._config = config
        self._rootdir = rootdir
        self._record_mode = record_mode
        self.started_at = _now()
        self.collection = Collection()
        self.worker_collections: list[Collection] = []
        self.lost_workers: list[str] = []
        self.interrupted = False
        self.uses: list[tuple[str, CassetteUse]] = []  # in the order tests finished

    # -- collection ---------------------------------------------------------

    def _relative(self, path: Path) -> str:
        try:
            return path.resolve().relative_to(self._rootdir.resolve()).as_posix() or "."
        except ValueError:
            return path.resolve().as_posix()

    @pytest.hookimpl(wrapper=True)
    def pytest_ignore_collect(self, collection_path: Path) -> Generator[None, Any, Any]:
        ignored = yield
        if ignored and _may_hold_tests(collection_path):
            self.collection.ignored.add(self._relative(collection_path))
        return ignored

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.passed:
            return
        where = report.nodeid.split("::")[0] or "."
        (self.collection.skipped if report.skipped else self.collection.errors).add(where)

    def pytest_deselected(self, items: Sequence[pytest.Item]) -> None:
        self.collection.deselected += len(items)

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> Generator[None, Any, Any]:
        before, deselected = len(items), self.collection.deselected
        result = yield
        dropped = before - len(items) - (self.collection.deselected - deselected)
        self.collection.dropped += max(dropped, 0)
        return result

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.collection.collected = len(session.items)
        workeroutput = getattr(self._config, "workeroutput", None)
        if workeroutput is not None:
            workeroutput[WORKEROUTPUT_KEY] = self.collection.as_json()

    # -- tests --------------------------------------------------------------

    @pytest.hookimpl(wrapper=True, trylast=True)
    def pytest_runtestloop(self) -> Generator[None, Any, Any]:
        """Note a Ctrl-C before the plugin's own wrapper writes the report."""
        try:
            return (yield)
        except KeyboardInterrupt as error:
            # pytest's own Interrupted (collection errors, shouldstop) is one too.
            self.interrupted = not isinstance(error, pytest.Session.Interrupted)
            raise

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        data = getattr(report, REPORT_ATTRIBUTE, None) if report.when == "teardown" else None
        if isinstance(data, dict):
            self.uses.append((report.nodeid, CassetteUse.from_json(data)))

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: object) -> None:
        """On the xdist controller: a worker's collection, or the news that it was lost."""
        output = getattr(node, "workeroutput", None) or {}
        data = output.get(WORKEROUTPUT_KEY)
        if error is not None or not isinstance(data, dict):
            self.lost_workers.append(str(getattr(getattr(node, "gateway", None), "id", node)))
            return
        self.worker_collections.append(Collection.from_json(data))

    # -- the end --------------------------------------------------------------

    def _merged(self, reasons: list[str]) -> Collection:
        """The serial run's collection, or the xdist workers' agreed one."""
        if not self._config.pluginmanager.hasplugin("dsession"):
            return self.collection
        merged = Collection(
            skipped=set(self.collection.skipped), errors=set(self.collection.errors)
        )
        counts = {c.collected for c in self.worker_collections}
        if len(counts) > 1:
            reasons.append(f"the xdist workers collected different numbers of tests: {counts}")
        merged.collected = max((n for n in counts if n is not None), default=None)
        for worker in self.worker_collections:
            merged.deselected = max(merged.deselected, worker.deselected)
            merged.dropped = max(merged.dropped, worker.dropped)
            merged.ignored |= worker.ignored
            merged.skipped |= worker.skipped
            merged.errors |= worker.errors
        reasons.extend(f"xdist worker {name} did not finish" for name in self.lost_workers)
        return merged

    def describe(
        self, session: pytest.Session, outcomes: dict[str, str], cassette_dir: Path | None
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The report's ``run`` object and its ``cassettes`` list."""
        config = session.config
        reasons, chosen = selection(config, self._rootdir)
        collection = self._merged(reasons)
        reasons.extend(_collection_reasons(collection))
        ran = len({nodeid for nodeid, _use in self.uses})
        stopped = session.shouldfail or session.shouldstop
        if stopped:
            reasons.append(f"the run stopped early: {stopped}")
        if self.interrupted:
            reasons.append("the run was interrupted (KeyboardInterrupt)")
        if config.option.collectonly:
            reasons.append("--collect-only: no test ran")
        elif collection.collected is None:
            reasons.append("no collection was seen (an xdist worker may have crashed)")
        elif ran < collection.collected:
            reasons.append(
                f"{_plural(collection.collected - ran, 'collected test')} of "
                f"{collection.collected:,} did not run to the end"
            )
        # Only the choice of paths made the run partial: it is whole for the tests in them.
        whole_in = chosen is not None and len(reasons) == 1
        run = {
            "partial": bool(reasons),
            "reasons": reasons,
            "complete_in": [self._relative(path) for path in chosen or ()] if whole_in else None,
            "collected": collection.collected,
            "ran": ran,
            "record_mode": self._record_mode,
            "xdist": config.pluginmanager.hasplugin("dsession"),
            "started_at": self.started_at,
            "cassette_dir": None if cassette_dir is None else self._relative(cassette_dir),
            "ignored": sorted(collection.ignored),
            "skipped": sorted(collection.skipped),
        }
        rewrite = self._record_mode == "rewrite"
        return run, cassettes_json(self.uses, outcomes, rewrite=rewrite)


def _may_hold_tests(path: Path) -> bool:
    """An ignored path whose tests' cassettes prune must keep (not a venv or a cache)."""
    if path.name.startswith(".") or path.name in _FOREIGN_DIRS:
        return False
    if path.suffix == ".py":
        return True
    if not path.is_dir():
        return False
    return not (path / "pyvenv.cfg").exists() and not (path / "conda-meta").exists()


def _collection_reasons(collection: Collection) -> list[str]:
    reasons = []
    if collection.deselected:
        reasons.append(
            f"{_plural(collection.deselected, 'test')} deselected "
            "(-k, -m, --deselect, --lf or a plugin)"
        )
    if collection.dropped:
        reasons.append(
            f"{_plural(collection.dropped, 'collected test')} dropped by a plugin or "
            "conftest.py without being reported as deselected"
        )
    if collection.errors:
        reasons.append(f"collection errors in {', '.join(sorted(collection.errors))}")
    return reasons


def _full_roots(config: pytest.Config, rootdir: Path) -> list[Path]:
    """Where a plain ``pytest`` in the rootdir collects: testpaths, else the rootdir."""
    roots: list[Path] = []
    if not config.option.pyargs:
        for pattern in config.getini("testpaths"):
            roots.extend(Path(p).resolve() for p in glob(str(rootdir / pattern), recursive=True))
    return roots or [rootdir.resolve()]


def selection(config: pytest.Config, rootdir: Path) -> tuple[list[str], list[Path] | None]:
    """Why the paths and options of this run chose less than the whole suite, and the paths
    it chose when they alone did: then the run is whole for the tests in them.

    (A path given on the command line collects every test under it, as the
    whole suite's run would; a node id, ``-k`` or ``--lf`` do not.)
    """
    reasons = []
    if getattr(config.option, "lf", False):
        reasons.append("--lf ran only the tests that failed last time")
    source = getattr(config, "args_source", None)
    if source is pytest.Config.ArgsSource.TESTPATHS:
        return reasons, None
    invocation = config.invocation_params.dir
    chosen: list[Path] = []
    for arg in config.args:
        path_part, separator, _name = arg.partition("::")
        path = (invocation / path_part).resolve()
        if separator:
            reasons.append(f"tests chosen by node id: {arg}")
        elif not path.exists():
            reasons.append(f"{arg} is not a path (--pyargs?)")
        else:
            chosen.append(path)
    if reasons:
        return reasons, None
    roots = _full_roots(config, rootdir)
    if all(_covered(root, chosen) for root in roots):
        return reasons, None
    shown = ", ".join(_shown(path, rootdir) for path in chosen)
    reasons.append(
        f"ran only {shown}, not all of {', '.join(_shown(root, rootdir) for root in roots)}"
    )
    return reasons, chosen


def _covered(root: Path, chosen: Iterable[Path]) -> bool:
    return any(root == path or path in root.parents for path in chosen)


def _shown(path: Path, rootdir: Path) -> str:
    try:
        relative = path.relative_to(rootdir.resolve())
    except ValueError:
        return str(path)
    return "the rootdir" if relative == Path() else relative.as_posix()


def cassettes_json(
    uses: Iterable[tuple[str, CassetteUse]], outcomes: dict[str, str], *, rewrite: bool
) -> list[dict[str, Any]]:
    """One entry per cassette file: its tests with their outcomes, and what they played.

    Tests sharing a cassette must each have read the file the one before
    left (``consistent``); otherwise, with parallel writers, an index could
    name another interaction than the one played, and prune leaves it alone.
    """
    grouped: dict[str, list[tuple[str, CassetteUse]]] = {}
    for nodeid, use in uses:
        grouped.setdefault(use.path, []).append((nodeid, use))
    entries = []
    for path, group in grouped.items():
        entry: dict[str, Any] = {
            "path": path,
            "tests": {nodeid: outcomes.get(nodeid, "unknown") for nodeid, _use in group},
        }
        opened = [use for _nodeid, use in group if use.opened]
        if opened:
            consistent, previous = True, opened[0].loaded
            for use in (use for _nodeid, use in group):
                if not use.opened:
                    if rewrite:  # a rewrite deletes the cassette of a test that made no call
                        consistent, previous = False, None
                    continue
                consistent = consistent and use.loaded == previous
                previous = use.left
            played = frozenset().union(*(use.played for use in opened))
            entry.update(
                opened=True,
                consistent=consistent,
                sha256=previous,
                interactions=opened[-1].interactions,
                played=to_ranges(played),
            )
        else:
            entry["opened"] = False
        entries.append(entry)
    return sorted(entries, key=lambda entry: str(entry["path"]))


SCOPE = pytest.StashKey[RunScope]()
