"""Text forms of the analysis results: an Analysis as summary, detailed, JSON or CSV
(plus a rich tree for terminals), a Validation as a report, a ModelDiff as tables.
Pure functions from result to text."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from typing import Any

from modelexport._text import module_counts, plural, table_lines
from modelexport.analysis.analyze import Analysis, ModuleStats
from modelexport.analysis.compare import ModelDiff, ModuleDiff
from modelexport.analysis.validate import Validation

FORMATS = ("summary", "detailed", "json", "csv")
CSV_FIELDS = ("tag", "parent", "depth", "class", "own_ops", "total_ops", "own_parameters",
              "total_parameters", "op_types")


def _types(counts: dict[str, int]) -> str:
    return " ".join(f"{op}×{n}" for op, n in counts.items())


def _parameters(a: Analysis) -> str:
    """``4,385,920 parameters (as in PyTorch); 562 constants``, with the notes that apply."""
    text = plural(a.parameters, "parameter")
    if a.parameters_recorded:
        text += " (as in PyTorch"
        if a.shared_parameters:
            text += f"; {a.shared_parameters:,} of them stored once for several modules"
        text += ")"
    elif a.shared_parameters:
        text += f" ({a.shared_parameters:,} more counted in the modules sharing them)"
    if a.constants:
        text += f"; {plural(a.constants, 'constant')} (initializer elements holding no parameter)"
    return text


def headline(a: Analysis) -> str:
    if not a.tagged:
        return (f"{plural(a.node_count, 'node')}, none tagged: no hierarchy tags found, "
                f"analyzing by op type only; {_parameters(a)}")
    scope = f"{a.filter_tag}: " if a.filter_tag else ""
    text = (f"{scope}{plural(a.node_count, 'node')}, {a.tagged_nodes:,} tagged "
            f"({a.coverage:.1%}), {a.untagged_nodes:,} untagged; "
            f"{module_counts(a.module_count, a.modules_holding_ops)}; {_parameters(a)}")
    if not a.tree_recorded:
        text += "; module tree not recorded (modules taken from tags)"
    return text


def module_line(m: ModuleStats, detailed: bool, label: str | None = None) -> str:
    text = f"{label or m.name}  ops {m.total_ops} (own {m.own_ops})  params {m.total_parameters:,}"
    if detailed:
        if m.module_class:
            text += f"  [{m.module_class}]"
        if m.op_types:
            text += f"  {_types(m.op_types)}"
    return text


def _children(a: Analysis) -> dict[str | None, list[ModuleStats]]:
    kids: dict[str | None, list[ModuleStats]] = {}
    for m in a.modules:
        kids.setdefault(m.parent, []).append(m)
    return kids


def format_text(a: Analysis, detailed: bool = False) -> str:
    """The module tree as plain text, one line per module, drawn with box characters."""
    lines = [headline(a)]
    kids = _children(a)

    def walk(m: ModuleStats, prefix: str, last: bool, top: bool) -> None:
        branch = "" if top else ("└── " if last else "├── ")
        lines.append(prefix + branch + module_line(m, detailed, m.tag if top else None))
        inner = prefix + ("" if top else ("    " if last else "│   "))
        children = kids.get(m.tag, [])
        for i, child in enumerate(children):
            walk(child, inner, i == len(children) - 1, False)

    for root in kids.get(None, []):
        walk(root, "", True, True)
    lines += shared_lines(a)
    if a.untagged_op_types:
        lines.append(f"untagged: {_types(a.untagged_op_types)}")
    if not a.tagged or detailed:
        lines.append(f"op types: {_types(a.op_types)}")
    return "\n".join(lines) + "\n"


def shared_lines(a: Analysis) -> list[str]:
    """One line per initializer that holds the parameters of several modules."""
    return [f"shared: initializer {s['initializer']!r} ({plural(s['elements'], 'element')}) "
            f"holds the equal parameters of {plural(len(s['modules']), 'module')}, each "
            f"counted in its own module: {', '.join(s['modules'])}"
            for s in a.shared_initializers]


def rich_tree(a: Analysis, detailed: bool = False) -> Any:
    """The module tree as a ``rich.tree.Tree`` (for a terminal)."""
    from rich.markup import escape
    from rich.tree import Tree

    tree = Tree(escape(headline(a)))
    kids = _children(a)

    def add(parent: Any, m: ModuleStats, label: str) -> None:
        text = module_line(m, detailed, label)
        node = parent.add(f"[bold]{escape(label)}[/]{escape(text[len(label):])}")
        for child in kids.get(m.tag, []):
            add(node, child, child.name)

    for root in kids.get(None, []):
        add(tree, root, root.tag)
    for line in shared_lines(a):
        tree.add(escape(line))
    if a.untagged_op_types:
        tree.add(escape(f"untagged: {_types(a.untagged_op_types)}"))
    if not a.tagged or detailed:
        tree.add(escape(f"op types: {_types(a.op_types)}"))
    return tree


def format_json(a: Analysis) -> str:
    return json.dumps(a.to_dict(), indent=2) + "\n"


def format_csv(a: Analysis) -> str:
    """One row per module; untagged models give one row per op type instead."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if not a.tagged:
        writer.writerow(("op_type", "count"))
        writer.writerows(a.op_types.items())
        return out.getvalue()
    writer.writerow(CSV_FIELDS)
    for m in a.modules:
        writer.writerow((m.tag, m.parent or "", m.depth, m.module_class or "", m.own_ops,
                         m.total_ops, m.own_parameters, m.total_parameters,
                         ";".join(f"{op}:{n}" for op, n in m.op_types.items())))
    return out.getvalue()


