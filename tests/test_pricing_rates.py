"""Flat prices priced by formula: the very answers genai-prices gives, without asking it each call."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import genai_prices
from genai_prices import data_snapshot
from genai_prices import types as genai_types
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_llmbudget.pricing import PriceBook, Rates, flat_rates
from pytest_llmbudget.rates_cache import NOT_FLAT
from pytest_llmbudget.records import Usage


def _models() -> list[tuple[Any, Any]]:
    snapshot = data_snapshot.get_snapshot()
    return [(provider, model) for provider in snapshot.providers for model in provider.models]


MODELS = _models()
FLAT = [
    (provider, model)
    for provider, model in MODELS
    if isinstance(model.prices, genai_types.ModelPrice)
    and all(value is None or isinstance(value, Decimal) for value in vars(model.prices).values())
]
RATES = {(provider.id, model.id): flat_rates(model, provider) for provider, model in FLAT}

# (input, cache read, cache write, output) with input >= cache read + cache write,
# as PriceBook hands usages to genai-prices.
usages = st.tuples(
    st.integers(0, 3_000_000), st.integers(0, 2_000_000), st.integers(0, 1_000_000)
).flatmap(
    lambda split: st.tuples(
        st.integers(split[1] + split[2], split[1] + split[2] + split[0]),
        st.just(split[1]),
        st.just(split[2]),
        st.integers(0, 500_000),
    )
)


def _genai_usage(usage: tuple[int, int, int, int]) -> Any:
    input_tokens, cache_read, cache_write, output = usage
    return genai_prices.Usage(
        input_tokens=input_tokens,
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_write,
        output_tokens=output,
    )


def _genai(model: Any, provider: Any, usage: tuple[int, int, int, int]) -> Decimal:
    return Decimal(str(model.calc_price(_genai_usage(usage), provider).total_price))


def test_most_models_are_flat_and_get_rates() -> None:
    """The formula is the common case, not a corner: else the speed-up would be theory."""
    assert len(FLAT) > len(MODELS) / 2
    with_rates = [key for key, rates in RATES.items() if rates is not None]
    assert len(with_rates) >= 0.95 * len(FLAT), sorted(set(RATES) - set(with_rates))[:20]
    assert RATES[("openai", "gpt-4o-mini")] == Rates(
        base=Decimal(0),
        input=Decimal("0.15"),
        cache_read=Decimal("-0.075"),
        cache_write=Decimal(0),
        output=Decimal("0.6"),
    )


@settings(max_examples=300, deadline=None)
@given(index=st.integers(0, len(FLAT) - 1), usage=usages)
def test_rates_price_every_flat_model_as_genai_prices_does(
    index: int, usage: tuple[int, int, int, int]
) -> None:
    provider, model = FLAT[index]
    rates = RATES[(provider.id, model.id)]
    if rates is None:
        return  # genai-prices prices it on every call
    assert rates.cost(*usage) == _genai(model, provider, usage)


def _tiered(model: Any) -> bool:
    values = vars(model.prices).values() if isinstance(model.prices, genai_types.ModelPrice) else ()
    return any(isinstance(value, genai_types.TieredPrices) for value in values)


TIERED = [(provider, model) for provider, model in MODELS if _tiered(model)]
TIERED_RATES = {(provider.id, model.id): flat_rates(model, provider) for provider, model in TIERED}


def test_hourly_prices_get_no_rates() -> None:
    hourly = [
        (provider, model)
        for provider, model in MODELS
        if not isinstance(model.prices, genai_types.ModelPrice)
    ]
    assert hourly, "genai-prices has conditional prices"
    assert all(flat_rates(model, provider) is None for provider, model in hourly)


def test_tiered_models_get_the_rates_of_their_base_tier() -> None:
    """Claude Sonnet and Gemini Pro have tiers by prompt size: priced by formula below the tier."""
    assert len(TIERED) >= 10, "genai-prices has tiered prices"
    with_rates = {key: rates for key, rates in TIERED_RATES.items() if rates is not None}
    assert len(with_rates) >= 0.9 * len(TIERED), sorted(set(TIERED_RATES) - set(with_rates))
    sonnet = TIERED_RATES[("anthropic", "claude-sonnet-4-5")]
    assert sonnet is not None
    assert (sonnet.input, sonnet.output, sonnet.limit) == (Decimal(3), Decimal(15), 200_000)


@settings(max_examples=300, deadline=None)
@given(index=st.integers(0, max(len(TIERED) - 1, 0)), usage=usages)
def test_tiered_rates_price_as_genai_prices_within_the_base_tier_and_stand_aside_past_it(
    index: int, usage: tuple[int, int, int, int]
) -> None:
    provider, model = TIERED[index]
    rates = TIERED_RATES[(provider.id, model.id)]
    if rates is None or rates.limit is None:
        return
    input_tokens, cache_read, cache_write, output = usage
    if rates.covers(input_tokens):
        assert rates.cost(*usage) == _genai(model, provider, usage)
    # the same usage cut to fit the base tier, at its very edge too
    scale = min(1, rates.limit / max(input_tokens, 1))
    fitted = (
        min(int(input_tokens * scale), rates.limit),
        int(cache_read * scale),
        int(cache_write * scale),
        output,
    )
    fitted = (max(fitted[0], fitted[1] + fitted[2]), *fitted[1:])
    assert rates.covers(fitted[0])
    assert rates.cost(*fitted) == _genai(model, provider, fitted)
    assert not rates.covers(rates.limit + 1)


def test_a_price_book_hands_a_call_past_the_base_tier_to_genai_prices() -> None:
    book = PriceBook()
    small = Usage(input_tokens=150_000, output_tokens=1_000)
    large = Usage(input_tokens=250_000, output_tokens=1_000)
    priced = [
        book.price(
            provider="anthropic", model="claude-sonnet-4-5", host="api.anthropic.com", usage=u
        )
        for u in (small, large, small, large)
    ]
    assert [p.cost_usd for p in priced[:2]] == [p.cost_usd for p in priced[2:]]
    # $3 / $15 per million below 200k input tokens, $6 / $22.50 past it (genai-prices' tier)
    assert priced[0].cost_usd == Decimal("0.465")
    assert priced[1].cost_usd == Decimal("1.5225")


def test_a_formula_that_disagrees_with_genai_prices_is_not_used() -> None:
    """Rates are read off three answers and checked on others: a price that is not linear
    in the token counts (as a future genai-prices might charge) keeps genai-prices."""

    class Curved:
        prices = genai_types.ModelPrice(input_mtok=Decimal(1), output_mtok=Decimal(2))

        def calc_price(self, usage: Any, provider: Any) -> Any:
            class Found:
                # Output tokens beyond a million cost double: not a straight line.
                total_price = (
                    Decimal(usage.input_tokens or 0)
                    + Decimal(2) * (usage.output_tokens or 0)
                    + max((usage.output_tokens or 0) - 1_000_000, 0)
                ) / Decimal(1_000_000)

            return Found()

    assert flat_rates(Curved(), provider=None) is None


@settings(max_examples=100, deadline=None)
@given(usage=usages)
def test_price_book_answers_equal_genai_prices_before_and_after_the_rates(
    usage: tuple[int, int, int, int],
) -> None:
    input_tokens, cache_read, cache_write, output = usage
    ours = Usage(
        input_tokens=input_tokens,
        output_tokens=output,
        cached_tokens=cache_read,
        cache_write_tokens=cache_write,
    )
    expected = genai_prices.calc_price(
        _genai_usage(usage),
        "claude-haiku-4-5",
        provider_id="anthropic",
    ).total_price
    book = PriceBook()
    at = datetime(2026, 1, 1, tzinfo=UTC)
    answers = [
        book.price(
            provider="anthropic",
            model="claude-haiku-4-5",
            host="api.anthropic.com",
            usage=ours,
            at=at,
        ).cost_usd
        for _ in range(2)
    ]
    assert any(isinstance(answer, Rates) for answer in book._answers.values()), "by the rates"
    assert answers == [expected, expected]


def test_hourly_prices_get_no_rates_and_follow_the_hour() -> None:
    """DeepSeek's off-peak discount in genai-prices: half price 16:30-00:30 UTC."""
    book = PriceBook()
    usage = Usage(1000, 500)

    def cost(hour: int) -> Decimal:
        at = datetime(2025, 6, 2, hour, 0, tzinfo=UTC)
        return book.price(
            provider="deepseek", model="deepseek-chat", host="api.deepseek.com", usage=usage, at=at
        ).cost_usd

    assert [cost(2), cost(20), cost(2), cost(20)] == [Decimal("0.00082"), Decimal("0.00041")] * 2
    assert list(book._answers.values()) == [NOT_FLAT]
