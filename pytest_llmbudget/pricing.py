"""What an LLM call cost, in USD.

The order of the rules (SPEC §4):

1. an error response (status >= 400) costs 0;
2. a host listed in ``llm_free_hosts`` costs 0;
3. a cost the provider reported itself (OpenRouter's ``usage.cost``) wins;
4. an override from the ``llm_prices`` file, by model name;
5. genai-prices' bundled price data (never its network updater), priced at
   the time the call was made: some prices depend on the hour;
6. a call that names no model and reports no usage (a model list, a file
   download) costs 0: ``"no-usage"``, there is nothing a price could apply to;
7. a model nobody knows costs 0: "local" on a loopback or private-network
   host (Ollama, vLLM, LM Studio), else "unknown" with ``priced`` false.

genai-prices is imported on first use, not with this module: it takes
hundreds of milliseconds to import.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_llmbudget.rates_cache import NOT_FLAT, UNKNOWN
from pytest_llmbudget.records import Usage

if TYPE_CHECKING:
    from ipaddress import IPv4Network, IPv6Network

    from pytest_llmbudget.rates_cache import RatesCache

# When a call was made: a time, a way to work it out (asked only when the price depends on
# it), or None for now.
When = datetime | Callable[[], datetime | None] | None

__all__ = [
    "GENAI_PRICES_PROVIDERS",
    "ModelPrice",
    "Price",
    "PriceBook",
    "PriceFileError",
    "When",
    "is_local_host",
    "load_overrides",
]

_MILLION = Decimal(1_000_000)


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """A model's prices in USD per million tokens.

    ``cached_input`` is the price of input read from cache; None means cached
    input costs as much as any other input.
    """

    input: Decimal
    output: Decimal
    cached_input: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Price:
    """What one call cost and where that figure came from.

    ``source`` is one of ``"provider"`` (the provider reported the cost),
    ``"override"`` (the ``llm_prices`` file), ``"genai-prices"``, ``"local"``
    (a model without a price on a loopback or private-network host),
    ``"free-host"`` (a host in ``llm_free_hosts``), ``"error"`` (status >= 400),
    ``"no-usage"`` (no model and no tokens: nothing to price) or ``"unknown"``
    (no price known: ``priced`` is false, the cost 0).
    """

    cost_usd: Decimal
    priced: bool
    source: str


class PriceFileError(ValueError):
    """The ``llm_prices`` file cannot be used; the message names the file and the problem."""


# ---------------------------------------------------------------------------
# Overrides file

_OVERRIDE_FIELDS = ("input", "output", "cached_input")
_REQUIRED_FIELDS = ("input", "output")


def load_overrides(path: Path) -> dict[str, ModelPrice]:
    """Read price overrides, USD per million tokens, from a TOML or JSON file.

    The suffix decides the format (``.toml`` or ``.json``). Both hold one
    table ``models`` with one entry per model name; ``input`` and ``output``
    are required, ``cached_input`` (input read from cache) is optional and
    defaults to the input price. TOML::

        [models."deepseek-chat"]
        input = 0.27
        output = 1.10
        cached_input = 0.07

    JSON::

        {"models": {"deepseek-chat": {"input": 0.27, "output": 1.1, "cached_input": 0.07}}}

    A model name matches the model a call names exactly, or that name
    without a provider prefix (``openai/gpt-4o-mini``) or a date suffix
    (``gpt-4o-mini-2024-07-18``), case-insensitively.

    Numbers are read as exact decimals. Raises `PriceFileError` naming the
    file and what is wrong: a missing or unreadable file, an unknown suffix,
    bad syntax, no ``models`` table, a missing, unknown, non-numeric or
    negative field.
    """
    suffix = path.suffix.lower()
    if suffix not in (".toml", ".json"):
        raise PriceFileError(
            f"{path}: unsupported file type {path.suffix or '(none)'!r}: use .toml or .json"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PriceFileError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise PriceFileError(f"{path}: cannot read the file: {error}") from None

    document: Any
    if suffix == ".toml":
        import tomllib

        try:
            document = tomllib.loads(text, parse_float=Decimal)
        except tomllib.TOMLDecodeError as error:
            raise PriceFileError(f"{path}: invalid TOML: {error}") from None
    else:
        import json

        try:
            document = json.loads(text, parse_float=Decimal, parse_int=Decimal)
        except ValueError as error:
            raise PriceFileError(f"{path}: invalid JSON: {error}") from None

    if not isinstance(document, dict):
        raise PriceFileError(f"{path}: expected a table with a 'models' table at the top")
    unknown = sorted(set(document) - {"models"})
    if unknown:
        raise PriceFileError(
            f"{path}: unknown top-level key {unknown[0]!r}: only 'models' is allowed"
        )
    models = document.get("models")
    if models is None:
        raise PriceFileError(f"{path}: no 'models' table")
    if not isinstance(models, dict):
        raise PriceFileError(f"{path}: 'models' must be a table of model names")

    overrides: dict[str, ModelPrice] = {}
    for name, entry in models.items():
        where = f"models.{_quote(name)}"
        if not isinstance(entry, dict):
            raise PriceFileError(
                f"{path}: {where} must be a table with 'input' and 'output' prices"
            )
        for key in entry:
            if key not in _OVERRIDE_FIELDS:
                raise PriceFileError(
                    f"{path}: {where}: unknown field {key!r} "
                    f"(allowed: {', '.join(_OVERRIDE_FIELDS)})"
                )
        for key in _REQUIRED_FIELDS:
            if key not in entry:
                raise PriceFileError(f"{path}: {where}: missing field {key!r}")
        values = {key: _price_value(path, f"{where}.{key}", entry[key]) for key in entry}
        overrides[name] = ModelPrice(
            input=values["input"],
            output=values["output"],
            cached_input=values.get("cached_input"),
        )
    return overrides


def _quote(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else '"' + name + '"'


def _price_value(path: Path, where: str, value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise PriceFileError(f"{path}: {where} must be a number, not {value!r}")
    number = value if isinstance(value, Decimal) else Decimal(str(value))
    if not number.is_finite():
        raise PriceFileError(f"{path}: {where} must be a finite number, not {value}")
    if number < 0:
        raise PriceFileError(f"{path}: {where} must not be negative ({value})")
    return number


# ---------------------------------------------------------------------------
# Hosts

_PRIVATE_NETWORKS = (
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "fc00::/7",
)
_networks: tuple[IPv4Network | IPv6Network, ...] | None = None


@functools.lru_cache(maxsize=1024)  # asked for every call a suite prices, of a few hosts
def is_local_host(host: str) -> bool:
    """Whether ``host`` is this machine or a private network.

    True for loopback (127.0.0.0/8, ::1, ``localhost``), the unspecified
    address (0.0.0.0, ::, which a client reaches as this machine), private
    networks (10/8, 172.16/12, 192.168/16, fc00::/7), link-local addresses
    (169.254/16, fe80::/10) and, of the names that are not addresses, only
    ``localhost`` and names ending in ``.local`` or ``.internal`` (which
    covers ``host.docker.internal``). A port or IPv6 brackets are ignored.
    """
    import ipaddress

    global _networks
    name = host.strip().lower()
    if name.startswith("["):
        name = name[1:].partition("]")[0]
    elif name.count(":") == 1:
        name = name.partition(":")[0]
    name = name.rstrip(".")
    if name == "localhost" or name.endswith((".local", ".internal")):
        return True
    try:
        address = ipaddress.ip_address(name.partition("%")[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback or address.is_link_local or address.is_unspecified:
        return True
    if _networks is None:
        _networks = tuple(ipaddress.ip_network(network) for network in _PRIVATE_NETWORKS)
    return any(address in network for network in _networks)


@functools.lru_cache(maxsize=1024)
def _host_serves(host: str, provider: str) -> bool:
    """Whether ``host`` is one of ``provider``'s own API hosts (not a proxy or a local server)."""
    from pytest_llmbudget.classify import classify

    if not host or is_local_host(host):
        return False
    netloc = f"[{host}]" if ":" in host and not host.startswith("[") else host
    found = classify(f"https://{netloc}/")
    return found is not None and found.provider == provider


