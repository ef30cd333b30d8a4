"""The extraction result and the tolerant JSON accessors every family module uses.

Response bodies come from the network or from cassettes a user may have edited
by hand: any field can be missing, null, of the wrong type or absurd. These
helpers turn "not what we expected" into "unknown" (``{}``, ``[]``, ``""``,
``None``) so the family modules can read a body without a single ``try``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from pytest_llmbudget.records import Usage


@dataclass(frozen=True, slots=True)
class Extraction:
    """What a response body says about the call that produced it.

    ``usage`` is None only when the body states no usage at all (then the
    caller estimates tokens from ``prompt_text`` and ``output_text``).
    The request's JSON is read only when the answer does not say what a
    reader needs (its model, mostly): see `RequestJSON`.
    ``usage_requested`` is set for OpenAI-style chat/completions streams only,
    where usage depends on the request's ``stream_options.include_usage``: it
    lets the summary say *why* a stream had to be estimated.
    """

    model: str | None
    usage: Usage | None
    # The generated text, or how to collect it: only an estimate needs it, and
    # most answers state their usage, so a reader passes a function.
    text: str | Callable[[], str]
    streamed: bool
    usage_requested: bool | None = None

    @property
    def output_text(self) -> str:
        return self.text if isinstance(self.text, str) else self.text()


# The request body's JSON object, parsed at the first call: a reader asks for it
# only when the answer leaves something out (most answers name their model).
RequestJSON = Callable[[], dict[str, object]]


def lazy_request(body: str) -> RequestJSON:
    """``body`` parsed once, when first asked for; ``{}`` when it is no JSON object."""
    parsed: list[dict[str, object]] = []

    def request() -> dict[str, object]:
        if not parsed:
            parsed.append(as_dict(loads(body)))
        return parsed[0]

    return request


def as_dict(value: object) -> dict[str, object]:
    """``value`` if it is a JSON object, else an empty one."""
    return value if isinstance(value, dict) else {}


def as_list(value: object) -> list[object]:
    """``value`` if it is a JSON array, else an empty one."""
    return value if isinstance(value, list) else []


def as_str(value: object) -> str:
    """``value`` if it is a string, else ``""``."""
    return value if isinstance(value, str) else ""


def as_int(value: object) -> int | None:
    """A token count, or None when ``value`` is not one.

    JSON booleans are ints in Python and must not count; some gateways send
    counts as floats (``12.0``); a negative count would make a negative cost.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, float) and math.isfinite(value) and value >= 0 and value.is_integer():
        return int(value)
    return None


def dig(value: object, *path: str) -> object:
    """``value[path[0]][path[1]]…``, or None as soon as a step is missing."""
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def first_int(*values: object) -> int | None:
    """The first of ``values`` that is a token count."""
    for value in values:
        number = as_int(value)
        if number is not None:
            return number
    return None


def model_name(value: object) -> str | None:
    """A non-empty model string, else None (an empty ``model`` names nothing)."""
    return value if isinstance(value, str) and value.strip() else None


def money(value: object) -> Decimal | None:
    """A provider-reported cost in USD as an exact Decimal, or None.

    ``Decimal(repr(float))`` keeps what the provider wrote (``0.000669``)
    instead of the binary float's long tail.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Decimal(value) if value >= 0 else None
    if isinstance(value, float) and math.isfinite(value) and value >= 0:
        return Decimal(repr(value))
    if isinstance(value, str):
        try:
            amount = Decimal(value.strip())
        except ArithmeticError:
            return None
        return amount if amount.is_finite() and amount >= 0 else None
    return None


def loads(text: str) -> object:
    """Parse JSON, or return None: deep nesting (RecursionError) and huge integers included."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def dumps(value: object) -> str:
    """Compact JSON of a tool call's arguments, for token estimates."""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError, RecursionError):
        return ""
