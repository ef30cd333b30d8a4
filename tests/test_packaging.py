"""The wheel users install holds every module of the package and the licence, and a
checkout builds quietly.

The suite runs against an editable install, which serves whatever is in the
source tree: a subpackage the build configuration leaves out passes every
other test here and breaks on a user's machine. So build the wheel, as pip
does for a user, and compare.

`make demo` and `make test` start with an editable install: a build
configuration setuptools finds ambiguous prints a screenful of warnings there,
the first thing a newcomer reads. pip shows a build backend's warnings even
with ``--quiet``, so its output must hold none.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "pytest_llmbudget"


def _checkout(tmp_path: Path) -> Path:
    """What a clone holds for the build: the configuration, the README and the package."""
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(PACKAGE, source / PACKAGE.name, ignore=shutil.ignore_patterns("__pycache__"))
    return source


def _pip(*args: str, cwd: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "pip", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    return output


def _build_warnings(output: str) -> list[str]:
    """The lines of pip's output that come from the build backend's warnings."""
    return [
        line
        for line in output.splitlines()
        if "BuildBackendWarning" in line or "setuptools" in line.lower()
    ]


def test_the_wheel_ships_every_module_schema_and_type_marker(tmp_path: Path) -> None:
    source = _checkout(tmp_path)
    output = _pip("wheel", "--no-deps", "-q", "-w", str(tmp_path), ".", cwd=source)
    assert _build_warnings(output) == []

    (wheel,) = tmp_path.glob("pytest_llmbudget-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    shipped = {name for name in names if name.startswith("pytest_llmbudget/")}
    assert any(name.endswith(".dist-info/licenses/LICENSE") for name in names), names
    expected = {
        path.relative_to(ROOT).as_posix()
        for path in PACKAGE.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert "pytest_llmbudget/vcrcompat/plugin.py" in expected
    assert "pytest_llmbudget/schema/report-v1.schema.json" in expected
    assert shipped == expected


def test_an_editable_install_of_a_checkout_is_quiet_and_serves_the_source(
    tmp_path: Path,
) -> None:
    """What `make` does first, into a bare virtualenv (no dependencies: only the build)."""
    source = _checkout(tmp_path)
    target = tmp_path / "venv"
    venv.create(target, with_pip=False)
    python = target / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")
    output = _pip("--python", str(python), "install", "--no-deps", "-q", "-e", ".", cwd=source)
    assert _build_warnings(output) == []

    found = subprocess.run(
        [
            str(python),
            "-c",
            "import importlib.util; print(importlib.util.find_spec('pytest_llmbudget').origin)",
        ],
        cwd=tmp_path,  # not the repository: the import must come through the install
        capture_output=True,
        text=True,
        check=True,
    )
    assert Path(found.stdout.strip()) == source / "pytest_llmbudget" / "__init__.py"
