"""A marked test's vcrpy configuration, resolved the way pytest-recording resolves it.

``vcr_config`` merged with the markers' keyword arguments (the closest marker
wins), handed to a real ``vcr.VCR`` after ``pytest_recording_configure`` has
registered its serializers and matchers: vcrpy itself builds the filter chain
(``filter_headers``, ``filter_query_parameters``, ``filter_post_data_parameters``,
``before_record_request``, ``ignore_hosts``...), so a suite's filters mean here
exactly what they meant when its cassettes were recorded.
"""

from __future__ import annotations

import copy
import dataclasses
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import pytest

from pytest_llmbudget.recording.cassette_setup import CassetteSetup
from pytest_llmbudget.recording.matching import NATIVE_PARTS, Matching
from pytest_llmbudget.recording.naming import shortened
from pytest_llmbudget.vcrcompat.options import VCR_MODES

if TYPE_CHECKING:
    from pytest_llmbudget.recording.recorder import HttpRequest
    from pytest_llmbudget.settings import Settings

# vcrpy options that rewrite interactions on save or load, which this plugin does not apply:
# ignoring them would write secrets they hide, or miss recordings they would restore.
_UNSUPPORTED = ("filter_sensitive_data", "before_save_interaction", "after_load_interaction")
# pytest-recording's own keys: not vcrpy's.
_NOT_VCRPY = frozenset({"allowed_hosts"})
# Modes the run was given explicitly: then a vcr_config's record_mode does not apply.
_EXPLICIT = frozenset({"--llm-record", "--record-mode", "--block-network", "CI"})


def _vcr_config(request: pytest.FixtureRequest) -> dict[str, Any]:
    config = request.getfixturevalue("vcr_config")
    if not isinstance(config, dict):
        raise pytest.UsageError(
            f"{request.node.nodeid}: the vcr_config fixture returned "
            f"{type(config).__name__}, not a dict of vcrpy options"
        )
    return config


def merged_config(config: dict[str, Any], marks: list[pytest.Mark]) -> dict[str, Any]:
    """``vcr_config``, then each marker's keyword arguments from the farthest to the closest."""
    merged = copy.deepcopy(config)
    for marker in reversed(marks):
        merged.update(marker.kwargs)
    return merged


class _Shared(NamedTuple):
    """vcrpy's reading of one configuration, which the tests of a module share."""

    config: dict[str, Any]  # the vcr_config object read: kept alive, its id is in the key
    merged: dict[str, Any]
    transform: Callable[[str], str]
    setup: CassetteSetup  # each test's own path, extra cassettes and mode go in per test


# (vcr_config's value, or its id when it holds more than plain data; ids of the markers
# with options; the cassette folder) -> its reading.
_SHARED = pytest.StashKey[dict[tuple[Any, tuple[int, ...], str], _Shared]]()
_SCALARS = (str, int, float, bool, type(None))


def resolve(request: pytest.FixtureRequest, settings: Settings) -> CassetteSetup:
    """One marked test's cassette and rules.

    A module- or session-scoped ``vcr_config`` is the same object for every test, and a
    function-scoped one (pytest-recording's default among them) returns equal plain data
    each time: vcrpy reads it (and ``pytest_recording_configure`` runs) once, not once per
    test. The suite's hook cannot tell one test from another: it gets the pytest config and
    a fresh ``VCR``, so its answer for equal options is the same.
    """
    __tracebackhide__ = True
    config = _vcr_config(request)
    marks = list(request.node.iter_markers(name="vcr"))
    library = str(request.getfixturevalue("vcr_cassette_dir"))
    cache = request.config.stash.setdefault(_SHARED, {})
    value = _frozen(config)
    marked = tuple(id(mark) for mark in marks if mark.kwargs)
    key = (id(config) if value is None else value, marked, library)
    shared = cache.get(key)
    if shared is None or (value is None and shared.config is not config):
        shared = cache[key] = _read(request, config, marks, library)
    # pytest-recording's own length check (its quirk included: the serializer's bare name).
    name = shortened(
        str(request.getfixturevalue("default_cassette_name")),
        shared.merged.get("serializer", ".yaml"),
    )
    # Extra cassettes, as pytest-recording finds them: relative to vcr_cassette_dir, as named.
    extras = tuple(
        Path(os.path.abspath(os.path.join(library, str(arg))))
        for marker in marks
        for arg in marker.args
    )
    return shared.setup._replace(
        # vcrpy's transformer puts the name in the library folder: vcr_config's
        # cassette_library_dir when it names one (relative to the working directory, as
        # vcrpy opens it), else vcr_cassette_dir; then any path_transformer of the suite's.
        path=Path(os.path.abspath(shared.transform(name))),
        extra=tuple(dict.fromkeys(extras)),
        mode=_mode(shared.merged, settings, request.node.nodeid),
    )


