"""Wording shared by every command's output, so each count reads the same everywhere."""

from __future__ import annotations

from collections.abc import Sequence

_IRREGULAR = {"child": "children", "finding": "findings"}


def plural(count: int, word: str) -> str:
    """``1 module``, ``2 modules``, ``1,024 nodes``."""
    form = word if count == 1 else _IRREGULAR.get(word, word + "s")
    return f"{count:,} {form}"


def module_counts(modules: int, holding_ops: int) -> str:
    """The one way modules are counted: every module of the model's module tree, and
    how many of them hold ops of their own (``18 modules, 13 holding ops``)."""
    return f"{plural(modules, 'module')}, {holding_ops:,} holding ops"


def table_lines(header: Sequence[str], rows: Sequence[Sequence[str]],
                indent: str = "") -> list[str]:
    """Plain-text table: left-aligned columns two spaces apart, each as wide as its
    widest cell, trailing spaces cut. The one table layout of every command's text."""
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(header)]
    return [(indent + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True))).rstrip()
            for r in [header, *rows]]
