"""What ``llmbudget prune`` may remove, decided from the JSON report of a full run.

Two kinds of removal, both on the report's word only, and only of what the
plugin recorded (each interaction it writes carries ``recorded_at`` and
``duration_s``, which vcrpy never writes):

* a cassette file that no collected test uses: the test was renamed or
  deleted. Only files in the cassette folders of the report's own tests are
  looked at: the ``cassettes`` folder next to each collected test file, or
  the run's ``--llm-cassette-dir``; and only files every interaction of
  which the plugin recorded, so a cassette of pytest-recording or vcrpy
  (``@pytest.mark.vcr("login_flow.yaml")``) is never deleted;
* the interactions of a cassette that its tests, all passed, did not play,
  when the plugin recorded them.

Everything else stays, and prune is built to err that way: a partial run
(deselected tests, node ids, stopped early) is refused outright, and so is a
run that collected no test or whose test files are not in this rootdir. A
run given some paths and nothing else (``pytest tests``) is whole for the
tests under them: it prunes only their cassettes, in the plugin's own layout
(``<test dir>/cassettes/<module>/``, where no test elsewhere can keep its
recordings); the cassettes of modules skipped or ignored at collection stay; a
cassette whose test failed, was skipped or shared it with a parallel writer
keeps all its interactions; a file that changed since the run (its SHA-256
differs, or it is newer than the run) is left alone.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_llmbudget.recording.playback import from_ranges, to_ranges

CASSETTE_SUFFIX = ".yaml"
# What the recorder adds to every interaction it writes, and vcrpy never does.
STAMP = ("recorded_at", "duration_s")
# Folders of other people's code inside an ignored folder: no test of the project.
_FOREIGN = frozenset({"site-packages", "node_modules", "__pycache__"})


class PruneRefusedError(Exception):
    """The report cannot tell what is unused: the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class Trim:
    """A cassette that loses the interactions its tests did not play."""

    path: Path
    shown: str
    keep: tuple[int, ...]
    total: int
    sha256: str

    @property
    def removed(self) -> list[int]:
        kept = set(self.keep)
        return [position for position in range(self.total) if position not in kept]

    def numbers(self) -> str:
        """The removed interactions, 1-based as elsewhere: ``#2``, ``#4-#7``."""
        return ", ".join(
            f"#{first + 1}" if first == last else f"#{first + 1}-#{last + 1}"
            for first, last in to_ranges(self.removed)
        )


@dataclass(frozen=True, slots=True)
class Orphan:
    """A cassette file no collected test uses, found under the cassette folder ``root``."""

    path: Path
    shown: str
    root: Path


@dataclass(slots=True)
class Plan:
    delete: list[Orphan] = field(default_factory=list)
    trims: list[Trim] = field(default_factory=list)
    kept: list[tuple[str, str]] = field(default_factory=list)  # (shown path, why)
    # The paths a run of part of the suite was whole in (rootdir-relative); None: all of it.
    scope: list[str] | None = None


def _shown(path: Path, rootdir: Path) -> str:
    try:
        return path.relative_to(rootdir).as_posix()
    except ValueError:
        return str(path)


def _started(run: Mapping[str, Any]) -> float | None:
    text = str(run.get("started_at") or "")
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def check_scope(
    document: Mapping[str, Any], source: str
) -> tuple[dict[str, Any], list[Any], list[str] | None]:
    """The report's ``run`` and ``cassettes``, and the paths it was whole in when it ran only
    some (None: the whole suite); refuse a report that is not of a full run of either kind."""
    run, cassettes = document.get("run"), document.get("cassettes")
    if not isinstance(run, dict) or not isinstance(cassettes, list):
        raise PruneRefusedError(
            f"{source} does not say which cassettes the run used: write it with this "
            "version's pytest --llm-report (llmbudget merge does not keep that part)"
        )
    scope = run.get("complete_in")
    if not run.get("partial"):
        scope = None
    elif not isinstance(scope, list) or not scope:
        reasons = "".join(f"\n  - {reason}" for reason in run.get("reasons") or ["(no reason)"])
        raise PruneRefusedError(
            f"{source} is the report of a partial run, so tests it did not run would lose "
            f"their cassettes:{reasons}\nRun the whole suite, or whole folders of it "
            "(pytest tests/unit), with --llm-report: no -k, -m or node ids, nothing stopping it "
            "early; then prune with that report"
        )
    if not run.get("collected") or not cassettes:
        raise PruneRefusedError(
            f"{source} is the report of a run that collected no test, so every cassette would "
            "look unused: run the whole suite with --llm-report, then prune with that report"
        )
    return run, cassettes, None if scope is None else [str(path) for path in scope]