def _frozen(data: Any) -> tuple[Any, ...] | None:
    """``data`` as a hashable value when it is plain data (text, numbers, lists, dicts of
    them); None for anything else (a callable, a matcher, an enum, a subclass), known by
    identity only. Types are kept: ``1``, ``1.0`` and ``True`` are equal in Python, not as
    vcrpy options."""
    kind = type(data)
    if kind in _SCALARS:
        return (kind, data)
    if kind is list or kind is tuple:
        items = [_frozen(item) for item in data]
        return None if None in items else (kind, *items)
    if kind is dict:
        pairs = [(key, _frozen(item)) for key, item in data.items()]
        if any(not isinstance(key, str) or item is None for key, item in pairs):
            return None
        return (dict, *pairs)
    return None


# vcrpy's default match_on, and the options whose meaning needs no vcrpy to read.
VCRPY_MATCH_ON = ("method", "scheme", "host", "port", "path", "query")
_PLAIN_OPTIONS = frozenset({"match_on", "record_mode", "allow_playback_repeats", "serializer"})


def _plain(request: pytest.FixtureRequest, merged: dict[str, Any], library: str) -> _Shared | None:
    """A configuration vcrpy would read as its defaults say, read without importing vcrpy.

    Most marked suites set nothing but ``match_on`` or ``record_mode``; importing
    vcrpy (and PyYAML with it) and building a VCR for each module then costs a
    replay more than all its matching. Anything else, or a
    ``pytest_recording_configure`` hook (it may register matchers and
    serializers), goes to vcrpy itself.
    """
    if not set(merged) <= _PLAIN_OPTIONS or merged.get("serializer", "yaml") != "yaml":
        return None
    if request.config.hook.pytest_recording_configure.get_hookimpls():
        return None
    match_on = merged.get("match_on", VCRPY_MATCH_ON)
    if not isinstance(match_on, list | tuple) or not all(
        isinstance(name, str) and name in NATIVE_PARTS for name in match_on
    ):
        return None
    matching = dataclasses.replace(
        _matching_of(list(match_on), [], explicit="match_on" in merged),
        repeats=bool(merged.get("allow_playback_repeats", False)),
    )
    setup = CassetteSetup(
        path=Path(library),
        matching=matching,
        request_filter=None,
        response_filter=None,
        serializer=None,
        persister=None,
        source="vcr_config",
        all_http=True,
    )
    return _Shared(merged, merged, _with_suffix(".yaml", library), setup)


def _with_suffix(suffix: str, library: str) -> Callable[[str], str]:
    """vcrpy's default path transformer: the name with ``suffix``, then in the library folder
    unless it starts with it (vcrpy's own two steps, in its order)."""

    def transform(name: str) -> str:
        path = name if name.endswith(suffix) else name + suffix
        return path if path.startswith(library) else os.path.join(library, path)

    return transform


def _read(
    request: pytest.FixtureRequest, config: dict[str, Any], marks: list[pytest.Mark], library: str
) -> _Shared:
    """vcrpy's own reading of the configuration, after the suite's hook has had its say."""
    __tracebackhide__ = True
    plain = _plain(request, merged_config(config, marks), library)
    if plain is not None:
        return plain._replace(config=config)
    from vcr import VCR
    from vcr.persisters.filesystem import FilesystemPersister
    from vcr.serializers import yamlserializer

    merged = merged_config(config, marks)
    suffix = f".{merged['serializer']}" if "serializer" in merged else ".yaml"
    vcr = VCR(path_transformer=VCR.ensure_suffix(suffix), cassette_library_dir=library)
    request.config.hook.pytest_recording_configure(config=request.config, vcr=vcr)
    # record_mode is ours to apply; vcrpy would also refuse pytest-recording's "rewrite".
    options = {
        key: value for key, value in merged.items() if key not in _NOT_VCRPY | {"record_mode"}
    }
    try:
        resolved = vcr.get_merged_config(**options)
    except (KeyError, ValueError, TypeError) as error:
        raise pytest.UsageError(f"{request.node.nodeid}: vcr_config: {error}") from None
    unsupported = [name for name in _UNSUPPORTED if resolved.get(name)]
    if unsupported:
        raise pytest.UsageError(
            f"{request.node.nodeid}: vcr_config: {', '.join(unsupported)} "
            f"{'is' if len(unsupported) == 1 else 'are'} not supported by pytest-llmbudget "
            "(they change what cassettes hold as they are saved or loaded). Keep "
            "pytest-recording enabled for this suite: beside it, this plugin still counts "
            "and budgets every call"
        )
    serializer = resolved["serializer"]
    # A persister of the suite's own reads and writes its files (vcrpy's: we do).
    persister = None if resolved["persister"] is FilesystemPersister else resolved["persister"]
    matching = _matching(resolved["match_on"], explicit="match_on" in merged)
    matching = dataclasses.replace(matching, repeats=bool(resolved["allow_playback_repeats"]))
    setup = CassetteSetup(
        path=Path(library),
        matching=matching,
        request_filter=(
            _request_filter(resolved["before_record_request"])
            if _filters_requests(vcr, options)
            else None
        ),
        response_filter=resolved["before_record_response"],
        serializer=None if serializer is yamlserializer and persister is None else serializer,
        persister=persister,
        source="vcr_config",
        all_http=True,
    )
    return _Shared(config, merged, resolved["path_transformer"], setup)


