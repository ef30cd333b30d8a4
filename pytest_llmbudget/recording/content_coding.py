"""Undo a response's Content-Encoding, so a cassette holds readable, scrubbable text.

A transport-level copy of an answer is taken before the client decodes it.
Stored compressed, the body could not be scrubbed of secrets, read for usage
or diffed in review. httpx and httpx2 ask for brotli and zstd whenever their
decoders are installed, so those are decoded here with the same packages.

A body cut short (a stream the client closed before its end) decodes as far
as it goes; a corrupt one, or one whose coding no installed package reads,
gives None and is stored as it came.
"""

from __future__ import annotations

import importlib
import zlib
from collections.abc import Callable
from typing import Any

Decoder = Callable[[bytes], bytes]


def decode(body: bytes, encoding: str) -> bytes | None:
    """``body`` without the codings of ``encoding`` (applied in order, undone in reverse)."""
    codings = [c.strip().lower() for c in encoding.split(",") if c.strip()]
    try:
        for coding in reversed(codings):
            if coding == "identity":
                continue
            decoder = _DECODERS.get(coding)
            if decoder is None:
                return None
            body = decoder(body)
    except Exception:  # zlib.error, brotli.error, ZstdError...: keep the bytes as they came
        return None
    return body


def _inflate(body: bytes, wbits: int) -> bytes:
    inflater = zlib.decompressobj(wbits)
    return inflater.decompress(body) + inflater.flush()


def _gzip(body: bytes) -> bytes:
    return _inflate(body, 16 + zlib.MAX_WBITS)


def _deflate(body: bytes) -> bytes:
    try:
        return _inflate(body, zlib.MAX_WBITS)
    except zlib.error:  # servers send raw deflate as often as zlib-wrapped
        return _inflate(body, -zlib.MAX_WBITS)


def _first_module(*names: str) -> Any:
    """The first of ``names`` that imports: the same choice httpx makes."""
    for name in names:
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    raise ImportError(f"none of {', '.join(names)} is installed")


def _brotli(body: bytes) -> bytes:
    module = _first_module("brotli", "brotlicffi")
    decompressor = module.Decompressor()
    step = getattr(decompressor, "process", None) or decompressor.decompress
    data: bytes = step(body)
    return data


def _zstd(body: bytes) -> bytes:
    module = _first_module("compression.zstd", "backports.zstd", "zstandard")
    if module.__name__ == "zstandard":
        data: bytes = module.ZstdDecompressor().decompressobj().decompress(body)
        return data
    result: bytes = module.ZstdDecompressor().decompress(body)
    return result


_DECODERS: dict[str, Decoder] = {
    "gzip": _gzip,
    "x-gzip": _gzip,
    "deflate": _deflate,
    "br": _brotli,
    "zstd": _zstd,
}
