"""The key a request is matched by: method, URL and canonical body.

Matching on the body matters: two prompts sent to one URL must not replay
swapped. JSON bodies are compared after canonicalisation, so key order and
whitespace do not matter, and fields the user names (``llm_match_ignore``,
dotted paths allowed) are left out.

A loopback server (a stand-in, a local model) listens on whatever port the
test run got, so for 127.0.0.1, ``localhost`` and ``::1`` the port is not part
of the key, and the three names are one host. Other parts of the URL are left
out when named in ``llm_match_ignore_url`` (`URL_PARTS`, or ``query.NAME``).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from typing import Any

RequestKey = tuple[str, str, str]


URL_PARTS = ("scheme", "host", "port", "query")
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})
_LOOPBACK_MARKS = ("//localhost", "//127.", "//[::1]")


def is_loopback(host: str) -> bool:
    host = host.lower()
    return host in LOOPBACK_HOSTS or host.startswith("127.")


def canonical_url(url: str, ignore: Iterable[str] = ()) -> str:
    """Query parameters sorted, so their order does not matter; see the module for the rest."""
    if not ignore and not any(mark in url for mark in _LOOPBACK_MARKS):
        base, sep, query = url.partition("?")
        if not sep:
            return url
        return base + "?" + "&".join(sorted(query.split("&")))
    return _canonical_parts(url, frozenset(ignore))


@functools.lru_cache(maxsize=4096)
def _canonical_parts(url: str, ignore: frozenset[str]) -> str:
    """Cached: a test replays the same few URLs (one endpoint, a loopback stand-in's port)
    over and over, and splitting each one again was most of a loopback replay's key."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    port = "" if parts.port is None else f":{parts.port}"
    if is_loopback(host):
        host, port = "localhost", ""
    scheme = "" if "scheme" in ignore else parts.scheme.lower()
    if "host" in ignore:
        host = port = ""
    if "port" in ignore:
        port = ""
    pairs = [] if "query" in ignore or not parts.query else parts.query.split("&")
    pairs = [pair for pair in pairs if f"query.{pair.partition('=')[0]}" not in ignore]
    query = "?" + "&".join(sorted(pairs)) if pairs else ""
    return f"{scheme}://{host}{port}{parts.path}{query}"


def _drop(document: Any, path: list[str]) -> None:
    head, *rest = path
    if isinstance(document, dict):
        if rest:
            child = document.get(head)
            if child is not None:
                _drop(child, rest)
        else:
            document.pop(head, None)
    elif isinstance(document, list):
        for element in document:
            _drop(element, path)


def canonical_body(body: bytes, ignore: Iterable[str] = ()) -> str:
    """A stable text for a request body; JSON is parsed and re-dumped sorted."""
    if not body:
        return ""
    stripped = body.lstrip()
    if stripped[:1] in (b"{", b"["):
        try:
            document = json.loads(body)
        except ValueError:
            pass
        else:
            for field in ignore:
                _drop(document, field.split("."))
            return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return body.decode("utf-8", errors="surrogateescape")


def request_key(
    method: str, url: str, body: bytes, ignore: Iterable[str] = (), url_ignore: Iterable[str] = ()
) -> RequestKey:
    return (method.upper(), canonical_url(url, url_ignore), canonical_body(body, ignore))