def _mode(merged: dict[str, Any], settings: Settings, nodeid: str) -> Any:
    """The configuration's record mode, unless the run names one (then the run's wins)."""
    if "record_mode" not in merged:
        return None
    value = merged["record_mode"]
    text = str(getattr(value, "value", value))
    if text not in VCR_MODES:
        raise pytest.UsageError(
            f"{nodeid}: vcr_config record_mode={value!r} is not a record mode; use one of: "
            + ", ".join(VCR_MODES)
        )
    return None if settings.record_mode_source in _EXPLICIT else VCR_MODES[text]


def _matching(matchers: Any, *, explicit: bool) -> Matching:
    """vcrpy's built-in matchers as parts of a key; any other one is asked pair by pair."""
    from vcr import matchers as builtin

    native = {getattr(builtin, part): part for part in NATIVE_PARTS if hasattr(builtin, part)}
    parts: list[str] = []
    custom = []
    for matcher in matchers:
        part = native.get(matcher)
        if part is None:
            custom.append(matcher)
        else:
            parts.append(part)
    return _matching_of(parts, custom, explicit=explicit)


def _matching_of(parts: list[str], custom: list[Any], *, explicit: bool) -> Matching:
    # A match_on that compares all the strict key does (method, the whole URL, the body)
    # and nothing else is the strict rule: recordings of ours keep their hashed index.
    strict = not custom and STRICT_PARTS.issubset(parts) and set(parts) <= STRICT_PARTS | URL_PARTS
    whole_url = "uri" in parts or URL_PARTS.issubset(parts)
    everywhere = explicit and not (strict and whole_url)
    return Matching(loose_on=tuple(parts), custom=tuple(custom), everywhere=everywhere)


# What the strict key holds beyond the URL, and vcrpy's matchers that make up the URL.
STRICT_PARTS = frozenset({"method", "body"})
URL_PARTS = frozenset({"uri", "scheme", "host", "port", "path", "query"})


# The options vcrpy builds its before_record_request chain from (config.py), and the
# attribute of the VCR object each falls back on (a pytest_recording_configure may set it).
_REQUEST_FILTER_OPTIONS = {
    "filter_headers": "filter_headers",
    "filter_query_parameters": "filter_query_parameters",
    "filter_post_data_parameters": "filter_post_data_parameters",
    "before_record_request": "before_record_request",
    "before_record": "before_record_request",
    "ignore_hosts": "ignore_hosts",
    "ignore_localhost": "ignore_localhost",
}


def _filters_requests(vcr: Any, options: dict[str, Any]) -> bool:
    """The chain would do anything: else it is skipped, for it copies every request (a
    deep copy, and vcrpy's Request built and read back) on the way to its replay."""
    return any(
        options.get(option, getattr(vcr, attribute, None))
        for option, attribute in _REQUEST_FILTER_OPTIONS.items()
    )


def _request_filter(chain: Callable[[Any], Any]) -> Callable[[HttpRequest], HttpRequest | None]:
    """vcrpy's ``before_record_request`` chain, on our request type."""

    def apply(request: HttpRequest) -> HttpRequest | None:
        from vcr.request import Request

        from pytest_llmbudget.recording.recorder import HttpRequest

        headers: dict[str, str] = {}
        for key, value in request.headers:
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        filtered = chain(Request(request.method, request.url, request.body, headers))
        if filtered is None:
            return None
        body = filtered.body
        if isinstance(body, str):
            body = body.encode("utf-8")
        return HttpRequest(
            method=str(filtered.method),
            url=str(filtered.uri),
            headers=[(str(k), str(v)) for k, v in filtered.headers.items()],
            body=body or b"",
        )

    return apply
