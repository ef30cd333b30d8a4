"""A cassette's text: YAML that is also JSON when it can be, read back by the fastest parser.

Why: PyYAML builds every node of a document in Python. A fresh checkout (a
CI job) that replays 1,000 interactions spent a quarter of a second, and more
with a large heap, parsing YAML before the first answer, where ``json.loads``
reads the same data in under 20 ms.

What: a cassette is written in the JSON style (``json.dumps`` indented, keys
sorted), which is YAML too: vcrpy, pytest-recording and any YAML tool read it
as they read block YAML, and get the same data. A file that starts with ``{``
is read with ``json.loads``, anything else (block YAML, a hand-written flow
mapping JSON does not accept) with libyaml.

Where JSON and YAML 1.1 would read the same text differently, the cassette is
written as block YAML instead, so the two readers never disagree:

* bytes (a body that is not UTF-8: YAML's ``!!binary``), dates, and any other
  type JSON has no word for;
* a float written with an exponent and no point (``1e-05``: a string to
  YAML 1.1), or not finite;
* a string holding a surrogate (JSON's ``\\ud83d\\ude00`` is one character,
  YAML's two, and libyaml refuses a lone one); a key on more than one line or
  over 1,000 characters.

Characters YAML refuses in a stream or reads as line breaks (C1 controls,
U+2028, U+2029, U+FEFF, U+FFFE, U+FFFF) are written as ``\\uXXXX`` escapes,
which both read alike.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import re
    from collections.abc import Callable

from pytest_llmbudget.recording.modes import CASSETTE_STYLES as STYLES

JSON, YAML = STYLES
_LONGEST_KEY = 1000


# json and the patterns are loaded at the first cassette read or written, not
# with this module.
@functools.cache
def _surrogate() -> Callable[[str], re.Match[str] | None]:
    import re

    return re.compile("[\ud800-\udfff]").search


@functools.cache
def _unsafe() -> re.Pattern[str]:
    import re

    return re.compile("[\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff]")


# PyYAML is imported when a cassette is parsed or written as YAML, not with
# this module: a replay of JSON-style cassettes, or one from the parsed
# cache, never needs it.
@functools.cache
def _loader() -> Any:
    import yaml

    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@functools.cache
def _dumper() -> Any:
    import yaml

    base: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

    class Dumper(base):  # type: ignore[misc]
        """Writes multi-line strings (SSE streams, pretty JSON) as readable blocks."""

    Dumper.add_representer(str, _represent_str)
    return Dumper


def _represent_str(dumper: Any, value: str) -> Any:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


def style_of(data: bytes) -> str:
    """The style a file is in: what it is saved in again when a test adds to it."""
    return JSON if data.lstrip()[:1] == b"{" else YAML


def dumps(document: dict[str, Any], style: str = JSON) -> str:
    """The text of ``document``: JSON-formatted YAML where that reads back the same."""
    if style == JSON and _json_safe(document):
        import json

        text = json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False)
        return _unsafe().sub(_escape, text) + "\n"
    return block_yaml(document)


def block_yaml(document: dict[str, Any]) -> str:
    import yaml

    text: str = yaml.dump(
        document, Dumper=_dumper(), default_flow_style=False, allow_unicode=True, width=1000
    )
    return text


def loads(data: bytes | str) -> Any:
    """The document of a cassette file, by ``json.loads`` when it is JSON, else by libyaml.

    Raises ``yaml.YAMLError`` (not ``ValueError``) when neither reads it.
    """
    head = data.lstrip()[:1]
    if head in (b"{", "{"):
        import json

        try:
            return json.loads(data)
        except ValueError:
            pass  # a YAML flow mapping that is no JSON: YAML's parser says what is wrong
    import yaml

    return yaml.load(data, Loader=_loader())


def _escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def _json_safe(value: Any) -> bool:
    """Whether JSON and YAML 1.1 read ``json.dumps(value)`` back as the same ``value``."""
    surrogate = _surrogate()
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is str:
            if surrogate(item):
                return False
        elif kind is dict:
            for key in item:
                if type(key) is not str or len(key) > _LONGEST_KEY or "\n" in key:
                    return False
                if surrogate(key):
                    return False
            stack.extend(item.values())
        elif kind is list:
            stack.extend(item)
        elif kind is float:
            text = repr(item)
            if "." not in text or text in ("inf", "-inf", "nan"):
                return False
        elif kind not in (int, bool) and item is not None:
            return False
    return True