# ---------------------------------------------------------------------------
# Prices

# Our provider names (classify.py) → genai-prices provider ids. None: genai-prices
# has no such provider; the model is looked up by its name alone.
GENAI_PRICES_PROVIDERS: dict[str, str | None] = {
    "openai": "openai",
    "azure": "azure",
    "anthropic": "anthropic",
    "google": "google",
    "google-vertex": "google",
    "deepseek": "deepseek",
    "moonshotai": "moonshotai",
    "mistral": "mistral",
    "groq": "groq",
    "openrouter": "openrouter",
    "together": "together",
    "fireworks": "fireworks",
    "x-ai": "x-ai",
    "siliconflow": None,
    "aihubmix": None,
    "alibaba": None,
    "ollama": None,
    "custom": None,
}

_DATE_SUFFIX = re.compile(r"[-@](?:\d{4}-\d{2}-\d{2}|\d{8}|\d{4})$")

_ERROR = Price(Decimal(0), priced=True, source="error")
_FREE = Price(Decimal(0), priced=True, source="free-host")
_LOCAL = Price(Decimal(0), priced=True, source="local")
_NO_USAGE = Price(Decimal(0), priced=True, source="no-usage")
_UNKNOWN = Price(Decimal(0), priced=False, source="unknown")
_NOTHING = Usage()

