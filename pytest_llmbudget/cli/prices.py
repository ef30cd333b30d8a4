"""``llmbudget prices``: the price per million tokens the plugin will use, before a run spends.

The answer comes from the plugin's own `PriceBook`, fed with the project's
``llm_prices`` overrides, so it cannot drift from what a run charges.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_llmbudget.cli.common import FINDING, OK, Commands, UsageProblemError, settle
from pytest_llmbudget.cli.project import add_rootdir_option, find_project

if TYPE_CHECKING:
    from pytest_llmbudget.pricing import ModelPrice, PriceBook

HEADER = ("model", "provider", "input", "output", "cached input", "source")
EXAMPLE_MODELS = "gpt-4o-mini claude-sonnet-4-5"


@dataclass(frozen=True, slots=True)
class Row:
    model: str
    provider: str
    price: ModelPrice | None
    source: str
    tier_start: int | None = None  # input tokens above which a dearer tier applies
    tiered: frozenset[str] = frozenset()  # which of input, output, cached have tiers


def _per_million(value: Decimal) -> str:
    """Exact, at least cents: $0.60, $0.075, $0.125 (rounding would misstate a price)."""
    from pytest_llmbudget.report.formatting import plain

    whole, _, decimals = plain(value).partition(".")
    return f"${whole}.{decimals.ljust(2, '0')}"


def _cells(row: Row) -> tuple[str, ...]:
    if row.price is None:
        return (row.model, row.provider, "-", "-", "-", row.source)
    cached = row.price.input if row.price.cached_input is None else row.price.cached_input

    def cell(field: str, value: Decimal) -> str:
        return _per_million(value) + ("*" if field in row.tiered else "")

    return (
        row.model,
        row.provider,
        cell("input", row.price.input),
        cell("output", row.price.output),
        cell("cached", cached),
        row.source,
    )


def _table(rows: Iterable[Sequence[str]]) -> list[str]:
    lines = [HEADER, *rows]
    widths = [max(len(line[column]) for line in lines) for column in range(len(HEADER))]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in lines
    ]


def _genai_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("genai-prices")
    except PackageNotFoundError:
        return "(version unknown)"


def _check_provider(provider: str | None) -> str | None:
    """A provider the plugin or genai-prices knows: a typo must not look like an unknown model."""
    if provider is None:
        return None
    import genai_prices.data

    from pytest_llmbudget.pricing import GENAI_PRICES_PROVIDERS

    known = set(GENAI_PRICES_PROVIDERS) | {entry.id for entry in genai_prices.data.providers}
    if provider not in known:
        raise UsageProblemError(
            f"--provider {provider!r} is unknown; use one of: {', '.join(sorted(known))}"
        )
    return provider


def _fallback_providers() -> list[str]:
    """Providers to try when a name alone finds nothing, as a call to their host would."""
    from pytest_llmbudget.pricing import GENAI_PRICES_PROVIDERS

    return list(dict.fromkeys(p for p in GENAI_PRICES_PROVIDERS.values() if p is not None))


_TIERED_FIELDS = {"input": "input_mtok", "output": "output_mtok", "cached": "cache_read_mtok"}


def _tiers(found: Any) -> tuple[int | None, frozenset[str]]:
    """Where genai-prices' dearer tier starts, and which prices have tiers (long-context prices)."""
    starts: list[int] = []
    fields: set[str] = set()
    for field, attribute in _TIERED_FIELDS.items():
        tiers = getattr(getattr(found.model_price, attribute, None), "tiers", None)
        if tiers:
            fields.add(field)
            starts.extend(int(tier.start) for tier in tiers)
    return (min(starts) if starts else None), frozenset(fields)


def _row(book: PriceBook, model: str, provider: str | None) -> Row:
    override = book.override_for(model)
    if override is not None:
        return Row(model, provider or "any", override, "override")
    candidates = [provider] if provider else [None, *_fallback_providers()]
    for candidate in candidates:
        found = book.match(model, candidate)
        if found is None:
            continue
        source = "genai-prices"
        if found.model.id.lower() != model.lower():
            source += f" ({found.model.id})"
        price = book.per_million(model, candidate)
        return Row(model, found.provider.id, price, source, *_tiers(found))
    return Row(model, provider or "-", None, "unknown")


