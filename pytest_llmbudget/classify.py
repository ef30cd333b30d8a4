"""Decide whether an HTTP request is an LLM call, and whose.

This runs for every request a test makes, LLM or not, so it is a few dict and
string operations: no regex, no URL parsing library.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

# Host → provider. Suffix entries (leading dot) match any subdomain.
KNOWN_HOSTS: dict[str, str] = {
    "api.openai.com": "openai",
    "api.anthropic.com": "anthropic",
    "generativelanguage.googleapis.com": "google",
    "aiplatform.googleapis.com": "google-vertex",
    "api.deepseek.com": "deepseek",
    "api.moonshot.ai": "moonshotai",
    "api.moonshot.cn": "moonshotai",
    "api.mistral.ai": "mistral",
    "api.groq.com": "groq",
    "openrouter.ai": "openrouter",
    "api.together.xyz": "together",
    "api.fireworks.ai": "fireworks",
    "api.x.ai": "x-ai",
    "api.siliconflow.cn": "siliconflow",
    "api.siliconflow.com": "siliconflow",
    "aihubmix.com": "aihubmix",
    "dashscope.aliyuncs.com": "alibaba",
}
KNOWN_HOST_SUFFIXES: tuple[tuple[str, str], ...] = (
    (".openai.azure.com", "azure"),
    ("-aiplatform.googleapis.com", "google-vertex"),
)

# Path ending → (provider when the host says nothing, API family).
ENDPOINT_SHAPES: tuple[tuple[str, str, str], ...] = (
    ("/chat/completions", "openai", "chat"),
    ("/completions", "openai", "completions"),
    ("/responses", "openai", "responses"),
    ("/embeddings", "openai", "embeddings"),
    ("/messages", "anthropic", "messages"),
    (":generateContent", "google", "generate"),
    (":streamGenerateContent", "google", "generate"),
    ("/api/chat", "ollama", "ollama-chat"),
    ("/api/generate", "ollama", "ollama-generate"),
)


@dataclass(frozen=True, slots=True)
class Classification:
    """What we know about an LLM call before it is sent."""

    provider: str
    api: str
    host: str
    endpoint: str
    # False for a request that is no LLM call, recorded and replayed only because the test
    # asked vcrpy to record all its HTTP traffic (@pytest.mark.vcr): never counted or priced.
    counted: bool = True


def _api_for(path: str) -> str:
    for suffix, _provider, api in ENDPOINT_SHAPES:
        if path.endswith(suffix):
            return api
    return "other"


def classify(url: str, extra_hosts: Iterable[str] = ()) -> Classification | None:
    """Return the call's provider and endpoint, or None when it is not an LLM call."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    path = parts.path or "/"
    provider = KNOWN_HOSTS.get(host)
    if provider is None:
        for suffix, name in KNOWN_HOST_SUFFIXES:
            if host.endswith(suffix):
                provider = name
                break
    if provider is not None:
        return Classification(provider, _api_for(path), host, path)
    for suffix, shape_provider, api in ENDPOINT_SHAPES:
        if path.endswith(suffix):
            return Classification(shape_provider, api, host, path)
    if host in extra_hosts:
        return Classification("custom", "other", host, path)
    return None
