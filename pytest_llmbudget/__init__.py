"""pytest-llmbudget: record, replay and budget the LLM calls of a test suite.

Only the public names live here, and nothing heavy is imported: pytest loads
this package for every run, including runs that make no LLM call.
"""

from typing import TYPE_CHECKING, Any

from pytest_llmbudget.errors import (
    CassetteError,
    CassetteMiss,
    CassetteSaveError,
    LedgerUnavailable,
    LLMBudgetExceeded,
    LLMCallLimitExceeded,
    LLMCassetteDrift,
)

if TYPE_CHECKING:
    from pytest_llmbudget.usage import LLMUsage

__version__ = "0.1.0"

__all__ = [
    "CassetteError",
    "CassetteMiss",
    "CassetteSaveError",
    "LLMBudgetExceeded",
    "LLMCallLimitExceeded",
    "LLMCassetteDrift",
    "LLMUsage",
    "LedgerUnavailable",
    "__version__",
]


def __getattr__(name: str) -> Any:
    # LLMUsage is for tests that make calls: imported when one asks for it.
    if name == "LLMUsage":
        from pytest_llmbudget.usage import LLMUsage

        return LLMUsage
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
