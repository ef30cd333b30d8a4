"""Find credentials that reached a cassette anyway.

The recorder redacts what it knows (SPEC §3), but cassettes also come from
elsewhere: pytest-recording, older versions, a hand edit, a key an API echoed
inside a body the scrubber could not see (a compressed one). A cassette is
committed to git, so a leaked key is a public key: this module looks for the
shapes real keys have, and for the values of the credential environment
variables of the machine that scans.

The patterns follow the real key formats, lengths included, so that the
short placeholders test suites use (``sk-test-…``, ``sk-demo-key-0000``) are
not findings, while a key of the real shape is, even a fake one: nobody can
tell a realistic fake from a real key by looking. Scanning is line-oriented
text matching, not YAML parsing, so every finding has a line number; bodies
stored as base64 (``!!binary``) are not decoded.
"""

from __future__ import annotations

import bisect
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pytest_llmbudget.recording.scrub import ENV_SUFFIXES, MIN_SECRET_LENGTH, REDACTED

__all__ = [
    "CASSETTE_SUFFIXES",
    "DETECTORS",
    "Detector",
    "Finding",
    "ScanError",
    "cassette_files",
    "default_roots",
    "env_credentials",
    "find",
    "mask",
    "scan_files",
    "scan_paths",
]

CASSETTE_SUFFIXES = (".yaml", ".yml", ".json")

# A key starts where a token cannot go on: not inside a longer word or a
# base64 blob, but right after a JSON escape such as the ``\n`` in a body
# stored as a string, or a URL escape (``key%3DAIza…``). Python's
# lookbehinds are fixed-width, hence three.
_START = r"(?:(?<![A-Za-z0-9_-])|(?<=\\[nrt])|(?<=%[0-9A-Fa-f]{2}))"
_END = r"(?![A-Za-z0-9_-])"
_END_ALNUM = r"(?![A-Za-z0-9])"

# Folders that hold other people's files (virtualenvs, node_modules, caches):
# never cassettes of the project, and slow and noisy to walk.
_SKIPPED_DIRS = frozenset({"node_modules", "__pycache__", "site-packages"})


@dataclass(frozen=True, slots=True)
class Detector:
    """One kind of secret: a pattern, and a check for what the pattern cannot say."""

    kind: str
    pattern: re.Pattern[str]
    accept: Callable[[str], bool] = lambda secret: True


@dataclass(frozen=True, slots=True)
class Finding:
    """A secret in a file, with only a masked copy of it: a report must not leak it again."""

    path: str
    line: int
    kind: str
    masked: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.kind} ({self.masked})"


class ScanError(OSError):
    """A path that cannot be scanned: a clean result would be a lie."""


def _has_digit(secret: str) -> bool:
    """Real bearer tokens carry digits; prose (``Bearer YOUR_API_KEY_HERE``) does not."""
    return any(char.isdigit() for char in secret)


def _not_aws_example(secret: str) -> bool:
    """AWS documents ``AKIAIOSFODNN7EXAMPLE``; such ids are in docs and tests everywhere."""
    return not secret.endswith("EXAMPLE")


def _compile(body: str, end: str = _END) -> re.Pattern[str]:
    return re.compile(_START + body + end)


DETECTORS: tuple[Detector, ...] = (
    # sk-ant-api03- + 93 chars + "AA" (108 in all); admin keys sk-ant-admin01-.
    Detector("anthropic-key", _compile(r"sk-ant-[a-z]{2,8}\d{2}-[A-Za-z0-9_-]{80,}")),
    # sk-or-v1- + 64 hex digits.
    Detector("openrouter-key", _compile(r"sk-or-v1-[0-9a-f]{64}")),
    # Project, service-account and admin keys: sk-proj- + ~156 chars.
    Detector("openai-key", _compile(r"sk-(?:proj|svcacct|admin|None)-[A-Za-z0-9_-]{40,}")),
    # Legacy OpenAI keys (sk- + 48 alphanumerics), and the sk- + 32..48 keys of
    # DeepSeek, Moonshot and other OpenAI-compatible providers.
    Detector("openai-key", _compile(r"sk-[A-Za-z0-9]{32,}")),
    # AIza + 35 chars, exactly.
    Detector("google-api-key", _compile(r"AIza[0-9A-Za-z_-]{35}")),
    # gsk_ + 52 alphanumerics.
    Detector("groq-key", _compile(r"gsk_[A-Za-z0-9]{48,}", _END_ALNUM)),
    # xai- + 80 alphanumerics.
    Detector("xai-key", _compile(r"xai-[A-Za-z0-9]{64,}", _END_ALNUM)),
    # Long-term (AKIA) and temporary (ASIA) access key ids: 20 chars exactly.
    Detector(
        "aws-access-key-id",
        _compile(r"(?:AKIA|ASIA)[0-9A-Z]{16}", _END_ALNUM),
        _not_aws_example,
    ),
)

