"""What every ``llmbudget`` command shares: exit statuses, errors, argument types."""

from __future__ import annotations

import argparse
from decimal import Decimal
from typing import TYPE_CHECKING, TypeAlias

OK, FINDING, USAGE = 0, 1, 2

# What argparse's add_subparsers returns; commands register on it.
if TYPE_CHECKING:
    Commands: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]
else:
    Commands = argparse._SubParsersAction


class UsageProblemError(Exception):
    """A problem with what the user asked for: printed on stderr, exit 2."""


def settle(args: argparse.Namespace, status: int) -> int:
    """Fix the command's exit status before it prints its result, and return it.

    If the reader of standard output goes away (``llmbudget scan | head -1``),
    the command still exits with this status: a finding must not turn into 0.
    """
    args.settled_status = status
    return status


def settled(args: argparse.Namespace) -> int:
    """The status a command fixed with `settle`, else OK."""
    return int(getattr(args, "settled_status", OK))


def usd(text: str) -> Decimal:
    """An argparse type for dollar amounts, with the plugin's own parser and message."""
    import pytest

    from pytest_llmbudget.settings import parse_usd

    try:
        return parse_usd(text, "USD")
    except pytest.UsageError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
