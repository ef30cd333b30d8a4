"""Calls vcrpy answers itself (pytest-recording, ``vcr.use_cassette``), counted all the same.

With pytest-recording active, vcrpy sits above our client patches: what it
replays never reaches them, and what it sends live it records itself. So while
a vcrpy cassette is in use, our adapters step aside (nothing is recorded
twice), and vcrpy's own cassette tells us about every call instead:

* ``can_play_response_for`` - before anything is sent: the test's call limit
  applies, and a call about to go live is admitted by the run's budgets;
* ``play_response`` - a replay: counted and priced from the recorded answer;
* ``append`` - a live answer: counted, priced and spent.
"""

from __future__ import annotations

import functools
import threading
from types import ModuleType
from typing import Any

from pytest_llmbudget.intercept.patching import patch_method
from pytest_llmbudget.intercept.switchboard import SWITCHBOARD

_lock = threading.Lock()
_open = 0  # vcrpy cassettes in use, in any thread (vcrpy's patches are process-wide too)


def in_use() -> bool:
    """A vcrpy cassette is in use: vcrpy answers the calls, we only count them."""
    return _open > 0


def _entered(original: Any) -> Any:
    @functools.wraps(original)
    def enter(self: Any) -> Any:
        global _open
        cassette = original(self)
        with _lock:
            _open += 1
        return cassette

    return enter


def _exited(original: Any) -> Any:
    @functools.wraps(original)
    def exit_(self: Any, *exc_info: Any) -> Any:
        global _open
        try:
            return original(self, *exc_info)
        finally:
            with _lock:
                _open = max(_open - 1, 0)

    return exit_


def _request_of(vcr_request: Any) -> tuple[str, str, list[tuple[str, str]], bytes]:
    headers = [(str(k), str(v)) for k, v in dict(vcr_request.headers).items()]
    body = vcr_request.body
    if isinstance(body, str):
        body = body.encode("utf-8")
    return str(vcr_request.method), str(vcr_request.uri), headers, body or b""


def _can_play(original: Any) -> Any:
    @functools.wraps(original)
    def can_play_response_for(self: Any, request: Any) -> Any:
        __tracebackhide__ = True
        answer = original(self, request)
        recorder = SWITCHBOARD.current()
        if recorder is not None:
            method, uri, headers, _body = _request_of(request)
            refused = not answer and self.write_protected and self.filter_request(request)
            recorder.admit_vcrpy(method, uri, headers, live=not answer and not refused)
        return answer

    return can_play_response_for


def _played(original: Any) -> Any:
    @functools.wraps(original)
    def play_response(self: Any, request: Any) -> Any:
        response = original(self, request)
        recorder = SWITCHBOARD.current()
        if recorder is not None:
            recorder.account_vcrpy(*_request_of(request), response, live=False, path=self._path)
        return response

    return play_response


def _loading(original: Any) -> Any:
    """vcrpy loads a cassette by appending its interactions: those were not sent now."""

    @functools.wraps(original)
    def load(self: Any) -> Any:
        self._llmbudget_loading = True
        try:
            return original(self)
        finally:
            self._llmbudget_loading = False

    return load


def _appended(original: Any) -> Any:
    @functools.wraps(original)
    def append(self: Any, request: Any, response: Any) -> Any:
        recorder = SWITCHBOARD.current()
        # Counted before vcrpy's filters: a call they drop was paid for too.
        if recorder is not None and not getattr(self, "_llmbudget_loading", False):
            recorder.account_vcrpy(*_request_of(request), response, live=True, path=self._path)
        return original(self, request, response)

    return append


def patch(module: ModuleType) -> None:
    """Patch ``vcr.cassette`` (imported by vcrpy users only)."""
    patch_method(module.CassetteContextDecorator, "__enter__", _entered)
    patch_method(module.CassetteContextDecorator, "__exit__", _exited)
    patch_method(module.Cassette, "can_play_response_for", _can_play)
    patch_method(module.Cassette, "play_response", _played)
    patch_method(module.Cassette, "_load", _loading)
    patch_method(module.Cassette, "append", _appended)
