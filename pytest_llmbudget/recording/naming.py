"""Where a test's cassette lives: the same layout and names as pytest-recording."""

from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path

# What pytest-recording replaces (its list, ``'`` and ``%`` included), and NUL.
_FORBIDDEN = "<>?%*:|\"'/\\\0"
_TRANSLATION = str.maketrans({ch: "-" for ch in _FORBIDDEN})


def safe_file_name(name: str) -> str:
    """Replace characters a file name cannot hold (on any OS) with ``-``, as
    pytest-recording does, so both find the same file."""
    return name.translate(_TRANSLATION)


@functools.cache
def _name_max() -> int:
    try:
        return os.pathconf(".", "PC_NAME_MAX")
    except (AttributeError, ValueError, OSError):
        return 255


def shortened(name: str, suffix: str = ".yaml") -> str:
    """A name too long for a file (a test with long parameters) as pytest-recording cuts it:
    a prefix, ``...`` and the MD5 of the whole name."""
    limit = _name_max()
    if len(name) + len(suffix) <= limit:
        return name
    digest = hashlib.md5(name.encode(), usedforsecurity=False).hexdigest()
    return f"{name[: limit - len(suffix) - len(digest) - 3]}...{digest}"


def default_cassette_name(test_name: str, class_name: str | None) -> str:
    """``Class.test_x[param]`` as pytest-recording names it."""
    name = f"{class_name}.{test_name}" if class_name else test_name
    return safe_file_name(name)


def cassette_path(
    *,
    test_file: Path,
    test_name: str,
    class_name: str | None,
    cassette_dir: Path | None,
    marker_name: str | None,
) -> Path:
    """The cassette file of one test.

    ``<test dir>/cassettes/<module>/<name>.yaml``; ``--llm-cassette-dir`` moves
    the ``cassettes`` folder; ``@pytest.mark.llm_cassette("name")`` names the file.
    """
    module = test_file.stem
    base = cassette_dir if cassette_dir is not None else test_file.parent / "cassettes"
    if marker_name:
        stem = marker_name[:-5] if marker_name.endswith(".yaml") else marker_name
        parts = [safe_file_name(part) for part in stem.split("/") if part not in ("", ".", "..")]
        *folders, leaf = parts or ["cassette"]
        return base.joinpath(module, *folders, f"{leaf}.yaml")
    return base / module / f"{shortened(default_cassette_name(test_name, class_name))}.yaml"
