"""Install and remove our methods on client classes, remembering the originals."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_MARK = "__llmbudget_original__"


def patch_method(owner: type, name: str, build: Callable[[Any], Any]) -> None:
    """Replace ``owner.name`` by ``build(original)`` unless it is ours already."""
    current = owner.__dict__.get(name)
    if current is None or hasattr(current, _MARK):
        return
    replacement = build(current)
    setattr(replacement, _MARK, current)
    setattr(owner, name, replacement)
    _PATCHED.append((owner, name))


def unpatch_all() -> None:
    """Put every original back, if nobody has patched over us since."""
    while _PATCHED:
        owner, name = _PATCHED.pop()
        current = owner.__dict__.get(name)
        original = getattr(current, _MARK, None)
        if original is not None:
            setattr(owner, name, original)


_PATCHED: list[tuple[type, str]] = []
