"""Where hierarchy tags live in an ONNX model: the one place that names the keys.

The exporter (``modelexport``) writes them, the converters and the analysis commands
read them. A tag is a module path written with class names from the root, e.g.
``/Model/Stack.0/Block``; see SPEC §5.

Per node, in ``NodeProto.metadata_props``:
    ``hierarchy_tag``   the tag
    ``module_path``     the dotted module path (``layers.0.mlp``; ``""`` for the root)
    ``module_class``    the module's class name

Per model, in ``ModelProto.metadata_props``:
    ``modelexport.module_tree``   JSON list of modules, each
                                  ``{"tag", "path", "class", "parent", "parameters"}``
                                  (parent: a tag or ``null``; parameters: the elements
                                  the module owns, as PyTorch counts them), root first,
                                  in module order
    ``modelexport.strategy``      the strategy that produced the tags

Older files kept the tag as JSON in ``NodeProto.doc_string``
(``{"hierarchy_tag": "/Model/Layer.0", ...}``); :func:`node_tag` reads that form too.

It is also the one vocabulary for tags themselves (:func:`normalize_tag`,
:func:`lineage`, :func:`within`, :func:`related`, :func:`parent_tag`,
:func:`common_tag`, :func:`resolve_tag` for the tag a user typed), for the module
stacks ``torch.onnx.export(..., dynamo=True)`` records per node
(:func:`torch_module_stack`, the only parser of them), for which classes are torch's
own building blocks (:func:`is_builtin_class`), and for the rule that tags nodes
nobody recorded (:func:`fill_missing_tags`).
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterable, Mapping
from typing import Any

from modelexport.graphml.format import resolve_tag as resolve_tag  # re-exported
from modelexport.graphml.format import tag_within as within

TAG_KEY = "hierarchy_tag"
MODULE_PATH_KEY = "module_path"
MODULE_CLASS_KEY = "module_class"
MODULE_TREE_KEY = "modelexport.module_tree"
STRATEGY_KEY = "modelexport.strategy"
#: Model metadata the exporter writes: JSON ``{initializer: [[module tag, parameter
#: elements, parameter name], ...]}``, the parameters each initializer holds (several
#: when the exporter merged equal parameters into one initializer; files written before
#: the name was recorded hold pairs). An entry whose initializer holds the parameter
#: transposed (a Linear weight the exporter pre-transposed) has a fourth member,
#: :data:`TRANSPOSED`.
PARAMETER_OWNERS_KEY = "modelexport.parameter_owners"
TRANSPOSED = "transposed"
#: How a parameter's name is shown when its initializer holds it transposed.
TRANSPOSED_MARK = "\u1d40"

#: The root of every hierarchy; not a module, the graph itself.
ROOT = "/"

#: Node metadata the dynamo exporter writes: module paths (root first, then the node's
#: own FX name), their qualified classes, and both in one ``path: class/...`` string.
NAME_SCOPES_KEY = "pkg.torch.onnx.name_scopes"
CLASS_HIERARCHY_KEY = "pkg.torch.onnx.class_hierarchy"
NAMESPACE_KEY = "namespace"

#: Module classes defined in these packages are torch's building blocks (Linear,
#: LayerNorm, containers), which SPEC §5 leaves out of tags.
_BUILTIN_PACKAGE = "torch.nn"


def parameter_names(props: Mapping[str, str]) -> dict[str, list[str]]:
    """The parameter names each initializer holds, as the export recorded them in the
    model metadata ``props`` (key :data:`PARAMETER_OWNERS_KEY`), a name held transposed
    marked with :data:`TRANSPOSED_MARK` (``q_proj.weightᵀ``); ``{}`` when it recorded
    none or the record is not readable (names are for display: never an error)."""
    try:
        data = json.loads(props.get(PARAMETER_OWNERS_KEY) or "{}")
        return {str(init): [str(entry[2]) + (TRANSPOSED_MARK if entry[3:] == [TRANSPOSED]
                                             else "")
                            for entry in held if len(entry) > 2]
                for init, held in data.items() if any(len(entry) > 2 for entry in held)}
    except (ValueError, TypeError, AttributeError, IndexError):
        return {}


def normalize_tag(tag: str | None) -> str | None:
    """``/A/B/`` → ``/A/B``; ``""`` and ``"/"`` → ``"/"``; surrounding blanks and empty
    segments dropped; None stays None."""
    if tag is None:
        return None
    parts = [p for p in tag.strip().split("/") if p]
    return "/" + "/".join(parts) if parts else ROOT


def lineage(tag: str) -> list[str]:
    """The modules from the outermost down to ``tag`` itself: ``/A/B`` → ``["/A", "/A/B"]``.

    The root ``/`` is the graph, not a module: it is in no lineage (``lineage("/")`` is
    empty).
    """
    parts = [p for p in tag.split("/") if p]
    return ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]


def parent_tag(tag: str) -> str | None:
    """``/A/B`` → ``/A``; a top-level module (``/A``) and the root have no parent."""
    head = tag.rstrip("/").rsplit("/", 1)[0]
    return head or None


def related(a: str, b: str) -> bool:
    """True when one tag is the other, an ancestor of it, or a descendant of it."""
    return within(a, b) or within(b, a)


def is_builtin_class(qualified_name: str) -> bool:
    """True for a class (``package.module.Class``) that ``torch.nn`` itself defines."""
    package = qualified_name.rpartition(".")[0]
    return package == _BUILTIN_PACKAGE or package.startswith(_BUILTIN_PACKAGE + ".")


def torch_module_stack(props: Mapping[str, str]) -> list[tuple[str, str | None]] | None:
    """The module stack the dynamo exporter recorded on a node, from its metadata.

    ``[(dotted module path, qualified class), ...]`` from the root module down, the
    node's own entry (its FX name and target) left out, built-in modules kept; ``[]``
    when only the node's own entry is there; None when nothing usable is recorded.
    Read from ``pkg.torch.onnx.name_scopes`` with ``pkg.torch.onnx.class_hierarchy``,
    else from ``namespace``, else from the name scopes alone (classes then None).
    """
    scopes, classes = _literal(props.get(NAME_SCOPES_KEY)), _literal(props.get(CLASS_HIERARCHY_KEY))
    stack: list[tuple[str, str | None]] | None = None
    if isinstance(scopes, list) and isinstance(classes, list) and len(scopes) == len(classes):
        stack = [(str(s), str(c)) for s, c in zip(scopes, classes, strict=True)]
    elif props.get(NAMESPACE_KEY):
        stack = []
        for part in props[NAMESPACE_KEY].split("/"):
            name, sep, cls = part.partition(": ")
            if not sep:
                stack = None
                break
            stack.append((name, cls))
    if stack is None and isinstance(scopes, list):
        stack = [(str(s), None) for s in scopes]
    return stack[:-1] if stack else None


def _literal(text: str | None) -> Any:
    if not text:
        return None
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return None


def metadata(proto: Any) -> dict[str, str]:
    """A NodeProto's or ModelProto's ``metadata_props`` as a dict."""
    return {p.key: p.value for p in proto.metadata_props}


def node_tag(node: Any) -> str | None:
    """The hierarchy tag recorded on an ONNX NodeProto, or None when it has none."""
    for prop in node.metadata_props:
        if prop.key == TAG_KEY:
            return prop.value or None
    doc = node.doc_string
    if doc.startswith("{"):
        try:
            record = json.loads(doc)
        except ValueError:
            return None
        if isinstance(record, dict) and isinstance(record.get(TAG_KEY), str):
            return record[TAG_KEY] or None
    return None


def module_tree(model: Any) -> list[dict[str, Any]] | None:
    """The module tree recorded on an ONNX ModelProto, or None when it has none."""
    text = metadata(model).get(MODULE_TREE_KEY)
    if text is None:
        return None
    tree = json.loads(text)
    if not isinstance(tree, list):
        raise ValueError(f"model metadata {MODULE_TREE_KEY!r} is not a JSON list")
    return tree


def common_tag(tags: list[str]) -> str:
    """The deepest tag that contains every one of ``tags`` (``/A/B/C``, ``/A/B/D`` → ``/A/B``)."""
    parts = [t.strip("/").split("/") for t in tags]
    common: list[str] = []
    for segment in zip(*parts, strict=False):  # up to the shortest tag
        if any(s != segment[0] for s in segment):
            break
        common.append(segment[0])
    return "/" + "/".join(common) if common else "/"


def graph_boundary(graph: Any) -> set[str]:
    """The names of a GraphProto's inputs and outputs: where data enters and leaves the root."""
    return {v.name for v in graph.input} | {v.name for v in graph.output}


