"""Build the default TLS context of httpx transports once per configuration, not once per client.

Why: an ``httpx.HTTPTransport`` built with the default ``verify=True``
creates an SSL context and loads the whole trust store into it: 25 to 35 ms.
The OpenAI, Anthropic and Google SDKs build a new client, so a new transport,
for every client object, and test suites commonly build a client per test: a
suite of 40 such tests spent over a second setting up TLS before replaying
calls from cassettes, where no TLS is ever used.

What: while a test runs, a transport asked for the default context gets one
built by the library's own ``create_ssl_context`` once per configuration and
shared, as httpx's documentation recommends for many clients. A
configuration is everything the default context or its use depends on: the
library, ``trust_env``, ``http1``/``http2`` (the connection pool sets the ALPN
protocols on the context before each handshake, so the transports sharing
one always set the same list), and the ``SSL_CERT_FILE``, ``SSL_CERT_DIR``
and ``SSLKEYLOGFILE`` variables it reads. A transport given a context, a path,
``verify=False`` or a client certificate is left exactly as it was.

When: a context's trust store is loaded at the transport's first request
that leaves the process, not when it is built. Until then the transport's
connection pool holds a placeholder context that trusts nothing: a suite
whose calls all replay never loads the trust store at all (a third of a
second of CPU on a slow machine), and should a request ever get past us
with the placeholder (a client built in a test and used after the session
ended, when nothing is patched any more), it fails verification: closed,
never open.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import os
import threading
from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any

from pytest_llmbudget.intercept.switchboard import SWITCHBOARD

if TYPE_CHECKING:
    import ssl

_ENVIRONMENT = ("SSL_CERT_FILE", "SSL_CERT_DIR", "SSLKEYLOGFILE")
_NAMES = frozenset({"verify", "cert", "trust_env", "http1", "http2"})
_contexts: dict[tuple[Any, ...], ssl.SSLContext] = {}
_lock = threading.Lock()
_ready_lock = threading.Lock()
# On a transport whose pool still holds the placeholder: how to build its real context.
_PENDING = "_llmbudget_tls_pending"
_placeholder: ssl.SSLContext | None = None


def _placeholder_context() -> ssl.SSLContext:
    """A client context that trusts no certificate: one per process, cheap to make."""
    global _placeholder
    if _placeholder is None:
        import ssl

        _placeholder = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    return _placeholder


def ready(module: ModuleType, transport: Any) -> None:
    """Give ``transport`` its real context before a request leaves through it (once)."""
    if getattr(transport, _PENDING, None) is None:
        return
    with _ready_lock:
        pending = getattr(transport, _PENDING, None)
        if pending is None:
            return
        trust_env, http1, http2 = pending
        transport._pool._ssl_context = shared_context(
            module, trust_env=trust_env, http1=http1, http2=http2
        )
        delattr(transport, _PENDING)


def shared_context(module: ModuleType, *, trust_env: bool, http1: bool, http2: bool) -> Any:
    """The default context of ``module`` (httpx or httpx2) for this configuration."""
    environ = os.environ
    key = (
        module.__name__,
        trust_env,
        http1,
        http2,
        *(environ.get(name) for name in _ENVIRONMENT),
    )
    context = _contexts.get(key)
    if context is None:
        with _lock:
            context = _contexts.get(key)
            if context is None:
                config = importlib.import_module(f"{module.__name__}._config")
                context = config.create_ssl_context(verify=True, cert=None, trust_env=trust_env)
                _contexts[key] = context
    return context


def forget() -> None:
    """Drop the shared contexts (when interception is uninstalled)."""
    with _lock:
        _contexts.clear()


def init_builder(module: ModuleType) -> Callable[[Any], Any]:
    """A ``patch_method`` builder for a transport's ``__init__``."""

    def build(original: Any) -> Any:
        # Read at the first transport built in a test: most runs build none.
        known: list[inspect.Signature | None] = []

        def constructor_signature() -> inspect.Signature | None:
            if not known:
                try:
                    found: inspect.Signature | None = inspect.signature(original)
                except (TypeError, ValueError):
                    found = None
                if found is not None and not set(found.parameters) >= _NAMES:
                    found = None  # not the constructor we know: leave it alone
                known.append(found)
            return known[0]

        @functools.wraps(original)
        def init(self: Any, *args: Any, **kwargs: Any) -> None:
            if not SWITCHBOARD.active():
                original(self, *args, **kwargs)
                return
            signature = constructor_signature()
            if signature is None:
                original(self, *args, **kwargs)
                return
            try:
                bound = signature.bind(self, *args, **kwargs)
            except TypeError:  # the library's own error, as it words it
                original(self, *args, **kwargs)
                return
            bound.apply_defaults()
            arguments = bound.arguments
            if arguments["verify"] is not True or arguments["cert"] is not None:
                original(*bound.args, **bound.kwargs)
                return
            pending = (
                bool(arguments["trust_env"]),
                bool(arguments["http1"]),
                bool(arguments["http2"]),
            )
            placeholder = arguments["verify"] = _placeholder_context()
            original(*bound.args, **bound.kwargs)
            if getattr(getattr(self, "_pool", None), "_ssl_context", None) is placeholder:
                setattr(self, _PENDING, pending)
                return
            # A pool laid out otherwise than we know: its real context, now.
            trust_env, http1, http2 = pending
            arguments["verify"] = shared_context(
                module, trust_env=trust_env, http1=http1, http2=http2
            )
            original(*bound.args, **bound.kwargs)

        return init

    return build
