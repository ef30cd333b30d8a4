"""``llmbudget scan``: secrets in cassettes, before they reach git.

The recorder redacts credentials as it writes (SPEC §3); this is the check
for cassettes it did not write, or wrote before a header was known to carry
a key. Each finding shows only the first characters of the secret.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from pytest_llmbudget.cli.common import FINDING, OK, Commands, UsageProblemError, settle

ADVICE = (
    "Remove them, and revoke every key that was ever committed. A re-recording redacts\n"
    "credential headers and the values of *_KEY, *_TOKEN and *_SECRET environment\n"
    "variables; name other headers in the ini option llm_redact_headers."
)


def _plural(number: int, word: str) -> str:
    return f"{number:,} {word}{'' if number == 1 else 's'}"


def _names(folders: list[Path], shown: int = 3) -> str:
    """The cassettes folders found, so a clean result says where it looked."""
    names = [str(folder) for folder in folders[:shown]]
    more = len(folders) - shown
    return ", ".join(names) + (f" and {more} more" if more > 0 else "")


def cmd_scan(args: argparse.Namespace) -> int:
    """Print each secret as file:line; exit 1 on any finding, 2 for a path that is not there."""
    from pytest_llmbudget import leaks

    paths = [Path(name) for name in args.paths]
    roots = paths or leaks.default_roots(Path())
    if not roots:
        print("No cassettes folder under the current folder; nothing to scan.")
        return OK
    try:
        files = leaks.cassette_files(roots)
        findings = leaks.scan_files(files)
    except leaks.ScanError as error:
        raise UsageProblemError(str(error)) from None
    status = settle(args, FINDING if findings else OK)
    for finding in findings:
        print(finding)
    if not findings:
        where = "" if paths else f" under {_names(roots)}"
        print(f"No secrets found in {_plural(len(files), 'file')}{where}.")
        return OK
    affected = len({finding.path for finding in findings})
    print(
        f"{_plural(len(findings), 'secret')} found in {affected} of "
        f"{_plural(len(files), 'file')} scanned."
    )
    print(ADVICE)
    return status


def register(commands: Commands) -> None:
    scan = commands.add_parser(
        "scan",
        help="Look for API keys and other secrets in cassettes.",
        description="Look for secrets in cassettes: OpenAI, Anthropic, Google, Groq, xAI and "
        "OpenRouter API keys, AWS access key ids, bearer tokens, and the values of this "
        "machine's *_KEY, *_TOKEN and *_SECRET environment variables. Prints FILE:LINE for "
        "each, with only the first characters of the secret. Exit 1 on any finding.",
    )
    scan.set_defaults(run=cmd_scan)
    scan.add_argument(
        "paths",
        metavar="PATH",
        nargs="*",
        help="cassette files or folders (their .yaml, .yml and .json files, recursively); "
        "default: every folder named 'cassettes' under the current folder",
    )
