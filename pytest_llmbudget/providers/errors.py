"""Tell "out of money" from "slow down" in an error answer (SPEC §4, DESIGN §3).

The two often share HTTP 429, but mean opposite things to a test suite: a
rate limit passes on its own, an exhausted quota or credit balance fails
every later call until a human pays. Only the body tells them apart:

* OpenAI (and compatibles): 429 ``insufficient_quota`` vs ``rate_limit_exceeded``.
* DeepSeek: 402 ``Insufficient Balance``; OpenRouter: 402 for credits, 429 for
  (upstream) rate limits. Any 402 Payment Required is a quota error.
* Anthropic: 400 "Your credit balance is too low", 429 ``rate_limit_error``,
  429 with ``error.details.error_code: enforced_spend_limit_reached``
  (a spend limit: quota). 529 ``overloaded_error`` is neither: the provider
  is busy, the account is fine (None).
* Gemini: 429 ``RESOURCE_EXHAUSTED`` for both. Its ``QuotaFailure`` details
  name the quota hit: per-day quotas (and ``limit: 0``, no free tier at
  all) are exhausted quota; per-minute ones are rate limits. Without
  details, "exceeded your current quota … billing" means quota, while the
  generic "Resource has been exhausted (e.g. check quota)" is a capacity /
  rate limit and retries succeed.
* An error may also arrive as an SSE event after a 200 (Anthropic
  ``event: error``, OpenAI ``response.failed``, a chunk with ``error``).
"""

from __future__ import annotations

from pytest_llmbudget.providers.base import as_dict, as_int, as_list, as_str, dig
from pytest_llmbudget.providers.sse import read_body

QUOTA = "quota"
RATE_LIMIT = "rate_limit"

# Error codes and types that mean the account has no money or quota left.
_QUOTA_CODES = frozenset(
    {
        "insufficient_quota",
        "billing_hard_limit_reached",
        "billing_not_active",
        "billing_error",
        "exceeded_current_quota_error",
        "insufficient_balance",
        "insufficient_credits",
        "enforced_spend_limit_reached",
        "payment_required",
    }
)
# Phrases of the same in messages, lower-cased.
_QUOTA_PHRASES = (
    "credit balance is too low",
    "insufficient balance",
    "insufficient credits",
    "insufficient_quota",
    "exceeded your current quota",
    "check your plan and billing",
    "spend limit",
    "reached your specified api usage limits",
)
_RATE_CODES = frozenset(
    {
        "rate_limit_exceeded",
        "rate_limit_error",
        "rate_limited",
        "too_many_requests",
        "resource_exhausted",
    }
)
_OVERLOADED_CODES = frozenset({"overloaded_error", "overloaded", "server_overloaded"})


def _errors_in(chunk: dict[str, object]) -> list[dict[str, object]]:
    """The error objects one JSON object carries, in any provider's layout."""
    found: list[dict[str, object]] = []
    nested = chunk.get("error")
    if isinstance(nested, dict):
        found.append(nested)
    elif isinstance(nested, list):  # Gemini's REST errors sometimes come as [{"error": …}]
        found += [as_dict(as_dict(item).get("error")) for item in nested]
    if chunk.get("type") == "error" and not isinstance(nested, dict):
        found.append(chunk)  # OpenAI Responses stream: {"type": "error", "code": …, "message": …}
    failed = dig(chunk, "response", "error")
    if chunk.get("type") in ("response.failed", "response.incomplete") and isinstance(failed, dict):
        found.append(failed)
    return [error for error in found if error]


def _codes(error: dict[str, object]) -> set[str]:
    """Every machine-readable label of an error, lower-cased."""
    labels = {
        as_str(error.get(key)).strip().lower() for key in ("code", "type", "status", "error_code")
    }
    labels.add(as_str(dig(error, "details", "error_code")).strip().lower())
    for detail in as_list(error.get("details")):
        labels.add(as_str(as_dict(detail).get("reason")).strip().lower())
    labels.discard("")
    return labels


def _message(error: dict[str, object]) -> str:
    """An error's human text, upstream's included (OpenRouter wraps it in ``metadata.raw``)."""
    return " ".join((as_str(error.get("message")), as_str(dig(error, "metadata", "raw")))).lower()


def _gemini_kind(error: dict[str, object], message: str) -> str:
    """RESOURCE_EXHAUSTED: per-day or zero quota is quota, per-minute is a rate limit."""
    quota_ids: list[str] = []
    for detail in as_list(error.get("details")):
        for violation in as_list(as_dict(detail).get("violations")):
            entry = as_dict(violation)
            quota_ids.append(
                (as_str(entry.get("quotaId")) + " " + as_str(entry.get("quotaMetric"))).lower()
            )
    if "limit: 0" in message or any("perday" in q or "per_day" in q for q in quota_ids):
        return QUOTA
    if quota_ids and all(
        any(unit in q for unit in ("perminute", "per_minute", "persecond", "per_second"))
        for q in quota_ids
    ):
        return RATE_LIMIT
    if "per_minute" in message or "per minute" in message:
        return RATE_LIMIT
    if "exceeded your current quota" in message or "billing" in message:
        return QUOTA
    return RATE_LIMIT


def _kind(provider: str, status: int, error: dict[str, object]) -> str | None:
    """Classify one error; ``status`` is the HTTP status (a stream error may state its own)."""
    codes = _codes(error)
    message = _message(error)
    code_number = as_int(error.get("code"))
    if status < 400 and code_number is not None and code_number >= 400:
        status = code_number  # a stream error event that states its HTTP-like code
    if codes & _QUOTA_CODES:
        return QUOTA
    if status == 402:
        return QUOTA
    if codes & _OVERLOADED_CODES or status == 529:
        return None
    if provider == "openrouter" and status == 429:
        return RATE_LIMIT  # OpenRouter's credits run out with 402; 429 is an upstream rate limit
    if "resource_exhausted" in codes:
        return _gemini_kind(error, message)
    if any(phrase in message for phrase in _QUOTA_PHRASES):
        return QUOTA
    if codes & _RATE_CODES or status == 429:
        return RATE_LIMIT
    return None


def classify_error(
    provider: str, status: int, response_body: bytes, content_type: str
) -> str | None:
    """The decision behind ``error_kind``, without its safety net (tests call it directly)."""
    body = read_body(response_body, content_type)
    if status < 400 and not body.streamed:
        return None
    errors = [error for chunk in body.chunks for error in _errors_in(chunk)]
    kinds = [_kind(provider, status, error) for error in errors]
    for wanted in (QUOTA, RATE_LIMIT):
        if wanted in kinds:
            return wanted
    if errors or status < 400:
        return None
    # No readable error object (an HTML page, an empty body): the status alone decides.
    if status == 402:
        return QUOTA
    return RATE_LIMIT if status == 429 else None


def error_kind(
    *, provider: str, status: int, response_body: bytes, content_type: str
) -> str | None:
    """``"quota"``, ``"rate_limit"`` or None for one answer; never raises.

    A status >= 400 is read with its body; a 200 counts only when it is a
    stream carrying an error event.
    """
    try:
        return classify_error(provider, status, response_body, content_type)
    except Exception:  # the contract is "never raise": a wrong answer beats a crashed test run
        return RATE_LIMIT if status == 429 else None
