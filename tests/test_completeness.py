"""A body the client closed early is whole when it reached its declared length or its [DONE].

The recording side of this (an openai SDK stream is not flagged ``truncated``,
a stream the test broke out of is) is driven through the real SDK in
tests/test_performance_paths.py; here, the rule itself, on real provider
streams from the conformance corpus and on hand-made edge cases.
"""

from __future__ import annotations

import pytest
from test_corpus import ABSENT, CORPUS

from pytest_llmbudget.recording.cassette import Cassette, response_of
from pytest_llmbudget.recording.completeness import is_whole

SSE = [("Content-Type", "text/event-stream; charset=utf-8")]
EVENT = b'data: {"choices":[{"delta":{"content":"hi"}}]}\n\n'


@pytest.mark.parametrize(
    ("body", "whole"),
    [
        (EVENT + b"data: [DONE]\n\n", True),
        (EVENT + b"data:[DONE]\n\n", True),
        (EVENT.replace(b"\n", b"\r\n") + b"data: [DONE]\r\n\r\n", True),
        (EVENT + b"event: done\ndata: [DONE]\n\n", True),
        (EVENT + b"data: [DONE]\n\n\n", True),
        # The sentinel's blank line has not arrived: the event was never dispatched.
        (EVENT + b"data: [DONE]\n", False),
        (EVENT + b"data: [DONE]", False),
        (EVENT, False),
        (b"", False),
        # [DONE] inside an earlier event's data, or quoted in content, is not the end.
        (b"data: [DONE]\n\n" + EVENT, False),
        (b'data: {"text": "data: [DONE]"}\n\n', False),
    ],
)
def test_an_sse_body_is_whole_at_its_done_event(body: bytes, whole: bool) -> None:
    assert is_whole(SSE, body, sent_size=None) is whole


def test_a_body_is_whole_when_it_reached_its_content_length() -> None:
    headers = [("Content-Type", "application/json"), ("content-length", "11")]
    assert is_whole(headers, b"(whatever decoded)", sent_size=11)
    assert not is_whole(headers, b'{"ok": tr', sent_size=9)
    # Bytes the client decompressed before we saw them: their count says nothing.
    assert not is_whole(headers, b'{"ok": tru}', sent_size=None)
    # A length beats the event rule: a stream with one declared is whole at that length.
    sized = [*SSE, ("Content-Length", str(len(EVENT)))]
    assert is_whole(sized, EVENT, sent_size=len(EVENT))
    assert not is_whole(sized, EVENT + b"data: [DONE]\n\n", sent_size=len(EVENT) - 1)


def test_a_body_without_length_or_stream_end_is_not_whole() -> None:
    assert not is_whole([("content-type", "application/json")], b"{}", sent_size=None)
    assert not is_whole([("content-length", "ten")], b"{}", sent_size=None)


def _done_streams() -> list[tuple[str, bytes]]:
    streams = []
    for path in sorted(CORPUS.rglob("*.yaml")):
        for interaction in Cassette.load(path):
            response = response_of(interaction)
            if "text/event-stream" in response.header("content-type") and b"[DONE]" in (
                response.body
            ):
                streams.append((str(path.relative_to(CORPUS)), response.body))
    return streams


def test_every_corpus_stream_ending_in_done_is_whole_and_none_of_its_prefixes() -> None:
    if not CORPUS.is_dir():
        pytest.skip(ABSENT)
    streams = _done_streams()
    assert len(streams) >= 5, "the corpus holds OpenAI-compatible streams"
    for name, body in streams:
        headers = [("content-type", "text/event-stream")]
        assert is_whole(headers, body, sent_size=None), name
        separator = b"\r\n\r\n" if b"\r\n\r\n" in body else b"\n\n"
        events = body.split(separator)
        for cut in range(1, len(events) - 1):
            prefix = separator.join(events[:cut]) + separator
            if prefix.rstrip().endswith(b"[DONE]"):
                continue
            assert not is_whole(headers, prefix, sent_size=None), (name, cut)
