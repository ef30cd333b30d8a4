"""Cassettes a suite's own vcrpy persister reads and writes.

Some suites store cassettes their own way (langchain gzips them, through a
persister registered in ``pytest_recording_configure``). Their files are
theirs: read and written only through that persister, in vcrpy's persister
terms, ``(requests, responses)`` in and ``{"requests", "responses"}`` out. What
a persister writes is the request and the response only, so recordings made
here lose their ``recorded_at`` stamp and are matched, next time, as the
suite's other recordings are (its ``match_on``). A persister writes the file
itself: whether that write is atomic is up to it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pytest_llmbudget.errors import CassetteError, CassetteSaveError


def _name(thing: Any) -> str:
    return str(getattr(thing, "__name__", type(thing).__name__))


def file_digest(path: Path) -> str | None:
    """SHA-256 of the file as it is on disk, None when there is none."""
    from pytest_llmbudget.recording.parsed_cache import file_digest as digest

    try:
        return digest(path)
    except OSError:
        return None


def load(path: Path, persister: Any, serializer: Any) -> list[dict[str, Any]] | None:
    """The interactions the persister reads from ``path``; None when it finds no cassette."""
    __tracebackhide__ = True
    from vcr.persisters.filesystem import CassetteNotFoundError

    try:
        requests, responses, *_metadata = persister.load_cassette(str(path), serializer=serializer)
    except (CassetteNotFoundError, FileNotFoundError):
        return None
    except ValueError:
        # vcrpy's own persisters said "not found" with ValueError before CassetteNotFoundError.
        if not path.exists():
            return None
        raise CassetteError(path, f"the persister {_name(persister)} cannot read it") from None
    except Exception as exc:
        raise CassetteError(
            path, f"the persister {_name(persister)} cannot read it: {exc}"
        ) from None
    interactions = []
    for request, response in zip(requests, responses, strict=False):
        as_dict = request._to_dict() if hasattr(request, "_to_dict") else request
        interactions.append({"request": as_dict, "response": response})
    return interactions


def _as_recorded(response: dict[str, Any]) -> dict[str, Any]:
    """The response as vcrpy's stubs record it, its body bytes: a persister (and vcrpy
    replaying what it reads) may rely on that, as on the files vcrpy writes."""
    body = response.get("body")
    if isinstance(body, dict) and isinstance(body.get("string"), str):
        body["string"] = body["string"].encode("utf-8", errors="surrogateescape")
    return response


def save(path: Path, interactions: list[dict[str, Any]], persister: Any, serializer: Any) -> None:
    """Hand the interactions to the persister as vcrpy hands them to it."""
    __tracebackhide__ = True
    import copy

    from vcr.request import Request

    cassette_dict = {
        "requests": [Request._from_dict(i["request"]) for i in interactions],
        "responses": [_as_recorded(copy.deepcopy(i["response"])) for i in interactions],
    }
    try:
        persister.save_cassette(str(path), cassette_dict, serializer=serializer)
    except OSError as exc:
        raise CassetteSaveError(path, exc.strerror or str(exc)) from None
    except Exception as exc:
        raise CassetteSaveError(path, f"the persister {_name(persister)} failed: {exc}") from None