# (model_ref, provider_id) as passed to genai-prices.
_Lookup = tuple[str, str | None]


def _genai_prices() -> Any:
    """genai-prices, imported on first use (it is slow to import)."""
    import genai_prices

    return genai_prices


def name_variants(model: str) -> Iterator[str]:
    """``model``, without a provider prefix, without a date suffix, and without both."""
    yield model
    bare = model.rsplit("/", 1)[-1]
    yield bare
    yield _DATE_SUFFIX.sub("", model)
    yield _DATE_SUFFIX.sub("", bare)


def _as_decimal(value: Decimal | float) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _exact(price: ModelPrice) -> ModelPrice:
    """``price`` in Decimals, should a caller have built it from floats."""
    cached = price.cached_input
    return ModelPrice(
        input=_as_decimal(price.input),
        output=_as_decimal(price.output),
        cached_input=None if cached is None else _as_decimal(cached),
    )


class PriceBook:
    """Prices calls: overrides, free hosts and genai-prices' bundled data.

    Safe to share between threads. Which genai-prices model (and provider)
    a name resolves to is cached per (model, provider, host kind); the
    price itself is computed for each call at its own time, because some
    prices depend on the hour (DeepSeek's off-peak discount).
    """

    def __init__(
        self,
        overrides: Mapping[str, ModelPrice] = {},
        free_hosts: frozenset[str] = frozenset(),
        cache: RatesCache | None = None,
    ) -> None:
        self._overrides = {name.lower(): _exact(price) for name, price in overrides.items()}
        self._free_hosts = frozenset(host.lower().rstrip(".") for host in free_hosts)
        self._lock = threading.Lock()
        self._resolved: dict[tuple[str, str | None, bool], _Lookup | None] = {}
        # What genai-prices answered per (model, provider, own host): flat `Rates`
        # (priced by formula from then on), UNKNOWN, or NOT_FLAT (asked each call).
        # ``cache`` keeps them between runs.
        self._answers: dict[tuple[str, str | None, bool], Rates | str] = {}
        self._cache = cache

    # -- public ------------------------------------------------------------

    def price(
        self,
        *,
        provider: str,
        model: str | None,
        host: str,
        usage: Usage,
        status: int = 200,
        at: When = None,
    ) -> Price:
        """The cost of one call (see the module docstring for the rules).

        ``at``: when the call was made, or how to find out; asked only when the
        price depends on it (most models are priced by a flat formula).
        """
        if status >= 400:
            return _ERROR
        if self._is_free_host(host):
            return _FREE
        if usage.cost_usd is not None:
            return Price(_as_decimal(usage.cost_usd), priced=True, source="provider")
        if model:
            override = self.override_for(model)
            if override is not None:
                return Price(_override_cost(override, usage), priced=True, source="override")
            cost = self._genai_cost(model, provider, _host_serves(host, provider), usage, at)
            if cost is not None:
                return Price(cost, priced=True, source="genai-prices")
        elif usage == _NOTHING:
            return _NO_USAGE
        return _LOCAL if is_local_host(host) else _UNKNOWN

    def reprice(self, model: str, usage: Usage, at: datetime | None = None) -> Decimal | None:
        """What ``usage`` would cost on ``model``, by name alone; None when no price is known.

        The what-if of ``llmbudget report``: the override first, then
        genai-prices, with no host or provider to go by (a prefixed name such
        as ``anthropic/claude-…`` names the provider).
        """
        override = self.override_for(model)
        if override is not None:
            return _override_cost(override, usage)
        return self._genai_cost(model, None, False, usage, at)

    def per_million(
        self, model: str, provider: str | None = None, at: datetime | None = None
    ) -> ModelPrice | None:
        """A model's input, output and cached-input prices per million tokens, None when unknown.

        The override when there is one, else genai-prices' prices at ``at``
        (now when None) for the base tier. ``provider`` is one of our provider
        names (or a genai-prices provider id).
        """
        override = self.override_for(model)
        if override is not None:
            return override
        found = self.match(model, provider, at)
        if found is None:
            return None
        prices = found.model_price

        def base(value: Any) -> Decimal | None:
            if value is None:
                return None
            return _as_decimal(getattr(value, "base", value))

        return ModelPrice(
            input=base(prices.input_mtok) or Decimal(0),
            output=base(prices.output_mtok) or Decimal(0),
            cached_input=base(prices.cache_read_mtok),
        )

    def match(self, model: str, provider: str | None = None, at: datetime | None = None) -> Any:
        """genai-prices' calculation for ``model`` at zero usage, None when it is unknown.

        Overrides are not consulted: this answers which genai-prices entry
        (its provider, model id and tiers) a name resolves to, through the
        same cached lookup that prices calls, so ``llmbudget prices`` shows
        exactly what a run would use.
        """
        genai = _genai_prices()
        zero = genai.Usage(input_tokens=0, output_tokens=0)
        return self._calculate(model, provider, provider is not None, zero, at)

    def override_for(self, model: str) -> ModelPrice | None:
        """The override for ``model``: exact name, then without provider prefix or date suffix."""
        if not self._overrides:
            return None
        for name in name_variants(model.lower()):
            price = self._overrides.get(name)
            if price is not None:
                return price
        return None

    # -- internals ---------------------------------------------------------

    def _is_free_host(self, host: str) -> bool:
        if not self._free_hosts:
            return False
        name = host.lower().rstrip(".")
        return name in self._free_hosts

    def _genai_cost(
        self, model: str, provider: str | None, own_host: bool, usage: Usage, at: When
    ) -> Decimal | None:
        cached = max(usage.cached_tokens, 0)
        written = max(usage.cache_write_tokens, 0)
        # genai-prices counts cache reads and writes inside input_tokens, as we do;
        # never let a provider's odd report make the input smaller than its parts.
        input_tokens = max(usage.input_tokens, cached + written, 0)
        output_tokens = max(usage.output_tokens, 0)
        key = (model, provider, own_host)
        answer = self._answers.get(key)
        if answer is None and self._cache is not None:
            answer = self._cache.get(key)
            if answer is not None:
                self._answers[key] = answer
        if isinstance(answer, Rates) and answer.covers(input_tokens):
            return answer.cost(input_tokens, cached, written, output_tokens)
        if answer == UNKNOWN:
            return None
        genai = _genai_prices()
        genai_usage = genai.Usage(
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cache_read_tokens=cached,
            cache_write_tokens=written,
        )
        when = at() if callable(at) else at
        found = self._calculate(model, provider, own_host, genai_usage, when)
        if found is None:
            with self._lock:
                unknown = key in self._resolved and self._resolved[key] is None
            if unknown:  # no lookup found it (not a failure to price it)
                self._remember(key, UNKNOWN)
            return None
        if answer is None:
            self._remember(key, flat_rates(found.model, found.provider) or NOT_FLAT)
        return _as_decimal(found.total_price)

    def _remember(self, key: tuple[str, str | None, bool], answer: Rates | str) -> None:
        self._answers[key] = answer
        if self._cache is not None:
            self._cache.put(key, answer)

    def _calculate(
        self,
        model: str,
        provider: str | None,
        own_host: bool,
        genai_usage: Any,
        at: datetime | None,
    ) -> Any:
        """genai-prices' PriceCalculation for the first lookup that finds the model, or None."""
        genai = _genai_prices()
        key = (model, provider, own_host)
        with self._lock:
            known = key in self._resolved
            resolved = self._resolved.get(key)
        if known:
            if resolved is None:
                return None
            candidates: tuple[_Lookup, ...] = (resolved,)
        else:
            candidates = tuple(_lookups(model, provider, own_host))
        only_lookup_errors = True
        for model_ref, provider_id in candidates:
            try:
                found = genai.calc_price(
                    genai_usage,
                    model_ref=model_ref,
                    provider_id=provider_id,
                    genai_request_timestamp=at,
                )
            except LookupError:
                continue
            except Exception:
                # Bad usage data or bad price data: not a miss to remember.
                only_lookup_errors = False
                continue
            if not known:
                with self._lock:
                    self._resolved[key] = (model_ref, provider_id)
            return found
        if not known and only_lookup_errors:
            with self._lock:
                self._resolved[key] = None
        return None


