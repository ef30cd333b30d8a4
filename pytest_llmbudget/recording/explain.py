"""Why a request did not replay, and how a replayed one differs from its recording.

"No recording" alone sends a user diffing YAML by hand; what they need is the
recording that came closest and the fields that keep it from matching
(``max_tokens: 8192 -> 64000``). The same field-level diff describes drift: a
recording of another tool that replayed although the request has changed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from pytest_llmbudget.json_diff import Change, describe, header_changes, json_changes, query_changes
from pytest_llmbudget.recording.canonical import canonical_url
from pytest_llmbudget.recording.cassette import Cassette, _headers_of, request_body
from pytest_llmbudget.recording.matching import Live, Matching

# Headers that differ between any two runs, or hold what never reaches a cassette.
VOLATILE_HEADERS = frozenset(
    {
        "content-length",
        "authorization",
        "x-api-key",
        "api-key",
        "x-goog-api-key",
        "cookie",
        "proxy-authorization",
        "x-stainless-retry-count",
        "x-stainless-read-timeout",
        "x-stainless-timeout",
        "host",
        "connection",
        "accept-encoding",
    }
)


def _base(method: str, uri: str, url_ignore: Iterable[str]) -> tuple[str, str]:
    return method.upper(), canonical_url(uri, url_ignore).partition("?")[0]


def _url_ignore(matching: Matching) -> tuple[str, ...]:
    """URL parts a diff leaves out: what matching ignores, and credentials (``key=``), which
    differ only in how each side redacted them (``<FILTERED>`` in a suite's cassette)."""
    return (*matching.url_ignore, *(f"query.{name}" for name in sorted(matching.secret_params)))


def request_changes(live: Live, recorded: dict[str, Any], matching: Matching) -> list[Change]:
    """URL, header and JSON-body differences of the live request from a recorded one."""
    changes = body_changes(live, recorded, matching)
    changes += header_changes(
        _headers_of(recorded.get("headers")), live.headers, skip=VOLATILE_HEADERS
    )
    return changes


def body_changes(live: Live, recorded: dict[str, Any], matching: Matching) -> list[Change]:
    """What drift reports: the URL's query and the JSON body (headers change with every SDK)."""
    changes = query_changes(str(recorded.get("uri", "")), live.uri, ignore=_url_ignore(matching))
    body_ignore = tuple(matching.body_ignore)
    return changes + json_changes(request_body(recorded), live.body, ignore=body_ignore)


def closest(cassettes: Sequence[Cassette], live: Live) -> list[str]:
    """Lines that name the recording closest to ``live`` and what differs, for CassetteMiss."""
    if not any(len(cassette) for cassette in cassettes):
        names = ", ".join(str(cassette.path.name) for cassette in cassettes)
        missing = all(not cassette.existed for cassette in cassettes)
        return [f"The cassette {'does not exist yet' if missing else 'is empty'} ({names})."]
    matching = cassettes[0].matching
    wanted = _base(live.method, live.uri, matching.url_ignore)
    best: tuple[int, bool, int, Cassette, list[Change]] | None = None
    seen: dict[tuple[str, str], int] = {}
    for cassette in cassettes:
        for position, interaction in enumerate(cassette):
            request = interaction["request"]
            here = _base(str(request["method"]), str(request["uri"]), matching.url_ignore)
            seen[here] = seen.get(here, 0) + 1
            if here != wanted:
                continue
            changes = request_changes(live, request, matching)
            played = position in cassette.played
            # The same request, played already, explains the miss best; then an unplayed
            # recording before a played one, then the fewest differences.
            rank = (bool(changes), played, len(changes))
            if best is None or rank < (bool(best[4]), best[1], best[0]):
                best = (len(changes), played, position, cassette, changes)
    if best is None:
        lines = [f"The cassette has no {wanted[0]} request to {wanted[1]}; it records:"]
        for (method, url), count in list(seen.items())[:5]:
            lines.append(f"  {method} {url}" + (f" ({count} times)" if count > 1 else ""))
        if len(seen) > 5:
            lines.append(f"  … and {len(seen) - 5} more")
        return lines
    _count, played, position, cassette, changes = best
    where = f"interaction {position + 1} of {cassette.path.name}"
    if not changes:
        # Ranked first whatever else is left: the test asks once more than it did recording.
        return [
            f"The same request is {where}, already played by this test: it makes this "
            "call once more than when the cassette was recorded."
        ]
    if played:
        lines = [
            f"Every recording of {wanted[0]} {wanted[1]} was already played by this test; "
            f"the closest, {where}, differs in:"
        ]
    else:
        lines = [f"The closest recording, {where}, differs in:"]
    return lines + describe(changes, indent="  ")
