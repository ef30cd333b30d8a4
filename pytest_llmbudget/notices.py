"""Warnings of ours that report, never fail, unless the user asks for exactly that.

Many suites run with ``filterwarnings = error`` (or ``-W error``), meant for
their own code's deprecations. A notice of ours (a replayed request that has
drifted from its recording) raised as an error there would fail a test that
passes with pytest-recording, the very suite a user is migrating. So a blanket
``error`` filter shows our notice as a warning instead; a filter naming our
category (``error::pytest_llmbudget.LLMCassetteDrift``) is the user asking for
failures, and is obeyed, as is any ``ignore``.
"""

from __future__ import annotations

import warnings

import pytest


def _deciding_filter(warning: Warning, filename: str, lineno: int) -> tuple[str, bool] | None:
    """The action of the filter ``warnings.warn_explicit`` would apply to ``warning``, and
    whether that filter names the warning's own category (or a subclass of it)."""
    text = str(warning)
    # warn_explicit's module, when none is given: the file name without ".py".
    module = filename[:-3] if filename.lower().endswith(".py") else filename
    for action, message, category, module_re, line in warnings.filters:
        if (
            (message is None or message.match(text))
            and issubclass(type(warning), category)
            and (module_re is None or module_re.match(module))
            and line in (0, lineno)
        ):
            return action, isinstance(category, type) and issubclass(category, type(warning))
    return None


def warn(item: pytest.Item, warning: Warning) -> None:
    """``item.warn``, except that a filter turning every warning into an error shows this one."""
    # Where item.warn says the warning comes from: the test's location.
    path, lineno, _name = item.location
    decided = _deciding_filter(warning, path, (lineno or 0) + 1)
    if decided is None or decided != ("error", False):
        item.warn(warning)
        return
    with warnings.catch_warnings():
        warnings.simplefilter("always", type(warning))
        item.warn(warning)
