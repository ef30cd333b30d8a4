"""The exceptions a test can see.

They derive from ``BaseException``, as pytest's own outcome exceptions do: an
SDK's retry loop (``except Exception``) or a user's ``except Exception:`` in a
polling loop must not be able to swallow a stop or retry it.
"""

from __future__ import annotations

from pathlib import Path


class LLMBudgetExceeded(BaseException):
    """A live call was refused because a spend or call budget is used up."""

    def __init__(self, message: str, *, limit: float, actual: float, nodeid: str | None) -> None:
        super().__init__(message)
        self.limit = limit
        self.actual = actual
        self.nodeid = nodeid


class LLMCallLimitExceeded(LLMBudgetExceeded):
    """A test made more LLM calls than it may: usually a runaway polling loop."""


class CassetteMiss(BaseException):
    """A call has no recording and the record mode forbids going live."""

    def __init__(
        self,
        *,
        request: str,
        cassette: Path,
        mode: str,
        command: str,
        closest: tuple[str, ...] = (),
        mode_source: str = "--llm-record",
    ) -> None:
        self.request = request
        self.cassette = cassette
        self.mode = mode
        self.command = command
        # The recording that came closest and what differs: lines, shown under the message.
        self.closest = closest
        message = (
            f"{request} has no recording in {cassette} and {mode_source}={mode} "
            f"does not allow a live call. To record it, run: {command}"
        )
        super().__init__("\n".join((message, *closest)))


class LLMCassetteDrift(UserWarning):
    """A call replayed a recording of another tool although the request has changed since.

    Matched the way that tool matched it (method and URL, or the suite's
    ``match_on``): the test passes, and the warning says what changed.
    """


class CassetteError(BaseException):
    """A cassette file cannot be read; it is left untouched on disk."""

    def __init__(self, path: Path, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"cassette {path} is unreadable: {problem} (the file was left as it is)")


class CassetteSaveError(CassetteError):
    """A cassette could not be written (disk full, no permission); any earlier file is kept."""

    def __init__(self, path: Path, problem: str) -> None:
        self.path = path
        self.problem = problem
        BaseException.__init__(
            self,
            f"cassette {path} could not be saved: {problem} "
            "(an earlier file, if there was one, was left as it is)",
        )


class LedgerUnavailable(BaseException):
    """The team ledger (PostgreSQL) cannot be reached or used: live calls are refused,
    never let through unbudgeted. A BaseException, as the budget stops are, so an SDK's
    retries cannot swallow it."""
