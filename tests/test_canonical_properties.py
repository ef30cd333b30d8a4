"""Property checks for the request canonicaliser: any JSON in, no crash, order-free."""

from __future__ import annotations

import json
import random
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from pytest_llmbudget.recording.canonical import canonical_body, request_key

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=25,
)


def _shuffled(value: Any, rng: random.Random) -> Any:
    if isinstance(value, dict):
        items = list(value.items())
        rng.shuffle(items)
        return {key: _shuffled(child, rng) for key, child in items}
    if isinstance(value, list):
        return [_shuffled(child, rng) for child in value]
    return value


@given(JSON, st.integers())
def test_key_order_and_spacing_never_change_the_key(document: Any, seed: int) -> None:
    compact = json.dumps(document, separators=(",", ":")).encode()
    spaced = json.dumps(_shuffled(document, random.Random(seed)), indent=2).encode()
    assert canonical_body(compact) == canonical_body(spaced)


@given(st.binary(), st.lists(st.text(min_size=1), max_size=3))
def test_any_bytes_canonicalise_without_error(body: bytes, ignore: list[str]) -> None:
    key = request_key("post", "http://h/v1/chat/completions?b=1&a=2", body, ignore)
    assert key[0] == "POST"
    assert isinstance(key[2], str)
