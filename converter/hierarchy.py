"""The module hierarchy of an ONNX graph: one tag per node, and what each module is.

Where the tags come from, first match wins:

1. ``tags``    our exporter's ``hierarchy_tag`` (:func:`modelexport.converter.tags.node_tag`);
2. ``dynamo``  the module stack ``torch.onnx.export(..., dynamo=True)`` records per
               node (``pkg.torch.onnx.name_scopes`` + ``pkg.torch.onnx.class_hierarchy``,
               or ``namespace``), written as tags the way SPEC §5 spells them;
3. ``scopes``  TorchScript-style scoped node names: ``/layers.0/mlp/MatMul`` lies in
               the module ``/layers.0/mlp``;
4. ``none``    no hierarchy: every node at the root.

With a source found, nodes it says nothing about get the deepest module containing
their neighbours' tags (:func:`modelexport.converter.tags.fill_missing_tags`). The root is ``"/"``.
Nothing here looks at op types or model families.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from modelexport.converter import tags as _tags
from modelexport.converter.tags import ROOT, lineage, normalize_tag


@dataclass
class ModuleInfo:
    """What is known of one module: its dotted path and class, and the parameter
    elements it owns as PyTorch counts them (the exporter's module tree), when recorded."""

    path: str | None = None
    cls: str | None = None
    parameters: int | None = None


@dataclass
class Hierarchy:
    """Tags of a graph's nodes (``"/"`` = root) and the modules they name."""

    source: str  # "tags" | "dynamo" | "scopes" | "none"
    node_tags: list[str]
    modules: dict[str, ModuleInfo] = field(default_factory=dict)


# -- source 1: our tags -------------------------------------------------------------


def _from_tags(model: Any, nodes: Sequence[Any]) -> tuple[list[str | None], dict[str, ModuleInfo]]:
    found: list[str | None] = [normalize_tag(_tags.node_tag(n)) for n in nodes]
    modules: dict[str, ModuleInfo] = {}
    try:
        tree = _tags.module_tree(model) or []
    except ValueError:
        tree = []
    # parameter counts only when every module has one (as analyze reads them), summed
    # over entries that share a tag
    counted = bool(tree) and all(isinstance(e, dict) and _is_count(e.get("parameters"))
                                 for e in tree)
    for entry in tree:
        if isinstance(entry, dict) and isinstance(entry.get("tag"), str):
            tag = normalize_tag(entry["tag"])
            info = ModuleInfo(entry.get("path"), entry.get("class"))
            if counted:
                before = modules[tag].parameters if tag in modules else None
                info.parameters = (before or 0) + entry["parameters"]
            modules[tag] = info
    for node, tag in zip(nodes, found, strict=True):
        if tag is None or tag in modules:
            continue
        props = _tags.metadata(node)
        modules[tag] = ModuleInfo(
            props.get(_tags.MODULE_PATH_KEY), props.get(_tags.MODULE_CLASS_KEY)
        )
    return found, modules


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


# -- source 2: the dynamo exporter's module stack -------------------------------------


def _module_stack(node: Any) -> list[tuple[str, str]] | None:
    """The node's recorded module stack without torch's built-in modules, or None."""
    stack = _tags.torch_module_stack(_tags.metadata(node))
    if stack is None or any(cls is None for _, cls in stack):
        return None
    return [(path, cls) for path, cls in stack if not _tags.is_builtin_class(cls)]


def _from_dynamo(nodes: Sequence[Any]) -> tuple[list[str | None], dict[str, ModuleInfo]]:
    stacks = [_module_stack(n) for n in nodes]
    parent_of: dict[str, str | None] = {}
    class_of: dict[str, str] = {}
    for stack in stacks:
        prev: str | None = None
        for path, cls in stack or ():
            if path not in parent_of:
                parent_of[path] = prev
                class_of[path] = cls.rsplit(".", 1)[-1]
            prev = path
    # Modules at the top of a stack (the root) are named by their class alone.
    segment = {path: class_of[path] for path, parent in parent_of.items() if parent is None}
    segment.update(_tags.module_segments(
        {path: parent for path, parent in parent_of.items() if parent is not None}, class_of))
    tag_of: dict[str, str] = {}

    def tag(path: str) -> str:
        if path not in tag_of:
            parent = parent_of[path]
            prefix = tag(parent) if parent is not None else ""
            tag_of[path] = f"{prefix.rstrip('/')}/{segment[path]}"
        return tag_of[path]

    found: list[str | None] = []
    for stack in stacks:
        found.append(tag(stack[-1][0]) if stack else (ROOT if stack == [] else None))
    modules = {tag(p): ModuleInfo(p, class_of[p]) for p in parent_of}
    return found, modules


# -- source 3: scoped node names ----------------------------------------------------


def _from_scopes(nodes: Sequence[Any]) -> tuple[list[str | None], dict[str, ModuleInfo]]:
    found: list[str | None] = []
    modules: dict[str, ModuleInfo] = {}
    for node in nodes:
        name = node.name
        if not name.startswith("/"):
            found.append(None)
            continue
        scope = [p for p in name.split("/")[1:-1] if p]
        tag = "/" + "/".join(scope) if scope else ROOT
        found.append(tag)
        for anc in lineage(tag):
            if anc not in modules:
                modules[anc] = ModuleInfo(".".join(anc.strip("/").split("/")), None)
    return found, modules


def _has_scoped_names(nodes: Sequence[Any]) -> bool:
    return any(n.name.startswith("/") and n.name.count("/") >= 2 for n in nodes)


def derive_hierarchy(model: Any) -> Hierarchy:
    """The hierarchy of ``model.graph``'s nodes, from the first source that has one."""
    nodes = model.graph.node
    found, modules = _from_tags(model, nodes)
    source = "tags"
    if all(t is None for t in found):
        source = "none"
        if any(_module_stack(n) is not None for n in nodes):
            found, modules = _from_dynamo(nodes)
            source = "dynamo"
        elif _has_scoped_names(nodes):
            found, modules = _from_scopes(nodes)
            source = "scopes"
    if source == "none":
        return Hierarchy(source, [ROOT] * len(nodes), {})
    if any(t is None for t in found):
        found = _tags.fill_missing_tags(nodes, found, ROOT, _tags.graph_boundary(model.graph))
    node_tags = [normalize_tag(t) or ROOT for t in found]
    return Hierarchy(source, node_tags, modules)
