"""The user's pytest project, found from the working directory the way pytest finds it.

``llmbudget prices`` and ``llmbudget history`` run outside pytest but must see
what the plugin sees: the ``llm_prices`` and ``llm_free_hosts`` ini values and
the rootdir the ledger lives under. Asking pytest itself would mean building a
whole Config (plugins, conftests); its file-discovery functions are private
and change between versions. So this module repeats the documented rules:

* in the start folder, then each parent, the first of ``pytest.toml``,
  ``.pytest.toml``, ``pytest.ini``, ``.pytest.ini`` (these count even when
  empty), ``pyproject.toml`` with ``[tool.pytest]`` or
  ``[tool.pytest.ini_options]``, ``tox.ini`` with ``[pytest]``, ``setup.cfg``
  with ``[tool:pytest]`` is the config file, and its folder the rootdir;
* else the nearest ``pyproject.toml`` (without pytest settings) gives the
  rootdir, else the nearest ``setup.py``, else the start folder itself.

``--rootdir DIR`` starts the search at DIR and makes DIR the rootdir, as
pytest's own ``--rootdir`` does.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pytest_llmbudget.cli.common import UsageProblemError

# Values from a config file: strings (ini files, [tool.pytest.ini_options]) or
# native TOML values ([tool.pytest], pytest.toml).
IniValues = Mapping[str, object]


@dataclass(frozen=True, slots=True)
class Project:
    rootdir: Path
    inifile: Path | None = None
    values: IniValues = field(default_factory=dict)

    def ini(self, name: str) -> str:
        """A string ini value, '' when unset."""
        value = self.values.get(name, "")
        return value.strip() if isinstance(value, str) else str(value)

    def ini_lines(self, name: str) -> tuple[str, ...]:
        """A ``linelist`` ini value: one item a line in ini files, a list in TOML."""
        value = self.values.get(name, "")
        items = value if isinstance(value, list) else str(value).splitlines()
        return tuple(text for text in (str(item).strip() for item in items) if text)

    def path(self, name: str) -> Path | None:
        """A path ini value, relative to the rootdir as the plugin reads it; None when unset."""
        value = self.ini(name)
        return self.rootdir / value if value else None


def _toml(path: Path) -> dict[str, object]:
    import tomllib

    try:
        document: dict[str, object] = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise UsageProblemError(f"{path}: cannot read pytest's settings: {error}") from None
    return document


def _ini_section(path: Path, section: str) -> IniValues | None:
    import iniconfig

    try:
        parsed = iniconfig.IniConfig(str(path))
    except (OSError, iniconfig.ParseError) as error:
        raise UsageProblemError(f"{path}: cannot read pytest's settings: {error}") from None
    if section not in parsed:
        return None
    return dict(parsed[section].items())


def _pytest_toml(path: Path) -> IniValues | None:
    table = _toml(path).get("pytest", {})
    return dict(table) if isinstance(table, dict) else {}


def _pytest_ini(path: Path) -> IniValues | None:
    return _ini_section(path, "pytest") or {}


def _pyproject(path: Path) -> IniValues | None:
    tool = _toml(path).get("tool", {})
    table = tool.get("pytest") if isinstance(tool, dict) else None
    if not isinstance(table, dict):
        return None
    ini_options = table.get("ini_options")
    if isinstance(ini_options, dict):
        return dict(ini_options)
    native = {key: value for key, value in table.items() if key != "ini_options"}
    return native or None


def _tox(path: Path) -> IniValues | None:
    return _ini_section(path, "pytest")


def _setup_cfg(path: Path) -> IniValues | None:
    return _ini_section(path, "tool:pytest")


# pytest's precedence, within one folder; None from a loader: "not a pytest config".
_LOADERS: tuple[tuple[str, Callable[[Path], IniValues | None]], ...] = (
    ("pytest.toml", _pytest_toml),
    (".pytest.toml", _pytest_toml),
    ("pytest.ini", _pytest_ini),
    (".pytest.ini", _pytest_ini),
    ("pyproject.toml", _pyproject),
    ("tox.ini", _tox),
    ("setup.cfg", _setup_cfg),
)


def _config_in(folder: Path) -> tuple[Path, IniValues] | None:
    for name, loader in _LOADERS:
        candidate = folder / name
        if candidate.is_file():
            values = loader(candidate)
            if values is not None:
                return candidate, values
    return None


def _nearest(start: Path, name: str) -> Path | None:
    for folder in (start, *start.parents):
        if (folder / name).is_file():
            return folder
    return None


def find_project(start: Path | None = None, rootdir: Path | None = None) -> Project:
    """The project around ``start`` (default: the cwd); ``rootdir`` as given by ``--rootdir``."""
    if rootdir is not None and not rootdir.is_dir():
        raise UsageProblemError(f"--rootdir {rootdir}: no such directory")
    origin = (rootdir or start or Path.cwd()).resolve()
    for folder in (origin, *origin.parents):
        found = _config_in(folder)
        if found is not None:
            inifile, values = found
            return Project(rootdir.resolve() if rootdir else folder, inifile, values)
    if rootdir is not None:
        return Project(rootdir.resolve())
    fallback = _nearest(origin, "pyproject.toml") or _nearest(origin, "setup.py") or origin
    return Project(fallback)


def add_rootdir_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--rootdir",
        metavar="DIR",
        type=Path,
        help="the pytest rootdir (default: found from the current folder, as pytest does)",
    )
