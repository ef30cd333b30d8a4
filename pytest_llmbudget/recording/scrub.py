"""Keep secrets out of cassettes.

Every recording path goes through :class:`Scrubber`. Known credential headers
and query parameters are replaced by ``REDACTED``; so is every occurrence,
anywhere in the interaction, of a credential value: the values of those
headers and parameters, and of environment variables named ``*_KEY``,
``*_TOKEN`` or ``*_SECRET``. The value scan catches a key an API echoes back
in a body, or one a client puts in the URL path.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from urllib.parse import quote, quote_plus, unquote, unquote_plus, urlsplit

REDACTED = "REDACTED"

REQUEST_HEADERS = frozenset(
    {
        "authorization",
        "x-api-key",
        "api-key",
        "x-goog-api-key",
        "openai-organization",
        "openai-project",
        "cookie",
        "proxy-authorization",
    }
)
RESPONSE_HEADERS = frozenset(
    {"set-cookie", "openai-organization", "openai-project", "anthropic-organization-id"}
)
QUERY_PARAMS = frozenset(
    {"key", "api_key", "api-key", "apikey", "access_token", "api_token", "auth_token", "token"}
)
ENV_SUFFIXES = ("_KEY", "_TOKEN", "_SECRET")
MIN_SECRET_LENGTH = 8
_AUTH_SCHEMES = ("bearer ", "basic ", "token ")

Headers = list[tuple[str, str]]


def env_secrets(environ: Mapping[str, str] | None = None) -> set[str]:
    """Values of credential-named environment variables, read now.

    Read per call, not once: tests set keys with ``monkeypatch.setenv``.
    """
    if environ is None:
        raw = getattr(os.environ, "_data", None)
        if isinstance(raw, dict) and os.supports_bytes_environ:
            return _current_env_secrets(raw)
        environ = os.environ
    return {
        spelling
        for name, value in environ.items()
        if name.upper().endswith(ENV_SUFFIXES) and len(value) >= MIN_SECRET_LENGTH
        for spelling in _spellings(value)
    }


_RAW_SUFFIXES = tuple(suffix.encode("ascii") for suffix in ENV_SUFFIXES)
# The environment as last read, and its secrets: comparing two dicts is one C
# call, reading the secrets out of every variable again is a Python loop per call.
_last_read: tuple[dict[bytes, bytes], frozenset[str]] = ({}, frozenset())
# Requests whose secrets a scrubber remembers (most suites' clients send a handful of shapes).
_KNOWN_REQUESTS = 256


def _current_env_secrets(raw: dict[bytes, bytes]) -> set[str]:
    return set(_env_secret_set(raw))


def _env_secret_set(raw: dict[bytes, bytes]) -> frozenset[str]:
    """The environment's secrets; the same object for as long as the environment is unchanged."""
    global _last_read
    seen, secrets = _last_read
    if raw != seen:
        secrets = frozenset(_raw_env_secrets(raw))
        _last_read = (dict(raw), secrets)
    return secrets


def _raw_env_secrets(raw: dict[bytes, bytes]) -> set[str]:
    """``os.environ`` read through its bytes: this runs for every LLM call, and decoding
    every variable to look at a few cost more than the rest of a replay's lookup."""
    found: set[str] = set()
    for name, value in raw.items():
        if name.upper().endswith(_RAW_SUFFIXES) and len(value) >= MIN_SECRET_LENGTH:
            text = os.fsdecode(value)
            if len(text) >= MIN_SECRET_LENGTH:
                found.update(_spellings(text))
    return found


def _spellings(secret: str) -> set[str]:
    """A secret as it may be written: itself, URL-encoded (a key sent as a query
    parameter), and URL-decoded (a key taken from a URL, echoed back plain)."""
    return {
        secret,
        quote(secret, safe=""),
        quote_plus(secret, safe=""),
        unquote(secret),
        unquote_plus(secret),
    }


def _credential_values(value: str) -> Iterable[str]:
    yield value
    lowered = value.lower()
    for scheme in _AUTH_SCHEMES:
        if lowered.startswith(scheme):
            yield value[len(scheme) :].strip()


class Scrubber:
    """Redacts one interaction at a time; holds only configuration."""

    __slots__ = ("_known", "request_headers", "response_headers")

    def __init__(self, extra_headers: Iterable[str] = ()) -> None:
        extra = {name.strip().lower() for name in extra_headers if name.strip()}
        self.request_headers = REQUEST_HEADERS | extra
        self.response_headers = RESPONSE_HEADERS | extra
        # A client sends the same URL and headers call after call: their secrets, once.
        self._known: dict[tuple[str, tuple[tuple[str, str], ...], frozenset[str]], tuple[str, ...]]
        self._known = {}

    def secrets_of(self, url: str, headers: Headers) -> list[str]:
        """Every secret value this request carries or the environment holds.

        Longest first, so a value that contains another is replaced whole.
        """
        raw = getattr(os.environ, "_data", None)
        if not (isinstance(raw, dict) and os.supports_bytes_environ):
            return self._secrets_of(url, headers)
        key = (url, tuple(headers), _env_secret_set(raw))
        known = self._known.get(key)
        if known is None:
            if len(self._known) >= _KNOWN_REQUESTS:
                self._known.clear()
            known = self._known[key] = tuple(self._secrets_of(url, headers))
        return list(known)

    def _secrets_of(self, url: str, headers: Headers) -> list[str]:
        found = env_secrets()
        for name, value in headers:
            if name.lower() in self.request_headers:
                found.update(_credential_values(value))
        for name, value in _query_pairs(url):
            if name.lower() in QUERY_PARAMS:
                found.update(_spellings(value))
        password = _password(url)
        if password:
            found.update(_spellings(password))
        return sorted((s for s in found if len(s) >= MIN_SECRET_LENGTH), key=len, reverse=True)

    def url(self, url: str, secrets: Iterable[str] = ()) -> str:
        """The URL with its password, credential query parameters and secret values redacted."""
        if _password(url):
            scheme, _slashes, rest = url.partition("://")
            userinfo, _at, host = rest.partition("@")
            user = userinfo.partition(":")[0]
            url = f"{scheme}://{user}:{REDACTED}@{host}"
        base, sep, query = url.partition("?")
        if sep:
            pairs = []
            for item in query.split("&"):
                name, eq, _value = item.partition("=")
                if eq and name.lower() in QUERY_PARAMS:
                    item = f"{name}={REDACTED}"
                pairs.append(item)
            url = base + "?" + "&".join(pairs)
        return text(url, secrets)

    def headers(self, headers: Headers, names: frozenset[str], secrets: Iterable[str]) -> Headers:
        secret_list = list(secrets)
        return [
            (name, REDACTED if name.lower() in names else text(value, secret_list))
            for name, value in headers
        ]


def _password(url: str) -> str:
    """The password of ``scheme://user:password@host/...``; empty when there is none."""
    head = url.partition("?")[0].partition("#")[0]
    if "@" not in head:
        return ""
    try:
        return urlsplit(head).password or ""
    except ValueError:
        return ""


def _query_pairs(url: str) -> Iterable[tuple[str, str]]:
    _base, sep, query = url.partition("?")
    if not sep:
        return ()
    return (
        (name, value)
        for name, eq, value in (item.partition("=") for item in query.split("&"))
        if eq and value
    )


def text(value: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret in value:
            value = value.replace(secret, REDACTED)
    return value


def data(value: bytes, secrets: Iterable[str]) -> bytes:
    for secret in secrets:
        raw = secret.encode("utf-8")
        if raw in value:
            value = value.replace(raw, REDACTED.encode("ascii"))
    return value