# Checked after the provider keys and the environment values: a provider key
# sent as a bearer token is named by its provider.
BEARER = Detector(
    "bearer-token",
    re.compile(r"(?i:\bbearer)[ \t]+(?!" + REDACTED + r")([A-Za-z0-9._~+/=-]{20,})"),
    _has_digit,
)


def mask(secret: str) -> str:
    """At most six leading characters, fewer for a short value, so the report leaks nothing."""
    return secret[: min(6, len(secret) // 4)] + "…"


def env_credentials(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Value → name of every ``*_KEY``/``*_TOKEN``/``*_SECRET`` variable the recorder redacts."""
    env = os.environ if environ is None else environ
    found: dict[str, str] = {}
    for name in sorted(env):
        value = env[name]
        if not name.upper().endswith(ENV_SUFFIXES) or len(value) < MIN_SECRET_LENGTH:
            continue
        if value == REDACTED:  # would flag every redaction the recorder made
            continue
        found.setdefault(value, name)
    return found


_NEWLINE = re.compile("\n")

# (start, end, kind, secret) of one match in a text.
_Span = tuple[int, int, str, str]


def _pattern_spans(text: str) -> Iterator[_Span]:
    for detector in DETECTORS:
        for match in detector.pattern.finditer(text):
            if detector.accept(match.group()):
                yield match.start(), match.end(), detector.kind, match.group()


def _env_spans(text: str, credentials: Mapping[str, str]) -> Iterator[_Span]:
    for value, name in credentials.items():
        start = text.find(value)
        while start != -1:
            yield start, start + len(value), f"env:{name}", value
            start = text.find(value, start + len(value))


def _bearer_spans(text: str) -> Iterator[_Span]:
    for match in BEARER.pattern.finditer(text):
        token = match.group(1)
        if BEARER.accept(token):
            yield match.start(1), match.end(1), BEARER.kind, token


def _without_overlaps(spans: Iterable[_Span]) -> list[_Span]:
    """The first-found span wins where two overlap: one secret, one finding."""
    kept: list[_Span] = []
    for span in spans:
        if all(span[1] <= other[0] or other[1] <= span[0] for other in kept):
            kept.append(span)
    return sorted(kept)


def _find(text: str, source: str, credentials: Mapping[str, str]) -> list[Finding]:
    spans = _without_overlaps(
        [*_pattern_spans(text), *_env_spans(text, credentials), *_bearer_spans(text)]
    )
    if not spans:
        return []
    line_starts = [0, *(match.end() for match in _NEWLINE.finditer(text))]
    return [
        Finding(source, bisect.bisect_right(line_starts, start), kind, mask(secret))
        for start, _end, kind, secret in spans
    ]


def find(
    text: str, *, source: str = "<text>", environ: Mapping[str, str] | None = None
) -> list[Finding]:
    """Secrets in ``text``, in order, with 1-based line numbers.

    ``environ`` (default: the process environment) supplies the credential
    values to look for.
    """
    return _find(text, source, env_credentials(environ))


def _skipped(directory: Path) -> bool:
    name = directory.name
    return name.startswith(".") or name in _SKIPPED_DIRS or (directory / "pyvenv.cfg").is_file()


def _walk(root: Path) -> Iterator[Path]:
    """Directories under ``root`` (itself included), sorted, minus other people's folders."""
    for folder, dirs, _files in os.walk(root):
        here = Path(folder)
        dirs[:] = sorted(name for name in dirs if not _skipped(here / name))
        yield here


def default_roots(base: Path) -> list[Path]:
    """Every ``cassettes`` folder under ``base``: where the plugin and pytest-recording write."""
    roots: list[Path] = []
    for folder in _walk(base):
        if folder.name == "cassettes" and not any(root in folder.parents for root in roots):
            roots.append(folder)
    return roots


def cassette_files(paths: Sequence[Path]) -> list[Path]:
    """A file as named, whatever its suffix; a folder's cassette files, recursively."""
    files: list[Path] = []
    for path in paths:
        if path.is_file():
            files.append(path)
        elif path.is_dir():
            for folder in _walk(path):
                files.extend(
                    sorted(
                        entry
                        for entry in folder.iterdir()
                        if entry.suffix.lower() in CASSETTE_SUFFIXES and entry.is_file()
                    )
                )
        else:
            raise ScanError(f"{path}: no such file or directory")
    return list(dict.fromkeys(files))


def _read(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8", errors="replace")
    except OSError as error:
        raise ScanError(f"{path}: cannot read: {error.strerror or error}") from None


def scan_files(files: Iterable[Path], environ: Mapping[str, str] | None = None) -> list[Finding]:
    """Secrets in each of ``files``, in file order; raises `ScanError` for an unreadable one."""
    credentials = env_credentials(environ)
    findings: list[Finding] = []
    for path in files:
        findings.extend(_find(_read(path), str(path), credentials))
    return findings


def scan_paths(
    paths: Sequence[Path] = (), environ: Mapping[str, str] | None = None
) -> list[Finding]:
    """Secrets in files and folders; with no paths, in every ``cassettes`` folder under the cwd."""
    roots = list(paths) or default_roots(Path())
    return scan_files(cassette_files(roots), environ)
