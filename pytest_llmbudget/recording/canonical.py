"""The key a request is matched by: method, URL and canonical body.

Matching on the body matters: two prompts sent to one URL must not replay
swapped. JSON bodies are compared after canonicalisation, so key order and
whitespace do not matter, and fields the user names (``llm_match_ignore``,
dotted paths allowed) are left out.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

RequestKey = tuple[str, str, str]


def canonical_url(url: str) -> str:
    """Query parameters sorted, so their order does not matter."""
    base, sep, query = url.partition("?")
    if not sep:
        return url
    return base + "?" + "&".join(sorted(query.split("&")))


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


def request_key(method: str, url: str, body: bytes, ignore: Iterable[str] = ()) -> RequestKey:
    return (method.upper(), canonical_url(url), canonical_body(body, ignore))
