"""Numbers for people: $0.0012, 12,345 tokens."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any


def usd(value: Decimal | float) -> str:
    """Dollars with enough digits to see a small call: $0.00045, $0.0012, $1.25."""
    amount = Decimal(str(value)) if not isinstance(value, Decimal) else value
    if amount == 0:
        return "$0.00"
    sign = "-" if amount < 0 else ""
    amount = abs(amount)
    if amount >= Decimal("0.1"):
        return f"{sign}${amount:,.2f}"
    exponent = amount.adjusted()  # 0.0012 -> -3
    decimals = min(max(2, -exponent + 1), 8)
    text = f"{amount:.{decimals}f}"
    return f"{sign}${text}"


def count(value: int) -> str:
    return f"{value:,}"


def plural(number: int, noun: str) -> str:
    """``1 call``, ``2 calls``, ``1,200 calls``: a count with its noun, as people write it."""
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


def percent(part: Decimal, whole: Decimal) -> str:
    if whole <= 0:
        return "-"
    return f"{(part / whole) * 100:.0f}%"


def plain(value: Decimal | float | int) -> str:
    """A number for machines (CI outputs, XML properties): ``0.00045``, never ``4.5E-4``."""
    amount = value if isinstance(value, Decimal) else Decimal(str(value))
    text = format(amount.normalize(), "f")
    return "0" if text in ("-0", "") else text


def per_provider(errors: Iterable[Mapping[str, Any]]) -> list[tuple[str, int]]:
    """(provider, calls) of quota or rate-limit errors, sorted by provider, for every report."""
    return sorted(Counter(str(error["provider"]) for error in errors).items())