@dataclass(frozen=True, slots=True)
class Rates:
    """A model's cost as a formula: USD per million tokens of each kind.

    genai-prices takes about 60 us a call to work out what a price gives (it
    decomposes the usage into its units, validates them, then multiplies); a
    replayed suite pays that on every call. The rates are read off
    genai-prices' own answers (see `flat_rates`), so they price exactly as it
    does. A model with tiers by prompt size (Anthropic's and Google's long
    contexts) gets the rates of its base tier and ``limit``: up to that many
    input tokens the formula holds; past it, genai-prices prices the call.
    """

    base: Decimal  # per call (a per-request price), in USD
    input: Decimal  # every input token, cache reads and writes included
    cache_read: Decimal  # what a cache read costs over a plain input token
    cache_write: Decimal  # what a cache write costs over a plain input token
    output: Decimal
    limit: int | None = None  # input tokens (cache included) the base tier covers; None: all

    def covers(self, input_tokens: int) -> bool:
        return self.limit is None or input_tokens <= self.limit

    def cost(self, input_tokens: int, cache_read: int, cache_write: int, output: int) -> Decimal:
        per_million = (
            self.input * input_tokens
            + self.cache_read * cache_read
            + self.cache_write * cache_write
            + self.output * output
        )
        return self.base + per_million / _MILLION


