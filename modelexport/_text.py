"""Wording shared by every command's output, so each count reads the same everywhere."""

from __future__ import annotations

_IRREGULAR = {"child": "children", "finding": "findings"}


def plural(count: int, word: str) -> str:
    """``1 module``, ``2 modules``, ``1,024 nodes``."""
    form = word if count == 1 else _IRREGULAR.get(word, word + "s")
    return f"{count:,} {form}"


def module_counts(modules: int, holding_ops: int) -> str:
    """The one way modules are counted: every module of the model's module tree, and
    how many of them hold ops of their own (``18 modules, 13 holding ops``)."""
    return f"{plural(modules, 'module')}, {holding_ops:,} holding ops"