def test_files(entries: Iterable[Mapping[str, Any]]) -> list[str]:
    """The files of the tests the report names, as their node ids give them (rootdir-relative)."""
    files = (str(nodeid).split("::", 1)[0] for entry in entries for nodeid in entry["tests"])
    return sorted(set(files))


def check_project(files: Iterable[str], rootdir: Path, source: str) -> None:
    """Refuse a report whose test files are not in ``rootdir``: another project's, or stale."""
    missing = [name for name in files if not (rootdir / name).is_file()]
    if missing:
        shown = ", ".join(missing[:3]) + (
            f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        )
        raise PruneRefusedError(
            f"{source} is not the report of a run in {rootdir}: its test files are not all "
            f"there ({shown} missing); prune in the project the report comes from (or pass "
            "--rootdir), with a report of the tests as they are now"
        )


def cassette_roots(files: Iterable[str], rootdir: Path, cassette_dir: Path | None) -> list[Path]:
    """The folders the run's tests keep their cassettes in: the only places prune deletes from."""
    if cassette_dir is not None:
        return [cassette_dir]
    return sorted({(rootdir / name).parent / "cassettes" for name in files})


def recorded_by_us(path: Path, text: bytes | None = None) -> list[bool] | None:
    """For each interaction, whether the plugin recorded it; None for a file it cannot read."""
    from pytest_llmbudget.errors import CassetteError
    from pytest_llmbudget.recording.cassette import Cassette

    try:
        cassette = Cassette.parse(path, path.read_bytes() if text is None else text)
    except (CassetteError, OSError):
        return None
    return [
        isinstance(interaction, dict) and all(key in interaction for key in STAMP)
        for interaction in cassette.interactions
    ]


def _protected_dirs(run: Mapping[str, Any], rootdir: Path, cassette_dir: Path | None) -> set[Path]:
    """Cassette folders of modules skipped or ignored at collection: their tests still exist."""
    protected: set[Path] = set()
    for name in [*run.get("ignored", []), *run.get("skipped", [])]:
        path = rootdir / str(name)
        if path.is_dir():
            protected.add(path)
            modules = [p for p in path.rglob("*.py") if not _FOREIGN.intersection(p.parts)]
        else:
            modules = [path]
        for module in modules:
            base = cassette_dir if cassette_dir is not None else module.parent / "cassettes"
            protected.add(base / module.stem)
    return protected


def _candidates(roots: Iterable[Path], within: Path) -> dict[Path, Path]:
    """Each cassette file under the cassette folders and within ``within``, with its folder."""
    from pytest_llmbudget.leaks import cassette_files

    found: dict[Path, Path] = {}
    for root in roots:
        if not root.is_dir():
            continue
        for path in cassette_files([root]):
            inside = path == within or within in path.parents
            if path.suffix == CASSETTE_SUFFIX and not path.name.startswith(".") and inside:
                found.setdefault(path, root)
    return found


def _under(path: Path, folders: Iterable[Path]) -> bool:
    return any(folder == path or folder in path.parents for folder in folders)


def _own_folder(test_file: Path) -> Path:
    """Where the plugin keeps a test module's cassettes: ``<test dir>/cassettes/<module>``."""
    return test_file.parent / "cassettes" / test_file.stem


