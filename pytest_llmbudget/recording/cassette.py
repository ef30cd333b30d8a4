"""A vcrpy-format cassette with an index, loaded with libyaml and saved atomically.

vcrpy scans the whole cassette for every lookup (O(n²) per test); here each
interaction is indexed once by its canonical request key, and identical
requests replay in recorded order from a per-key queue.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from pytest_llmbudget.errors import CassetteError
from pytest_llmbudget.recording.canonical import RequestKey, request_key

CASSETTE_VERSION = 1
Headers = list[tuple[str, str]]

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_BaseDumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _Dumper(_BaseDumper):  # type: ignore[misc]
    """Writes multi-line strings (SSE streams, pretty JSON) as readable blocks."""


def _represent_str(dumper: Any, value: str) -> Any:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """A recorded answer, ready to be replayed by any client adapter."""

    status: int
    reason: str
    headers: Headers
    body: bytes

    def header(self, name: str) -> str:
        lowered = name.lower()
        for key, value in self.headers:
            if key.lower() == lowered:
                return value
        return ""

    def chunks(self) -> list[bytes]:
        """The body cut at event boundaries for SSE, so streams replay event by event."""
        if not self.body or "text/event-stream" not in self.header("content-type"):
            return [self.body]
        separator = b"\r\n\r\n" if b"\r\n\r\n" in self.body else b"\n\n"
        pieces = self.body.split(separator)
        chunks = [piece + separator for piece in pieces[:-1]]
        if pieces[-1]:
            chunks.append(pieces[-1])
        return chunks


def _as_bytes(value: Any) -> bytes:
    if value is None:
        return b""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8", errors="surrogateescape")
    # A parsed JSON body (the ``parsed_body`` cassette flavour).
    return json.dumps(value).encode("utf-8")


def _headers_of(mapping: Any) -> Headers:
    if not isinstance(mapping, dict):
        return []
    headers: Headers = []
    for name, values in mapping.items():
        if isinstance(values, list):
            headers.extend((str(name), str(value)) for value in values)
        elif values is not None:
            headers.append((str(name), str(values)))
    return headers


def request_body(request: dict[str, Any]) -> bytes:
    if "parsed_body" in request:
        return _as_bytes(request["parsed_body"])
    return _as_bytes(request.get("body"))


def response_of(interaction: dict[str, Any]) -> StoredResponse:
    response = interaction["response"]
    status = response.get("status") or {}
    if "parsed_body" in response:
        stored: Any = response["parsed_body"]
    else:
        raw_body = response.get("body")
        stored = raw_body.get("string") if isinstance(raw_body, dict) else raw_body
    headers = _headers_of(response.get("headers"))
    if not isinstance(stored, bytes):
        # Text in YAML is a decoded body, whatever Content-Encoding the server sent:
        # replaying that header would make the client try to decompress plain text.
        headers = [(k, v) for k, v in headers if k.lower() != "content-encoding"]
    return StoredResponse(
        status=int(status.get("code", 200)),
        reason=str(status.get("message") or ""),
        headers=headers,
        body=_as_bytes(stored),
    )


def _check(path: Path, document: Any) -> list[dict[str, Any]]:
    if not isinstance(document, dict):
        raise CassetteError(path, "the top level is not a mapping with 'interactions'")
    interactions = document.get("interactions")
    if not isinstance(interactions, list):
        raise CassetteError(path, "'interactions' is missing or not a list")
    for number, interaction in enumerate(interactions, start=1):
        request = interaction.get("request") if isinstance(interaction, dict) else None
        response = interaction.get("response") if isinstance(interaction, dict) else None
        if not isinstance(request, dict) or "uri" not in request or "method" not in request:
            raise CassetteError(path, f"interaction {number} has no request method and uri")
        if not isinstance(response, dict) or not isinstance(response.get("status"), dict):
            raise CassetteError(path, f"interaction {number} has no response status")
    return interactions


class Cassette:
    """One test's recordings. Not thread-safe: the recorder holds its lock."""

    __slots__ = ("_index", "dirty", "existed", "ignore", "interactions", "path", "played")

    def __init__(self, path: Path, ignore: Iterable[str] = ()) -> None:
        self.path = path
        self.ignore = tuple(ignore)
        self.interactions: list[dict[str, Any]] = []
        self._index: dict[RequestKey, deque[int]] = {}
        self.played: set[int] = set()
        self.dirty = False
        self.existed = False

    @classmethod
    def load(cls, path: Path, ignore: Iterable[str] = ()) -> Cassette:
        """Read ``path`` if it exists; a missing file is an empty cassette."""
        __tracebackhide__ = True
        cassette = cls(path, ignore)
        try:
            text = path.read_bytes()
        except FileNotFoundError:
            return cassette
        except OSError as exc:
            raise CassetteError(path, str(exc)) from None
        try:
            document = yaml.load(text, Loader=_Loader)
        except yaml.YAMLError as exc:
            raise CassetteError(path, f"invalid YAML: {exc}") from None
        cassette.existed = True
        for interaction in _check(path, document):
            cassette._add(interaction)
        return cassette

    def _key_of(self, interaction: dict[str, Any]) -> RequestKey:
        request = interaction["request"]
        return request_key(
            str(request["method"]), str(request["uri"]), request_body(request), self.ignore
        )

    def _add(self, interaction: dict[str, Any]) -> int:
        position = len(self.interactions)
        self.interactions.append(interaction)
        self._index.setdefault(self._key_of(interaction), deque()).append(position)
        return position

    def take(self, key: RequestKey) -> tuple[int, dict[str, Any]] | None:
        """The next unplayed interaction recorded for ``key``, in recorded order."""
        queue = self._index.get(key)
        while queue:
            position = queue.popleft()
            if position not in self.played:
                self.played.add(position)
                return position, self.interactions[position]
        return None

    def append(self, interaction: dict[str, Any]) -> int:
        """Add a fresh recording; it is not replayed again within this run."""
        position = self._add(interaction)
        self.played.add(position)
        self.dirty = True
        return position

    def __len__(self) -> int:
        return len(self.interactions)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.interactions)

    def dump(self) -> str:
        document = {"interactions": self.interactions, "version": CASSETTE_VERSION}
        text: str = yaml.dump(
            document, Dumper=_Dumper, default_flow_style=False, allow_unicode=True, width=1000
        )
        return text

    def save(self) -> None:
        """Write atomically: a killed run leaves the old file or the new one, never half."""
        write_atomic(self.path, self.dump())
        self.dirty = False


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temp_name, 0o644)  # mkstemp makes it private; a cassette is a normal file
        os.replace(temp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        raise
