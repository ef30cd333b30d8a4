"""``llmbudget``: the command line around the plugin's reports, cassettes and ledger.

Exit status for every command: 0 fine, 1 a violation or finding, 2 a usage
error (bad arguments, a missing or unreadable file). One module per command
group registers its subcommands; each imports what is heavy only when run.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from pytest_llmbudget import __version__
from pytest_llmbudget.cli.common import USAGE, UsageProblemError, settled

# Modules of this package with a ``register(commands)`` function, in --help order.
COMMAND_MODULES = ("rerecord", "reports", "diff", "prune", "scan", "prices", "history", "ledger")


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="llmbudget",
        description="Reports, cassettes and the spend ledger of pytest-llmbudget.",
        epilog="Exit status: 0 fine, 1 a violation or finding, 2 a usage error.",
    )
    root.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = root.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(f"pytest_llmbudget.cli.{name}").register(commands)
    return root


def _parse(words: list[str]) -> argparse.Namespace:
    """Parse ``words``; a command that sets ``pass_through`` gets the words after its name.

    Such a command (rerecord) hands its unknown options to pytest, so it sees
    them all, in order, as ``args.words``.
    """
    root = parser()
    args, unknown = root.parse_known_args(words)
    if getattr(args, "pass_through", False) and words and words[0] == args.command:
        args.words = words[1:]
    elif unknown:
        root.error(f"unrecognized arguments: {' '.join(unknown)}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(list(sys.argv[1:] if argv is None else argv))
    try:
        status: int = args.run(args)
        sys.stdout.flush()  # a closed pipe shows here, not at exit
    except UsageProblemError as error:
        print(f"llmbudget {args.command}: error: {error}", file=sys.stderr)
        return USAGE
    except KeyboardInterrupt:
        print(f"llmbudget {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `llmbudget scan | head -1`: the status stays what it was to be
        _discard_stdout()
        return settled(args)
    return status


def _discard_stdout() -> None:
    """Point stdout at the null device, so the flush at exit does not fail again."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)
    except (OSError, ValueError):  # not a real file (captured): nothing is flushed at exit
        pass


if __name__ == "__main__":
    sys.exit(main())