class _Scope:
    """The paths a run of part of the suite ran whole: which cassettes it can speak for."""

    def __init__(self, paths: Iterable[str], rootdir: Path, source: str) -> None:
        self.rootdir = rootdir
        self.paths = [(rootdir / path).resolve() for path in paths]
        outside = [path for path in self.paths if not _under(path, [rootdir])]
        if outside:
            raise PruneRefusedError(
                f"{source} is the report of a run of {outside[0]}, outside the rootdir "
                f"{rootdir}: prune in the project the report comes from (or pass --rootdir)"
            )
        self.folders = [path for path in self.paths if path.is_dir()]

    def shown(self) -> str:
        return ", ".join(_shown(path, self.rootdir) for path in self.paths)

    def holds(self, cassette: Path, root: Path) -> bool:
        """Whether every test that could use ``cassette``, under the cassette folder ``root``
        (``<test dir>/cassettes``), ran: its test dir is in a chosen folder, or its module
        (the file's first folder under ``root``) is a chosen file."""
        test_dir = root.parent
        if _under(test_dir, self.folders):
            return True
        parts = cassette.relative_to(root).parts
        return len(parts) > 1 and (test_dir / f"{parts[0]}.py").resolve() in self.paths

    def check_layout(self, entries: Iterable[Mapping[str, Any]], source: str) -> None:
        """Refuse when a test kept its cassette elsewhere than in its module's own folder:
        tests outside the chosen paths may use that file too, and their run is not here."""
        for entry in entries:
            path = (self.rootdir / str(entry["path"])).resolve()
            for nodeid in entry["tests"]:
                own = _own_folder((self.rootdir / str(nodeid).split("::", 1)[0]).resolve())
                if not _under(path, [own]):
                    raise PruneRefusedError(
                        f"{source} is the report of a run of {self.shown()} only, and "
                        f"{nodeid} keeps its cassette {_shown(path, self.rootdir)} outside "
                        f"{_shown(own, self.rootdir)}/ (vcr_cassette_dir or a vcr marker "
                        "chose it), where tests elsewhere may use it too: run the whole suite "
                        "with --llm-report, then prune with that report"
                    )


def plan(document: Mapping[str, Any], rootdir: Path, within: Path, source: str) -> Plan:
    """What to delete and trim; raises `PruneRefusedError` or ValueError/KeyError/TypeError."""
    run, entries, paths = check_scope(document, source)
    rootdir = rootdir.resolve()
    files = test_files(entries)
    check_project(files, rootdir, source)
    cassette_dir = rootdir / str(run["cassette_dir"]) if run.get("cassette_dir") else None
    scope = None if paths is None else _Scope(paths, rootdir, source)
    if scope is not None:
        if cassette_dir is not None:
            raise PruneRefusedError(
                f"{source} is the report of a run of {scope.shown()} only, and with "
                "--llm-cassette-dir every test keeps its cassettes in one folder, so a run of "
                "some paths cannot tell which of them other tests use: run the whole suite "
                "with --llm-report, then prune with that report"
            )
        scope.check_layout(entries, source)
    used = {(rootdir / str(entry["path"])).resolve() for entry in entries}
    left = [entry for entry in entries if entry.get("opened") and entry.get("sha256")]
    if left and not any((rootdir / str(entry["path"])).exists() for entry in left):
        raise PruneRefusedError(
            f"{'the cassette' if len(left) == 1 else f'none of the {len(left)} cassettes'} "
            f"the run left behind is {'not ' if len(left) == 1 else ''}under {rootdir}: "
            "run prune in the project the report comes from, or pass --rootdir"
        )
    result = Plan(scope=None if paths is None else list(paths))
    roots = cassette_roots(files, rootdir, cassette_dir)
    protected = _protected_dirs(run, rootdir, cassette_dir)
    started = _started(run)
    for path, root in _candidates(roots, within).items():
        if path.resolve() in used:
            continue
        shown = _shown(path, rootdir)
        if scope is not None and not scope.holds(path, root):
            result.kept.append((shown, f"its tests are not in {scope.shown()}, which the run ran"))
        elif _under(path, protected):
            result.kept.append((shown, "its module was skipped or ignored at collection"))
        elif not _all_ours(recorded_by_us(path)):
            result.kept.append(
                (shown, "not recorded by pytest-llmbudget (another tool's cassette)")
            )
        elif started is None or path.stat().st_mtime > started:
            result.kept.append((shown, "it changed after the run started"))
        else:
            result.delete.append(Orphan(path, shown, root))
    for entry in entries:
        path = rootdir / str(entry["path"])
        if entry.get("opened") and (path == within or within in path.parents):
            _trim(entry, path, _shown(path, rootdir), result)
    return result