def fill_missing_tags(nodes: Any, tags: list[str | None], root: str,
                      boundary: Iterable[str] = ()) -> list[str]:
    """Give every untagged node the deepest module containing all its neighbours' tags.

    ``nodes`` are NodeProtos in graph order and ``tags[i]`` the tag of ``nodes[i]`` or
    None. A node's neighbours are the producers of its inputs *and* the consumers of its
    outputs; ``boundary`` names the graph's inputs and outputs, made and used at
    ``root``, so a node reading an input or writing an output has ``root`` for a
    neighbour. Only known tags are ever used: untagged nodes that feed one another form a
    run, and every node of a run gets the deepest module containing the known tags
    around the whole run (its tagged producers and consumers), so a run that crosses a
    module boundary lands in a module containing both sides, never in one side. A run
    with no tagged neighbour at all gets ``root``. This is the SPEC §5 rule; it does
    not depend on node order and knows nothing of names or op types.
    """
    producer: dict[str, int] = {}
    consumers: dict[str, list[int]] = {}
    for i, node in enumerate(nodes):
        for name in node.output:
            if name:
                producer[name] = i
        for name in node.input:
            if name:
                consumers.setdefault(name, []).append(i)

    outside = set(boundary)

    def neighbours(i: int) -> list[int]:
        node = nodes[i]
        near = [producer[n] for n in node.input if n in producer]
        for name in node.output:
            near.extend(consumers.get(name, ()))
        return near

    def touches_boundary(i: int) -> bool:
        node = nodes[i]
        return any(n in outside for n in node.input) or any(n in outside for n in node.output)

    result = list(tags)
    seen: set[int] = set()
    for start, tag in enumerate(tags):
        if tag is not None or start in seen:
            continue
        run, around, todo = [], set(), [start]
        seen.add(start)
        while todo:
            i = todo.pop()
            run.append(i)
            if touches_boundary(i):
                around.add(root)
            for j in neighbours(i):
                if tags[j] is not None:
                    around.add(tags[j])
                elif j not in seen:
                    seen.add(j)
                    todo.append(j)
        filled = common_tag(sorted(around)) if around else root
        for i in run:
            result[i] = filled
    return [t if t is not None else root for t in result]


def module_segments(parents: dict[str, str], class_names: dict[str, str]) -> dict[str, str]:
    """The tag segment of each module below its parent (both dotted module paths).

    A segment is the class name plus the container keys crossed on the way down
    (``layer.0`` → ``Layer.0``); siblings whose segments clash are told apart by their
    full relative path (``down.0``, ``up.0`` → ``Block.down.0``, ``Block.up.0``), so
    two module instances never share a tag. The exporter and the converters both use
    this rule, so a model's tags do not depend on who derived them.
    """
    segments: dict[str, str] = {}
    siblings: dict[tuple[str, str], list[str]] = {}
    for path, parent in parents.items():
        relative = path[len(parent) + 1:] if parent else path
        segment = ".".join([class_names[path], *relative.split(".")[1:]])
        segments[path] = segment
        siblings.setdefault((parent, segment), []).append(path)
    for (parent, _), paths in siblings.items():
        if len(paths) > 1:
            for path in paths:
                relative = path[len(parent) + 1:] if parent else path
                segments[path] = f"{class_names[path]}.{relative}"
    return segments
