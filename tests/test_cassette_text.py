"""Cassette text: JSON-formatted YAML that JSON, libyaml and pure-Python YAML read alike."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_llmbudget.recording.cassette import Cassette
from pytest_llmbudget.recording.cassette_text import block_yaml, dumps, loads, style_of

# What YAML refuses in a stream, reads as a line break, or JSON and YAML decode differently.
TRICKY = ["\x00", "\t", "\n", "\r", "\x7f", "\x85", "\x9f", "\u2028", "\u2029", "\ufeff"]
TRICKY += ["\ufffe", "\uffff", "\udc80", "\udcff", "\ud83d", "\U0001f600", '"', "\\", "é", "#"]
TEXT = st.text(st.one_of(st.characters(), st.sampled_from(TRICKY)), max_size=12)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    TEXT,
    st.binary(max_size=8),
)
DOCUMENTS = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(TEXT, inner, max_size=4)),
    max_leaves=20,
)


def _yaml(text: str, loader: Any) -> Any:
    return yaml.load(text, Loader=loader)


@settings(max_examples=400, deadline=None)
@given(DOCUMENTS)
def test_every_reader_gets_back_what_was_written(value: Any) -> None:
    document = {"interactions": [value], "version": 1}
    try:
        text = dumps(document)
    except (yaml.YAMLError, UnicodeEncodeError) as error:
        # Only block YAML may refuse (libyaml cannot write a lone surrogate):
        # the JSON style never does.
        with pytest.raises(type(error)):
            block_yaml(document)
        return
    assert _yaml(text, yaml.CSafeLoader) == document
    assert _yaml(text, yaml.SafeLoader) == document
    assert loads(text.encode("utf-8", "surrogatepass")) == document
    if text.startswith("{"):
        assert json.loads(text) == document


@pytest.mark.parametrize(
    ("value", "style"),
    [
        ("plain text", "json"),
        ("line\u2028break \x85 and \ufeff", "json"),
        ("undecodable \udc80 byte", "yaml"),
        (0.025, "json"),
        (b"\xff\x00 bytes", "yaml"),  # YAML's !!binary, no JSON word for it
        (1e-05, "yaml"),  # YAML 1.1 reads 1e-05 as a string
        (float("inf"), "yaml"),
        ("\ud83d high surrogate", "yaml"),
        ({"k" * 1001: 1}, "yaml"),  # too long for a YAML flow key
    ],
)
def test_the_style_falls_back_to_block_yaml_only_where_the_readers_would_differ(
    value: Any, style: str
) -> None:
    document = {"interactions": [{"value": value}], "version": 1}
    try:
        text = dumps(document)
    except UnicodeEncodeError:
        assert style == "yaml"  # libyaml refuses a lone high surrogate, as before
        return
    assert style_of(text.encode("utf-8", "surrogatepass")) == style
    assert _yaml(text, yaml.CSafeLoader) == document


def test_the_yaml_style_writes_block_yaml_with_readable_multiline_strings() -> None:
    document = {"interactions": [{"body": "data: 1\n\ndata: 2\n"}], "version": 1}
    text = dumps(document, "yaml")
    assert text.startswith("interactions:")
    assert "body: |" in text
    assert loads(text.encode()) == document


def test_a_flow_mapping_that_is_not_json_is_read_as_yaml(tmp_path: Path) -> None:
    path = tmp_path / "flow.yaml"
    path.write_text("{interactions: [], version: 1}\n")
    cassette = Cassette.load(path)
    assert len(cassette) == 0
    assert cassette.existed


def test_a_cassette_keeps_the_style_it_was_read_in(tmp_path: Path) -> None:
    interaction = {
        "request": {"body": "{}", "headers": {}, "method": "POST", "uri": "http://x/v1/a"},
        "response": {"body": {"string": "{}"}, "headers": {}, "status": {"code": 200}},
    }
    for style in ("yaml", "json"):
        path = tmp_path / f"{style}.yaml"
        path.write_text(dumps({"interactions": [interaction], "version": 1}, style))
        cassette = Cassette.load(path)
        assert cassette.style == style
        cassette.append(dict(interaction, recorded_at="2026-01-01T00:00:00Z"))
        cassette.save()
        assert style_of(path.read_bytes()) == style
        assert len(Cassette.load(path)) == 2