def format_analysis(a: Analysis, output_format: str) -> str:
    if output_format == "json":
        return format_json(a)
    if output_format == "csv":
        return format_csv(a)
    return format_text(a, detailed=output_format == "detailed")


def format_validation(v: Validation, limit: int = 20) -> str:
    """The verdict, then the offending nodes by kind (the first ``limit`` of each)."""
    verdict = "valid" if v.valid else f"INVALID: {plural(len(v.issues), 'issue')}"
    lines = [f"{verdict} — {plural(v.node_count, 'node')}, {v.tagged_nodes:,} tagged; onnx.checker "
             f"{'passed' if v.checker_passed else 'failed'}; data-flow consistency "
             f"{'checked' if v.consistency_checked else 'not checked (--check-consistency)'}"]
    lines += [f"note: {note}" for note in v.notes]
    for kind, issues in v.by_kind().items():
        lines.append(f"{kind} ({len(issues)}):")
        lines += [f"  {issue.message}" for issue in issues[:limit]]
        if len(issues) > limit:
            lines.append(f"  ... and {len(issues) - limit} more (--json lists all)")
    return "\n".join(lines) + "\n"


def _module_notes(m: ModuleDiff) -> str:
    notes = []
    if m.moved_from:
        notes.append(f"moved from {m.moved_from}")
    for items, verb in ((m.ops_added, "added"), (m.ops_removed, "removed")):
        if items and m.status not in ("added", "removed"):
            types = Counter(op.op_type for op in items)
            notes.append(f"ops {verb}: " + " ".join(
                f"{t}×{n}" if n > 1 else t for t, n in types.items()))
    if m.status in ("added", "removed"):
        notes.append(plural(m.b_ops if m.status == "added" else m.a_ops, "op"))
    if m.params_changed:
        notes.append("params changed: " + ", ".join(m.params_changed))
    for items, verb in ((m.params_added, "added"), (m.params_removed, "removed")):
        if items and m.status not in ("added", "removed"):
            notes.append(f"params {verb}: " + ", ".join(items))
    return "; ".join(notes)


def comparison_sections(c: ModelDiff) -> list[tuple[str, list[str], list[list[str]]]]:
    """The differences as (title, column names, rows) tables; empty when identical."""
    sections: list[tuple[str, list[str], list[list[str]]]] = []
    rows = [[m.status, m.tag, _module_notes(m)] for m in c.modules
            if m.status != "same" or m.moved_from]
    if rows:
        sections.append(("modules", ["status", "module", "what differs"], rows))
    pairs = [("model", c.model), ("opsets", c.opsets), ("graph inputs", c.inputs),
             ("graph outputs", c.outputs)]
    for title, diff in pairs:
        if diff:
            sections.append((title, ["name", "A", "B"],
                             [[k, str(a), str(b)] for k, (a, b) in diff.items()]))
    return sections


def comparison_headline(c: ModelDiff) -> str:
    """The module summary: "3 modules changed, 5 added", or that the two are identical."""
    counts = c.counts()
    total = len(c.modules)
    if c.identical:
        return (f"the two models are identical: {plural(total, 'module')}, "
                f"{plural(c.a_ops, 'op')}")
    parts = [f"{plural(counts[s], 'module')} {s}" if not i else f"{counts[s]:,} {s}"
             for i, s in enumerate(s for s in ("changed", "added", "removed") if counts[s])]
    moved = sum(1 for m in c.modules if m.moved_from)
    if moved:
        parts.append(f"{moved:,} moved")
    text = ", ".join(parts) if parts else "no module differs"
    text += f" ({counts['same']:,} same; ops {c.a_ops:,} → {c.b_ops:,})"
    others = [name for name, d in (("opsets", c.opsets), ("graph inputs", c.inputs),
                                   ("graph outputs", c.outputs)) if d]
    if others:
        text += "; " + ", ".join(others) + " differ"
    return text


def format_comparison(c: ModelDiff, limit: int = 50) -> str:
    """Plain-text tables (the first ``limit`` rows of each)."""
    lines = [comparison_headline(c)]
    for title, columns, rows in comparison_sections(c):
        lines += ["", f"{title} ({len(rows)}):",
                  *table_lines(columns, rows[:limit], indent="  ")]
        if len(rows) > limit:
            lines.append(f"  ... and {len(rows) - limit} more (--json lists all)")
    return "\n".join(lines) + "\n"


def rich_comparison(c: ModelDiff, limit: int = 50) -> list[Any]:
    """The same tables as ``rich.table.Table`` objects, headline first."""
    from rich.markup import escape
    from rich.table import Table

    out: list[Any] = [escape(comparison_headline(c))]
    for title, columns, rows in comparison_sections(c):
        table = Table(title=f"{title} ({len(rows)})", title_justify="left")
        for col in columns:
            table.add_column(col)
        for row in rows[:limit]:
            table.add_row(*map(escape, row))
        out.append(table)
        if len(rows) > limit:
            out.append(f"... and {len(rows) - limit} more (--json lists all)")
    return out
