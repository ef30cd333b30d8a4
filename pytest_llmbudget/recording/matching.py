"""How a live request finds its recording: two rules, for two kinds of recording.

An interaction this plugin recorded (it carries ``recorded_at``) is matched
on method, URL and canonical body: two prompts sent to one URL never replay
swapped. One recorded by vcrpy or pytest-recording was matched, where it was
recorded, on vcrpy's default ``method, scheme, host, port, path, query`` or on
the suite's ``match_on``; code that has changed since (a new ``max_tokens``,
an SDK sending one more field) still replays there, so here too: refusing it
would fail suites that pass with pytest-recording. The request that differs
from its recording is reported as drift rather than silently accepted.

An explicit ``match_on`` (a ``vcr_config`` or ``vcr`` marker) applies to every
interaction of the test's cassettes: the suite asked for it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

from pytest_llmbudget.recording.canonical import (
    RequestKey,
    canonical_body,
    canonical_url,
    is_loopback,
    request_key,
)

VCR_DEFAULT_ON = ("method", "scheme", "host", "port", "path", "query")
# vcrpy's built-in matchers, computed here as parts of a key (an index, not a scan).
NATIVE_PARTS = frozenset(
    {"method", "uri", "scheme", "host", "port", "path", "query", "body", "raw_body", "headers"}
)
Headers = list[tuple[str, str]]
# A vcrpy matcher: (request, recorded request) -> None/True, False, or AssertionError.
Matcher = Callable[[Any, Any], Any]


class Live(NamedTuple):
    """The request being matched, as recordings are compared with it (redacted, filtered)."""

    method: str
    uri: str
    body: bytes
    headers: Headers


def written_here(interaction: dict[str, Any]) -> bool:
    """Recorded by this plugin: only it writes ``recorded_at`` (what prune trusts too)."""
    return "recorded_at" in interaction


@dataclass(frozen=True, slots=True)
class Matching:
    """A test's matching rules; the default is this plugin's strict rule for every recording."""

    body_ignore: tuple[str, ...] = ()
    url_ignore: tuple[str, ...] = ()
    # Recordings this plugin did not write are matched on these parts, vcrpy's way.
    foreign: bool = False
    loose_on: tuple[str, ...] = VCR_DEFAULT_ON
    # Matchers that are not vcrpy built-ins (registered or callables): asked one by one.
    custom: tuple[Matcher, ...] = ()
    # An explicit match_on: the loose rule is for every recording.
    everywhere: bool = False
    secret_params: frozenset[str] = frozenset()
    # vcrpy's allow_playback_repeats: a recording may replay again once every match has played.
    repeats: bool = False

    def fingerprint(self) -> tuple[str, ...]:
        """What the strict keys depend on, for the parsed cache."""
        return (*self.body_ignore, *(f"\0url:{part}" for part in self.url_ignore))

    @property
    def needs_headers(self) -> bool:
        """Matching looks at headers (``headers``, or a suite's own matcher might): then the
        live ones are compared redacted, as the recordings hold them."""
        return bool(self.custom) or "headers" in self.loose_on

    def loose_rule(self) -> str:
        """How loose matching matched, in the words of a drift warning."""
        if self.loose_on == VCR_DEFAULT_ON and not self.everywhere and not self.custom:
            return "on method and URL, as vcrpy does by default"
        parts = [*self.loose_on, *(getattr(m, "__name__", "a custom matcher") for m in self.custom)]
        return "on the suite's match_on: " + ", ".join(parts)

    def strict_key(
        self, method: str, uri: str, body: bytes, *, canonical: str | None = None
    ) -> RequestKey:
        """``canonical``: the body's canonical form, when already known (Cassette.known_body)."""
        if canonical is not None:
            return (method.upper(), canonical_url(uri, self.url_ignore), canonical)
        return request_key(method, uri, body, self.body_ignore, self.url_ignore)

    def is_loose(self, interaction: dict[str, Any]) -> bool:
        return self.everywhere or (self.foreign and not written_here(interaction))

    def loose_key(self, method: str, uri: str, body: bytes, headers: Headers) -> tuple[str, ...]:
        return tuple(self._part(part, method, uri, body, headers) for part in self.loose_on)

    def _part(self, part: str, method: str, uri: str, body: bytes, headers: Headers) -> str:
        if part == "method":
            return method.upper()
        if part in ("body", "raw_body"):
            return canonical_body(body, self.body_ignore) if part == "body" else repr(body)
        if part == "headers":
            return repr(sorted((name.lower(), value) for name, value in headers))
        from urllib.parse import parse_qsl, urlsplit

        split = urlsplit(uri)
        host = (split.hostname or "").lower()
        loopback = is_loopback(host)
        if part == "uri":
            return canonical_url(self._without_secrets(uri, split), self.url_ignore)
        if part == "scheme":
            return "" if "scheme" in self.url_ignore else split.scheme.lower()
        if part == "host":
            return "" if "host" in self.url_ignore else ("localhost" if loopback else host)
        if part == "port":
            if loopback or {"port", "host"} & set(self.url_ignore):
                return ""
            default = {"http": "80", "https": "443"}.get(split.scheme.lower(), "")
            return str(split.port) if split.port is not None else default
        if part == "path":
            return split.path
        # query: parameter pairs, sorted; redacted credentials and ignored names left out
        if "query" in self.url_ignore:
            return ""
        pairs = [
            (name, value)
            for name, value in parse_qsl(split.query, keep_blank_values=True)
            if name.lower() not in self.secret_params and f"query.{name}" not in self.url_ignore
        ]
        return repr(sorted(pairs))

    def _without_secrets(self, uri: str, split: Any) -> str:
        if not split.query or not self.secret_params:
            return uri
        kept = [
            pair
            for pair in split.query.split("&")
            if pair.partition("=")[0].lower() not in self.secret_params
        ]
        return split._replace(query="&".join(kept)).geturl()  # type: ignore[no-any-return]

    def passes_custom(self, live: Live, recorded: dict[str, Any]) -> bool:
        """Every custom matcher accepts the pair (vcrpy's convention for a matcher's answer)."""
        if not self.custom:
            return True
        from vcr.request import Request

        mine = Request(live.method, live.uri, live.body, _header_dict(live.headers))
        theirs = Request._from_dict(recorded)
        for matcher in self.custom:
            try:
                answer = matcher(mine, theirs)
            except AssertionError:
                return False
            if answer is not None and not answer:
                return False
        return True


def _header_dict(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for name, value in headers:
        mapping[name] = f"{mapping[name]}, {value}" if name in mapping else value
    return mapping
