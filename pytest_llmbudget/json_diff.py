"""Field-level differences between two requests, in words a person can act on.

A cassette miss or a drifted replay is only useful when it says *which* field
changed: ``max_tokens: 8192 -> 64000`` beats two screens of YAML. Paths are
written the way one reads JSON in Python or jq (``messages[0].content``), long
strings are cut around their first difference so the change stays on one line.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from pytest_llmbudget.recording.canonical import _drop, canonical_url


class _Absent:
    """A side on which the field does not exist (distinct from JSON ``null``)."""

    def __repr__(self) -> str:
        return "(absent)"


ABSENT: Final = _Absent()

# Characters kept either side of the first difference when a string is shortened.
_CONTEXT = 24


@dataclass(frozen=True)
class Change:
    """One field that differs: where, what the recording holds, what was sent."""

    path: str
    recorded: Any
    sent: Any

    def __str__(self) -> str:
        recorded, sent = _shown_pair(self.recorded, self.sent)
        return f"{self.path or 'body'}: {recorded} -> {sent}"

    def as_json(self) -> dict[str, Any]:
        """For the JSON report: an absent side is left out rather than invented."""
        entry: dict[str, Any] = {"path": self.path or "body"}
        if self.recorded is not ABSENT:
            entry["recorded"] = self.recorded
        if self.sent is not ABSENT:
            entry["sent"] = self.sent
        return entry


def _shown(value: Any) -> str:
    if value is ABSENT:
        return "(absent)"
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _shown_pair(recorded: Any, sent: Any) -> tuple[str, str]:
    if isinstance(recorded, str) and isinstance(sent, str):
        return _shorten(recorded, sent)
    return _shorten_one(_shown(recorded)), _shorten_one(_shown(sent))


def _shorten_one(text: str) -> str:
    limit = 4 * _CONTEXT
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _shorten(recorded: str, sent: str) -> tuple[str, str]:
    """Both strings cut to the same window around where they first differ."""
    if max(len(recorded), len(sent)) <= 3 * _CONTEXT:
        return json.dumps(recorded, ensure_ascii=False), json.dumps(sent, ensure_ascii=False)
    first = next(
        (i for i, (a, b) in enumerate(zip(recorded, sent, strict=False)) if a != b),
        min(len(recorded), len(sent)),
    )
    start = max(0, first - _CONTEXT)
    shown = []
    for text in (recorded, sent):
        end = first + _CONTEXT
        piece = text[start:end]
        body = json.dumps(piece, ensure_ascii=False)[1:-1]
        shown.append(f'"{"…" if start else ""}{body}{"…" if end < len(text) else ""}"')
    return shown[0], shown[1]


def _key_path(prefix: str, key: str) -> str:
    if key.isidentifier():
        return f"{prefix}.{key}" if prefix else key
    return f"{prefix}[{json.dumps(key, ensure_ascii=False)}]"


def _walk(recorded: Any, sent: Any, path: str, out: list[Change]) -> None:
    if isinstance(recorded, dict) and isinstance(sent, dict):
        for key in sorted(set(recorded) | set(sent), key=str):
            _walk(recorded.get(key, ABSENT), sent.get(key, ABSENT), _key_path(path, str(key)), out)
    elif isinstance(recorded, list) and isinstance(sent, list):
        for index in range(max(len(recorded), len(sent))):
            _walk(
                recorded[index] if index < len(recorded) else ABSENT,
                sent[index] if index < len(sent) else ABSENT,
                f"{path}[{index}]",
                out,
            )
    elif recorded is ABSENT or sent is ABSENT or type(recorded) is not type(sent):
        if recorded is not sent:
            out.append(Change(path, recorded, sent))
    elif recorded != sent:
        out.append(Change(path, recorded, sent))


def _parsed(body: bytes) -> Any:
    if not body.strip():
        return ABSENT
    if body.lstrip()[:1] in (b"{", b"["):
        try:
            return json.loads(body)
        except ValueError:
            pass
    return body.decode("utf-8", errors="replace")


def json_changes(
    recorded: bytes, sent: bytes, *, ignore: Sequence[str] = (), limit: int | None = None
) -> list[Change]:
    """Every differing field of two request bodies; a non-JSON body is one change."""
    before, after = _parsed(recorded), _parsed(sent)
    if isinstance(before, dict | list) and isinstance(after, dict | list):
        for field in ignore:
            _drop(before, field.split("."))
            _drop(after, field.split("."))
        out: list[Change] = []
        _walk(before, after, "", out)
    elif before == after:
        out = []
    else:
        out = [Change("", before, after)]
    return out if limit is None else out[:limit]


def describe(changes: Sequence[Change], *, indent: str = "  ", limit: int = 10) -> list[str]:
    """One line per change, at most ``limit`` of them, then how many were left out."""
    lines = [f"{indent}{change}" for change in changes[:limit]]
    hidden = len(changes) - limit
    if hidden > 0:
        noun = "difference" if hidden == 1 else "differences"
        lines.append(f"{indent}… and {hidden} more {noun}")
    return lines


def _query(url: str) -> dict[str, list[str]]:
    from urllib.parse import parse_qs, urlsplit

    return parse_qs(urlsplit(url).query, keep_blank_values=True)


def query_changes(recorded_url: str, sent_url: str, *, ignore: Iterable[str] = ()) -> list[Change]:
    """The URL as a whole when scheme, host or port differ, the path when it does, or else
    each query parameter. ``ignore``: the parts matching leaves out (``llm_match_ignore_url``),
    which are then no difference either."""
    from urllib.parse import urlsplit

    ignore = tuple(ignore)
    before, after = canonical_url(recorded_url, ignore), canonical_url(sent_url, ignore)
    before_base, after_base = before.partition("?")[0], after.partition("?")[0]
    if before_base != after_base:
        old_path, new_path = urlsplit(before_base).path, urlsplit(after_base).path
        if before_base.removesuffix(old_path) != after_base.removesuffix(new_path):
            return [Change("url", recorded_url, sent_url)]
        return [Change("path", old_path, new_path)]
    recorded, sent = _query(before), _query(after)
    changes = []
    for name in sorted(set(recorded) | set(sent)):
        old, new = recorded.get(name), sent.get(name)
        if old != new:
            changes.append(
                Change(
                    f"query.{name}",
                    ABSENT if old is None else (old[0] if len(old) == 1 else old),
                    ABSENT if new is None else (new[0] if len(new) == 1 else new),
                )
            )
    return changes


def _by_name(headers: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for name, value in headers:
        grouped.setdefault(name.lower(), []).append(value)
    return grouped


def header_changes(
    recorded: Iterable[tuple[str, str]],
    sent: Iterable[tuple[str, str]],
    *,
    skip: Iterable[str] = (),
) -> list[Change]:
    """Headers that differ, names compared case-insensitively; ``skip`` names are ignored."""
    skipped = {name.lower() for name in skip}
    before, after = _by_name(recorded), _by_name(sent)
    changes = []
    for name in sorted((set(before) | set(after)) - skipped):
        old, new = before.get(name), after.get(name)
        if old != new:
            changes.append(
                Change(
                    f"header.{name}",
                    ABSENT if old is None else ", ".join(old),
                    ABSENT if new is None else ", ".join(new),
                )
            )
    return changes
