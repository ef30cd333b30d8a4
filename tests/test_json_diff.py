"""The field-level diff a cassette miss and a drifted replay show."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from pytest_llmbudget.json_diff import (
    ABSENT,
    Change,
    describe,
    header_changes,
    json_changes,
    query_changes,
)


def body(document: Any) -> bytes:
    return json.dumps(document).encode()


def lines(recorded: Any, sent: Any, **options: Any) -> list[str]:
    return [str(change) for change in json_changes(body(recorded), body(sent), **options)]


def test_a_changed_number_is_shown_old_to_new() -> None:
    assert lines({"max_tokens": 8192}, {"max_tokens": 64000}) == ["max_tokens: 8192 -> 64000"]


def test_paths_name_list_positions_and_nested_keys() -> None:
    recorded = {"messages": [{"role": "user", "content": "It is broken."}]}
    sent = {"messages": [{"role": "user", "content": "It is broken!"}]}
    assert lines(recorded, sent) == ['messages[0].content: "It is broken." -> "It is broken!"']


def test_long_strings_are_cut_around_their_first_difference() -> None:
    start = "Summarise the log of the nightly build; " * 5
    [line] = lines({"prompt": start + "it is broken."}, {"prompt": start + "it is broken!"})
    recorded, sent = line.removeprefix("prompt: ").split(" -> ")
    assert recorded.startswith('"…')
    assert recorded.endswith('it is broken."')
    assert sent.startswith('"…')
    assert sent.endswith('it is broken!"')
    assert len(line) < 120


def test_fields_present_on_one_side_only_say_absent() -> None:
    assert lines({"a": 1}, {"a": 1, "stream": False}) == ["stream: (absent) -> false"]
    assert lines({"a": 1, "top_k": 5}, {"a": 1}) == ["top_k: 5 -> (absent)"]
    assert lines({"a": None}, {}) == ["a: null -> (absent)"]


def test_a_list_that_grew_names_the_new_elements() -> None:
    assert lines({"stop": ["a"]}, {"stop": ["a", "b"]}) == ['stop[1]: (absent) -> "b"']


def test_keys_that_are_not_identifiers_are_quoted() -> None:
    assert lines({"x-y": {"odd key": 1}}, {"x-y": {"odd key": 2}}) == ['["x-y"]["odd key"]: 1 -> 2']


def test_a_type_change_is_one_change_not_a_walk() -> None:
    recorded = {"system": "Be brief."}
    sent = {"system": [{"type": "text", "text": "Be brief."}]}
    [change] = json_changes(body(recorded), body(sent))
    assert change.path == "system"
    assert change.recorded == "Be brief."
    assert change.sent == [{"type": "text", "text": "Be brief."}]


def test_ignored_fields_are_not_reported_at_any_list_depth() -> None:
    recorded = {"metadata": {"user_id": "a"}, "messages": [{"id": 1, "text": "hi"}]}
    sent = {"metadata": {"user_id": "b"}, "messages": [{"id": 2, "text": "hi"}]}
    assert lines(recorded, sent, ignore=("metadata.user_id", "messages.id")) == []


def test_bodies_that_are_not_json_are_one_change_on_the_body() -> None:
    [change] = json_changes(b"q=hello", b"q=hullo")
    assert str(change) == 'body: "q=hello" -> "q=hullo"'
    assert json_changes(b"same", b"same") == []
    assert str(json_changes(b"", b'{"a": 1}')[0]) == 'body: (absent) -> {"a": 1}'


def test_key_order_and_whitespace_are_no_change() -> None:
    assert json_changes(b'{"a": 1, "b": [1, 2]}', b'{"b":[1,2],"a":1}') == []


def test_limit_keeps_the_first_changes() -> None:
    recorded = {f"k{i}": i for i in range(20)}
    sent = {f"k{i}": i + 1 for i in range(20)}
    assert len(json_changes(body(recorded), body(sent), limit=3)) == 3


def test_describe_says_how_many_it_left_out() -> None:
    changes = [Change(f"k{i}", i, i + 1) for i in range(12)]
    shown = describe(changes, indent="> ", limit=10)
    assert shown[0] == "> k0: 0 -> 1"
    assert shown[-1] == "> … and 2 more differences"
    assert len(shown) == 11
    assert describe(changes[:11], limit=10)[-1] == "  … and 1 more difference"
    assert describe(changes[:2]) == ["  k0: 0 -> 1", "  k1: 1 -> 2"]


def test_as_json_leaves_out_an_absent_side() -> None:
    assert Change("stream", ABSENT, False).as_json() == {"path": "stream", "sent": False}
    assert Change("", "a", "b").as_json() == {"path": "body", "recorded": "a", "sent": "b"}


def test_query_parameters_are_compared_one_by_one() -> None:
    changes = query_changes(
        "https://api.example/v1/m?alt=sse&beta=true", "https://api.example/v1/m?alt=json"
    )
    assert [str(change) for change in changes] == [
        'query.alt: "sse" -> "json"',
        'query.beta: "true" -> (absent)',
    ]
    assert query_changes("https://h/p?b=2&a=1", "https://h/p?a=1&b=2") == []


def test_another_path_or_host_is_a_change_of_the_whole_url() -> None:
    [change] = query_changes("https://h/v1beta/models/x", "https://h/v1/models/x")
    assert str(change) == 'path: "/v1beta/models/x" -> "/v1/models/x"'
    [change] = query_changes("https://h/v1/models/x?a=1", "http://h:8080/v1/models/x?a=2")
    assert change.path == "url"
    assert query_changes("http://127.0.0.1:4100/v1", "http://localhost:5200/v1") == []


def test_headers_compare_without_case_and_skip_what_is_asked() -> None:
    recorded = [("Anthropic-Version", "2023-06-01"), ("X-Api-Key", "k1")]
    sent = [("anthropic-version", "2024-01-01"), ("x-api-key", "k2"), ("anthropic-beta", "tools")]
    changes = header_changes(recorded, sent, skip={"X-API-Key"})
    assert [str(change) for change in changes] == [
        'header.anthropic-beta: (absent) -> "tools"',
        'header.anthropic-version: "2023-06-01" -> "2024-01-01"',
    ]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=20,
)


@given(json_values)
def test_a_document_never_differs_from_itself(document: Any) -> None:
    assert json_changes(body(document), body(document)) == []


@given(json_values, json_values)
def test_there_is_a_change_exactly_when_the_documents_differ(recorded: Any, sent: Any) -> None:
    differ = json.dumps(recorded, sort_keys=True) != json.dumps(sent, sort_keys=True)
    assert bool(json_changes(body(recorded), body(sent))) == differ


@given(
    st.dictionaries(
        st.from_regex(r"[a-z_][a-z0-9_]{0,6}", fullmatch=True), json_values, min_size=1
    ),
    st.data(),
)
def test_changing_one_field_reports_only_paths_under_it(
    document: dict[str, Any], data: st.DataObject
) -> None:
    key = data.draw(st.sampled_from(sorted(document)))
    changed = {**document, key: {"changed": document[key]}}
    changes = json_changes(body(document), body(changed))
    assert changes
    assert all(
        change.path == key or change.path.startswith((key + ".", key + "[")) for change in changes
    )