def _all_ours(stamps: list[bool] | None) -> bool:
    """A file the plugin recorded every interaction of (an empty one: nobody can tell)."""
    return stamps is not None and len(stamps) > 0 and all(stamps)


def _trim(entry: Mapping[str, Any], path: Path, shown: str, result: Plan) -> None:
    total = int(entry["interactions"])
    played = sorted(position for position in from_ranges(entry["played"]) if position < total)
    if len(played) == total or not entry.get("sha256"):
        return  # everything played, or the run left no file
    failed = {nodeid: outcome for nodeid, outcome in entry["tests"].items() if outcome != "passed"}
    if failed:
        nodeid, outcome = next(iter(failed.items()))
        more = f" and {len(failed) - 1} more" if len(failed) > 1 else ""
        result.kept.append((shown, f"a test using it did not pass ({nodeid}: {outcome}{more})"))
    elif not entry.get("consistent", False):
        result.kept.append((shown, "tests sharing it saw different versions of it"))
    elif not played:
        result.kept.append((shown, "its tests played none of it"))
    else:
        _trim_ours(path, shown, played, entry, result)


def _trim_ours(
    path: Path, shown: str, played: list[int], entry: Mapping[str, Any], result: Plan
) -> None:
    """Trim what the run did not play, of what the plugin recorded: another tool's stays."""
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        text = None
    total = int(entry["interactions"])
    if text is None or hashlib.sha256(text).hexdigest() != entry["sha256"]:
        result.kept.append((shown, "it changed since the run (or is gone)"))
        return
    stamps = recorded_by_us(path, text)
    if stamps is None or len(stamps) != total:
        result.kept.append((shown, "it cannot be read as the run read it"))
        return
    keep = sorted({*played, *(position for position, ours in enumerate(stamps) if not ours)})
    if len(keep) == total:
        result.kept.append(
            (shown, "what its tests did not play was not recorded by pytest-llmbudget")
        )
    else:
        result.trims.append(Trim(path, shown, tuple(keep), total, str(entry["sha256"])))


def apply(result: Plan) -> list[str]:
    """Delete and trim as planned; the files that changed meanwhile are skipped and named."""
    from pytest_llmbudget.recording.cassette import Cassette

    skipped = []
    for trim in result.trims:
        try:
            text = trim.path.read_bytes()
        except FileNotFoundError:
            skipped.append(trim.shown)
            continue
        if hashlib.sha256(text).hexdigest() != trim.sha256:
            skipped.append(trim.shown)
            continue
        cassette = Cassette.parse(trim.path, text)
        kept = Cassette(trim.path, style=cassette.style)
        kept.interactions = [cassette.interactions[position] for position in trim.keep]
        kept.save()
    for orphan in result.delete:
        orphan.path.unlink(missing_ok=True)
        _remove_empty_parents(orphan.path.parent, orphan.root)
    return skipped


def _remove_empty_parents(folder: Path, root: Path) -> None:
    """Drop the module folders a deletion emptied, up to (not including) the cassette folder."""
    while root in folder.parents and not any(folder.iterdir()):
        os.rmdir(folder)
        folder = folder.parent
