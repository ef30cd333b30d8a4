"""The models a what-if prices a suite on: ``--what-if`` and the ini option ``llm_what_if``.

Apart from whatif.py because the plugin checks ``llm_what_if`` at every start:
a mistake there stops the run at once, and reading it must cost a run that
makes no LLM call nothing it does not need (no dataclass, no pricing).
"""

from __future__ import annotations

from typing import NamedTuple

# The models the HTML page compares a suite with, unless ini llm_what_if says otherwise.
DEFAULT_MODELS = (
    "gpt-4o-mini",
    "gpt-4.1",
    "claude-haiku-4-5",
    "claude-sonnet-4-5",
    "gemini-2.5-flash",
)


class Scenario(NamedTuple):
    """``--what-if TO`` (every call) or ``--what-if FROM=TO`` (the calls to FROM only)."""

    target: str
    source: str | None = None

    @property
    def label(self) -> str:
        return self.target if self.source is None else f"{self.source} → {self.target}"

    def applies_to(self, model: str | None) -> bool:
        if self.source is None:
            return True
        if model is None:
            return False
        from pytest_llmbudget.pricing import name_variants

        wanted = self.source.lower()
        return any(name == wanted for name in name_variants(model.lower()))


def parse_scenario(text: str) -> Scenario:
    """``MODEL`` or ``FROM=TO``; ValueError with a message for anything else."""
    source, equals, target = text.partition("=")
    if not equals:
        source, target = "", source
    source, target = source.strip(), target.strip()
    if not target or (equals and not source):
        raise ValueError(
            f"--what-if {text!r}: give a model (--what-if gpt-4o-mini) or FROM=TO "
            "(--what-if gpt-4o=gpt-4o-mini)"
        )
    return Scenario(target, source or None)


def configured(lines: tuple[str, ...]) -> tuple[Scenario, ...]:
    """ini ``llm_what_if``: unset, a few well-known models; ``none``, none; else its lines.

    ValueError names the first line that is neither a model nor FROM=TO.
    """
    if not lines:
        return tuple(Scenario(model) for model in DEFAULT_MODELS)
    if [line.lower() for line in lines] == ["none"]:
        return ()
    return tuple(parse_scenario(line) for line in lines)
