"""pytest-llmbudget: record, replay and budget the LLM calls of a test suite.

Only the public names live here, and nothing heavy is imported: pytest loads
this package for every run, including runs that make no LLM call.
"""

from pytest_llmbudget.errors import (
    CassetteError,
    CassetteMiss,
    LLMBudgetExceeded,
    LLMCallLimitExceeded,
)
from pytest_llmbudget.usage import LLMUsage

__version__ = "0.1.0"

__all__ = [
    "CassetteError",
    "CassetteMiss",
    "LLMBudgetExceeded",
    "LLMCallLimitExceeded",
    "LLMUsage",
    "__version__",
]