@dataclass(frozen=True, slots=True)
class Setup:
    """What the plugin would price with in this project."""

    book: PriceBook
    prices_file: Path | None
    overridden: tuple[str, ...]  # model names in the overrides file, in its order
    free_hosts: tuple[str, ...]


def price_setup(args: argparse.Namespace) -> Setup:
    """The project's price book: ``--prices FILE`` or ini llm_prices, and llm_free_hosts."""
    from pytest_llmbudget.pricing import PriceBook, PriceFileError, load_overrides

    project = find_project(rootdir=args.rootdir)
    prices_file = Path(args.prices) if args.prices else project.path("llm_prices")
    try:
        overrides = load_overrides(prices_file) if prices_file else {}
    except PriceFileError as error:
        raise UsageProblemError(str(error)) from None
    free_hosts = project.ini_lines("llm_free_hosts")
    book = PriceBook(overrides, frozenset(free_hosts))
    return Setup(book, prices_file, tuple(overrides), free_hosts)


def _list_overrides(setup: Setup) -> None:
    """No model asked for: what the project itself decided, and how to ask."""
    if setup.overridden:
        print(f"Price overrides from {setup.prices_file} (USD per million tokens):")
        rows = (_cells(_row(setup.book, name, None)) for name in setup.overridden)
        for line in _table(rows):
            print(f"  {line}")
    else:
        print("No price overrides (ini llm_prices is not set); prices come from genai-prices.")
    print(f"Ask for models by name: llmbudget prices {EXAMPLE_MODELS}")


def _print_notes(rows: Sequence[Row], setup: Setup) -> None:
    tiers = sorted({row.tier_start for row in rows if row.tier_start is not None})
    if tiers:
        above = " / ".join(f"{start:,}" for start in tiers)
        print(f"* base tier: above {above} input tokens a call costs more per token")
    if any(row.source == "override" for row in rows):
        print(f"override: from {setup.prices_file}")
    if setup.free_hosts:
        print(f"Calls to {', '.join(setup.free_hosts)} cost 0 (ini llm_free_hosts).")
    for row in rows:
        if row.price is None:
            print(
                f"{row.model}: no price known, neither overridden nor in genai-prices "
                f"{_genai_version()}.\n"
                "  A run counts its calls as cost 0 and names the model as unknown\n"
                "  (free without a warning when a local host serves it).\n"
                "  To price it, add it to the llm_prices file (USD per million tokens):\n"
                f'    [models."{row.model}"]\n    input = 0.0\n    output = 0.0'
            )


def cmd_prices(args: argparse.Namespace) -> int:
    """Print what the plugin would charge per million tokens; exit 1 for an unknown model."""
    blank = [model for model in args.models if not model.strip()]
    if blank:
        raise UsageProblemError(f"MODEL {blank[0]!r}: a model name cannot be empty")
    provider = _check_provider(args.provider)
    setup = price_setup(args)
    if not args.models:
        _list_overrides(setup)
        return OK
    rows = [_row(setup.book, model, provider) for model in args.models]
    status = settle(args, FINDING if any(row.price is None for row in rows) else OK)
    print(
        "USD per million tokens, for a call made now "
        f"(overrides, else genai-prices {_genai_version()}):"
    )
    for line in _table(_cells(row) for row in rows):
        print(f"  {line}")
    _print_notes(rows, setup)
    return status


def add_prices_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--prices",
        metavar="FILE",
        help="a TOML or JSON overrides file (default: the ini option llm_prices)",
    )


def register(commands: Commands) -> None:
    prices = commands.add_parser(
        "prices",
        help="Print the price per million tokens the plugin will use.",
        description="Print the input, output and cached-input price per million tokens that "
        "the plugin will charge for each MODEL now: the llm_prices override when there is "
        "one, else genai-prices' bundled data. Without MODEL, list the overrides. "
        "Exit 1 when a model has no known price.",
    )
    prices.set_defaults(run=cmd_prices)
    prices.add_argument(
        "models", metavar="MODEL", nargs="*", help="model names, as calls send them"
    )
    add_prices_option(prices)
    prices.add_argument(
        "--provider",
        metavar="P",
        help="price as a call to this provider's own API (openai, anthropic, google, …); "
        "default: by model name, then the first provider that knows it",
    )
    add_rootdir_option(prices)
