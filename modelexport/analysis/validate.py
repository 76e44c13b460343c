"""``validate``: onnx.checker plus the hierarchy-tag rules of SPEC §5.

Checks, each reported per offending node:

- ``untagged``        a node carries no tag
- ``bad-tag``         a tag that is not a ``/``-rooted path
- ``unknown-module``  a tag that is not a module of the recorded module tree
- with ``check_consistency``, along the data flow: a node whose producers and consumers
  all lie in one module M while its own tag is unrelated to M (neither M, an ancestor
  nor a descendant). When the two paths part at sibling container entries
  (``Layer.0`` / ``Layer.1``) it is ``cross-layer``, otherwise ``unrelated-tag``.
  Nodes at a module's boundary (data entering or leaving) are never flagged: both
  sides of the node must agree.

:func:`repair_tags` fills missing tags with the shared SPEC §5 rule
(:func:`modelexport.converter.tags.fill_missing_tags`).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

import onnx

from modelexport.analysis._graph import GraphIndex, node_label, recorded_tree
from modelexport.converter.tags import (
    MODULE_CLASS_KEY,
    MODULE_PATH_KEY,
    TAG_KEY,
    common_tag,
    fill_missing_tags,
    graph_boundary,
    node_tag,
    normalize_tag,
    related,
)
from modelexport.errors import AnalysisError

_ENTRY = re.compile(r"^(?P<base>.+)\.(?P<key>[^./]+)$")


@dataclass
class Issue:
    kind: str
    message: str
    node: str | None = None
    tag: str | None = None


@dataclass
class Validation:
    """What ``validate`` found; ``valid`` when there is no issue."""

    node_count: int
    tagged_nodes: int
    checker_passed: bool
    tree_recorded: bool
    consistency_checked: bool
    issues: list[Issue] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.issues

    def by_kind(self) -> dict[str, list[Issue]]:
        kinds: dict[str, list[Issue]] = {}
        for issue in self.issues:
            kinds.setdefault(issue.kind, []).append(issue)
        return kinds

    def to_dict(self) -> dict:
        data = asdict(self)
        data["valid"] = self.valid
        return data


def run_checker(model: onnx.ModelProto) -> str | None:
    """onnx.checker with full_check (strict shape inference); the failure, or None."""
    try:
        onnx.checker.check_model(model, full_check=True)
    except Exception as e:  # checker.ValidationError, shape_inference.InferenceError
        text = str(e).strip()
        return text.splitlines()[0] if text else type(e).__name__
    return None


def crossed_entries(tag: str, home: str) -> tuple[str, str] | None:
    """Where two tags part at sibling container entries (``Layer.1`` vs ``Layer.0``)."""
    for mine, theirs in zip(tag.strip("/").split("/"), home.strip("/").split("/"), strict=False):
        if mine == theirs:
            continue
        a, b = _ENTRY.match(mine), _ENTRY.match(theirs)
        if a and b and a["base"] == b["base"]:
            return mine, theirs
        return None
    return None


def _consistency_issues(index: GraphIndex) -> list[Issue]:
    issues: list[Issue] = []
    for i, (node, tag) in enumerate(zip(index.nodes, index.tags, strict=True)):
        if tag is None:
            continue
        before, after = index.producer_tags(i), index.consumer_tags(i)
        if not before or not after:
            continue  # a boundary node: data enters or leaves here
        home = common_tag(before + after)
        if related(tag, home):
            continue
        label = node_label(i, node)
        crossed = crossed_entries(tag, home)
        if crossed:
            issues.append(Issue(
                "cross-layer",
                f"node {label!r} ({node.op_type}) is tagged {tag} ({crossed[0]}) but all its "
                f"data flows within {home} ({crossed[1]})", label, tag))
        else:
            issues.append(Issue(
                "unrelated-tag",
                f"node {label!r} ({node.op_type}) is tagged {tag} but all its data flows "
                f"within the unrelated module {home}", label, tag))
    return issues


def validate_model(model: onnx.ModelProto, check_consistency: bool = False) -> Validation:
    """Check ``model`` with onnx.checker and against the hierarchy-tag rules."""
    index = GraphIndex.of(model)
    tree = recorded_tree(model)
    report = Validation(
        node_count=len(index.nodes),
        tagged_nodes=sum(t is not None for t in index.tags),
        checker_passed=True,
        tree_recorded=tree is not None,
        consistency_checked=check_consistency,
    )
    failure = run_checker(model)
    if failure:
        report.checker_passed = False
        report.issues.append(Issue("checker", f"onnx.checker: {failure}"))

    known = {normalize_tag(str(e.get("tag", ""))) for e in tree} if tree is not None else None
    if known is None:
        report.notes.append("module tree not recorded in the model metadata "
                            "('modelexport.module_tree'): tags not checked against it")
    for i, (node, tag) in enumerate(zip(index.nodes, index.tags, strict=True)):
        label = node_label(i, node)
        if tag is None:
            report.issues.append(Issue(
                "untagged", f"node {label!r} ({node.op_type}) has no hierarchy tag", label))
        elif not _raw_tag(node).startswith("/"):
            report.issues.append(Issue(
                "bad-tag", f"node {label!r} has tag {_raw_tag(node)!r}, not a /-rooted "
                "module path", label, tag))
        elif known is not None and tag not in known:
            report.issues.append(Issue(
                "unknown-module", f"node {label!r} ({node.op_type}) is tagged {tag}, which "
                "is not a module of the recorded module tree", label, tag))
    tags = set(index.tags)
    if known is not None and len(known) > 1 and len(tags) == 1 and None not in tags:
        report.notes.append(f"all {len(index.nodes)} nodes carry the one tag {tags.pop()} "
                            f"although the module tree has {len(known)} modules: the "
                            "hierarchy was probably lost on export")
    if check_consistency:
        report.issues.extend(_consistency_issues(index))
    return report


def _raw_tag(node: onnx.NodeProto) -> str:
    return (node_tag(node) or "").strip()


@dataclass
class Repair:
    model: onnx.ModelProto
    repaired: dict[str, str]  # node label → the tag it was given
    root: str


def repair_tags(model: onnx.ModelProto) -> Repair:
    """A copy of ``model`` in which every untagged node got a tag by the SPEC §5 rule."""
    index = GraphIndex.of(model)
    tree = recorded_tree(model)
    present = [t for t in index.tags if t is not None]
    if tree:
        root = normalize_tag(str(tree[0].get("tag", "/")))
    elif present:
        root = common_tag(sorted(set(present)))
    else:
        raise AnalysisError(
            "no node is tagged and no module tree is recorded, so there is nothing to "
            "repair from; export the model with 'modelexport export'"
        )
    filled = fill_missing_tags(index.nodes, index.tags, root, graph_boundary(model.graph))
    by_tag = {normalize_tag(str(e.get("tag", ""))): e for e in tree or []}
    fixed = onnx.ModelProto()
    fixed.CopyFrom(model)
    repaired: dict[str, str] = {}
    for i, (node, before, after) in enumerate(
        zip(fixed.graph.node, index.tags, filled, strict=True)
    ):
        if before is not None:
            continue
        for key in (TAG_KEY, MODULE_PATH_KEY, MODULE_CLASS_KEY):
            for j in reversed(range(len(node.metadata_props))):
                if node.metadata_props[j].key == key:
                    del node.metadata_props[j]
        entry = by_tag.get(after, {})
        props = {TAG_KEY: after, MODULE_PATH_KEY: entry.get("path"),
                 MODULE_CLASS_KEY: entry.get("class")}
        for key, value in props.items():
            if value is not None:
                node.metadata_props.add(key=key, value=str(value))
        repaired[node_label(i, node)] = after
    return Repair(fixed, repaired, root)