# Usages whose answers must match the formula before it replaces genai-prices:
# (input, cache read, cache write, output), with input >= cache read + write.
_CHECKS = (
    (12_345_678, 2_345_678, 345_678, 4_567_890),
    (1_234_567, 234_567, 34_567, 456_789),
    (3_000, 0, 0, 1),
    (7, 3, 2, 5),
)


def _checks_below(limit: int) -> tuple[tuple[int, int, int, int], ...]:
    """`_CHECKS` for a base tier: every input within ``limit``, the tier's own edge included."""
    return (
        (limit, limit // 3, limit // 7, 4_567_890),
        (limit // 2 + 1, limit // 5, limit // 11, 456_789),
        (min(3_000, limit), 0, 0, 1),
        (7, 3, 2, 5),
    )


def _tier_limit(values: Iterable[Any], tiered: type) -> int | None:
    """The smallest tier start among ``values`` (genai-prices' TieredPrices); None without tiers."""
    starts = [
        int(tier.start)
        for value in values
        if isinstance(value, tiered)
        for tier in getattr(value, "tiers", ())
    ]
    return min(starts) if starts else None


def flat_rates(model: Any, provider: Any) -> Rates | None:
    """``model``'s rates when its price is flat up to a prompt size, else None.

    Flat: one price for every hour (no conditional prices) and per token kind,
    at least up to the first tier by prompt size. The rates are what
    genai-prices charges for a million tokens of each kind (counted on fewer,
    within the base tier, for a tiered model); the formula is then checked
    against genai-prices on other usages, and not used unless every answer is
    equal.
    """
    genai = _genai_prices()
    from genai_prices import types as genai_types

    prices = model.prices
    if not isinstance(prices, genai_types.ModelPrice):
        return None
    values = list(vars(prices).values())
    tiered = genai_types.TieredPrices
    if not all(value is None or isinstance(value, Decimal | tiered) for value in values):
        return None
    limit = _tier_limit(values, tiered)
    if limit is not None and limit < 1_000:
        return None  # a tier from the first thousand tokens: hardly a base tier

    def charged(input_tokens: int, cache_read: int, cache_write: int, output: int) -> Decimal:
        usage = genai.Usage(
            input_tokens=input_tokens,
            cache_read_tokens=cache_read,
            cache_write_tokens=cache_write,
            output_tokens=output,
        )
        return _as_decimal(model.calc_price(usage, provider).total_price)

    million = 1_000_000
    # Counted on a power of ten within the base tier, then scaled exactly to a million.
    probe = million if limit is None else 10 ** (len(str(limit)) - 1)
    scale = million // probe
    try:
        base = charged(0, 0, 0, 0)
        inputs = charged(probe, 0, 0, 0)
        rates = Rates(
            base=base,
            input=(inputs - base) * scale,
            cache_read=(charged(probe, probe, 0, 0) - inputs) * scale,
            cache_write=(charged(probe, 0, probe, 0) - inputs) * scale,
            output=(charged(0, 0, 0, probe) - base) * scale,
            limit=limit,
        )
        checks = _CHECKS if limit is None else _checks_below(limit)
        if any(rates.cost(*usage) != charged(*usage) for usage in checks):
            return None
    except Exception:  # price data genai-prices itself cannot use: it stays the judge
        return None
    return rates


def _lookups(model: str, provider: str | None, own_host: bool) -> Iterator[_Lookup]:
    """(model_ref, provider_id) pairs to try, best first, without repeats.

    On a provider's own host its genai-prices id comes first, then the name
    alone. Elsewhere (a proxy, a local server, a custom host) the provider
    only says what shape the API has, so genai-prices first finds the model
    by its name, and the shape's provider comes last: that finds
    ``text-embedding-3-small`` behind a LiteLLM proxy, which no name rule
    matches. A prefixed name (``anthropic/claude-…``) is also tried without
    its prefix, with the prefix as the provider.
    """
    mapped = GENAI_PRICES_PROVIDERS.get(provider, provider) if provider else None
    ids: tuple[str | None, ...]
    if mapped is None:
        ids = (None,)
    elif own_host:
        ids = (mapped, None)
    else:
        ids = (None, mapped)
    candidates: list[_Lookup] = [(model, provider_id) for provider_id in ids]
    if "/" in model:
        prefix, _, rest = model.partition("/")
        last = model.rsplit("/", 1)[-1]
        prefixed = GENAI_PRICES_PROVIDERS.get(prefix.lower(), prefix.lower())
        for bare in dict.fromkeys((rest, last)):
            if prefixed is not None:
                candidates.append((bare, prefixed))
            candidates.extend((bare, provider_id) for provider_id in ids)
    yield from dict.fromkeys(candidates)


def _override_cost(price: ModelPrice, usage: Usage) -> Decimal:
    cached = max(usage.cached_tokens, 0)
    uncached = max(usage.input_tokens - cached, 0)
    cached_rate = price.input if price.cached_input is None else price.cached_input
    total = (
        Decimal(uncached) * price.input
        + Decimal(cached) * cached_rate
        + Decimal(max(usage.output_tokens, 0)) * price.output
    )
    return total / _MILLION
