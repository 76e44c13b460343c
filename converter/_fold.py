"""The fold itself, in memory: a tagged ModelProto's modules as local functions, and back.

:func:`fold_proto` collapses the chosen modules bottom-up into calls, shares bodies
that are the same up to value names, and records what :func:`unfold_proto` needs to
give back the original; :func:`inline_functions` is onnx's inliner for function models
fold did not make. No files here: :mod:`modelexport.converter.functions` reads and
writes them (and hashes the bytes the record names).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import onnx
from onnx import AttributeProto, FunctionProto, GraphProto, ModelProto, NodeProto

from modelexport.converter.errors import FoldError
from modelexport.converter.tags import (
    MODULE_CLASS_KEY,
    MODULE_PATH_KEY,
    TAG_KEY,
    lineage,
    module_tree,
    node_tag,
    normalize_tag,
    parent_tag,
)
from modelexport.graphml import format as fmt

#: The domain of fold's functions, with its own opset_import entry.
DOMAIN = fmt.FUNCTION_DOMAIN
DOMAIN_VERSION = 1
#: Model metadata key holding what unfold needs.
RECORD_KEY = "modelexport.fold"
RECORD_FORMAT = 1
#: Node metadata_props inside FunctionProto need IR 10.
FUNCTION_IR = 10



@dataclass
class FoldResult:
    """What :func:`fold_modules` made."""

    output: Path | None
    model: Any  # the folded ModelProto when the input was one, else None
    nodes_before: int
    nodes_after: int  # nodes of the main graph
    calls: int  # folded module instances, nested ones included
    functions: list[str]  # one per distinct body
    unfolded: list[str] = field(default_factory=list)  # modules left as ops, with why
    bytes_before: int = 0
    bytes_after: int = 0
    notes: list[str] = field(default_factory=list)


@dataclass
class UnfoldResult:
    """What :func:`unfold_modules` made; ``exact`` when it is fold's input byte for byte."""

    output: Path | None
    model: Any
    nodes: int
    exact: bool
    notes: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- subgraph helpers

def _subgraphs(node: NodeProto) -> Iterator[GraphProto]:
    for attr in node.attribute:
        if attr.type == AttributeProto.GRAPH:
            yield attr.g
        elif attr.type == AttributeProto.GRAPHS:
            yield from attr.graphs


def _free_names(graph: GraphProto) -> list[str]:
    """Names a subgraph reads from outside itself, in order of first use."""
    local = {v.name for v in graph.input} | {t.name for t in graph.initializer}
    local |= {s.values.name for s in graph.sparse_initializer}
    free: dict[str, None] = {}
    for node in graph.node:
        for name in node.input:
            if name and name not in local:
                free[name] = None
        for sub in _subgraphs(node):
            for name in _free_names(sub):
                if name not in local:
                    free[name] = None
        local.update(node.output)
    for out in graph.output:
        if out.name not in local:
            free[out.name] = None
    return list(free)


def _rename_free(graph: GraphProto, names: dict[str, str]) -> None:
    """Rename, in place, the names ``graph`` reads from outside itself."""
    local = {v.name for v in graph.input} | {t.name for t in graph.initializer}
    local |= {s.values.name for s in graph.sparse_initializer}
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name and name not in local and name in names:
                node.input[i] = names[name]
        subs = list(_subgraphs(node))
        if subs:
            inner = {k: v for k, v in names.items() if k not in local}
            for sub in subs:
                _rename_free(sub, inner)
        local.update(node.output)
    for out in graph.output:
        if out.name not in local and out.name in names:
            out.name = names[out.name]


def _local_names(graph: GraphProto) -> Iterator[str]:
    """Every name a subgraph defines, its own subgraphs' included."""
    yield from (v.name for v in graph.input)
    yield from (t.name for t in graph.initializer)
    for node in graph.node:
        yield from node.output
        for sub in _subgraphs(node):
            yield from _local_names(sub)


#: The names values get inside a body: inputs x0 …, outputs y0 …, inner values t0 ….
_CANONICAL = re.compile(r"[xyt][0-9]+")


def _node_reads(node: NodeProto) -> list[str]:
    """A node's inputs, then what its subgraphs read from outside (If/Loop/Scan)."""
    reads = list(node.input)
    for sub in _subgraphs(node):
        reads.extend(n for n in _free_names(sub) if n not in reads)
    return reads


def _renamed(node: NodeProto, names: dict[str, str]) -> NodeProto:
    """A copy of ``node`` with inputs, outputs and outside reads of subgraphs renamed."""
    copy = NodeProto()
    copy.CopyFrom(node)
    for i, name in enumerate(copy.input):
        copy.input[i] = names.get(name, name)
    for i, name in enumerate(copy.output):
        copy.output[i] = names.get(name, name)
    for sub in _subgraphs(copy):
        _rename_free(sub, names)
    return copy


def _domains(nodes: Any, found: set[str]) -> set[str]:
    for node in nodes:
        found.add(node.domain if node.domain != "ai.onnx" else "")
        for sub in _subgraphs(node):
            _domains(sub.node, found)
    return found


def _props(node: Any) -> list[tuple[str, str]]:
    return [(p.key, p.value) for p in node.metadata_props]


def _set_props(node: Any, pairs: list[tuple[str, str]] | list[list[str]]) -> None:
    del node.metadata_props[:]
    for key, value in pairs:
        entry = node.metadata_props.add()
        entry.key, entry.value = key, value


# ---------------------------------------------------------------- the fold itself

class _Folder:
    """One fold of one graph: items (original nodes, then calls) collapsed bottom-up."""

    def __init__(self, model: ModelProto, classes: list[str], depth: int | None) -> None:
        graph = model.graph
        self.model = model
        self.nodes = list(graph.node)
        tags = [normalize_tag(node_tag(n)) for n in self.nodes]
        untagged = [n for n, t in zip(self.nodes, tags, strict=True) if t is None]
        if untagged and len(untagged) == len(self.nodes):
            raise FoldError("the model has no hierarchy tags (no node carries "
                            f"'{TAG_KEY}' in its metadata_props); fold needs a tagged model: "
                            "export it with `modelexport export`")
        if untagged:
            raise FoldError(f"node {untagged[0].name!r} has no hierarchy tag ({len(untagged)} "
                            "untagged in all); tag every node first: `modelexport validate "
                            "IN.onnx --repair`")
        self.tags: list[str] = tags  # type: ignore[assignment]
        tree = {e["tag"]: e for e in (module_tree(model) or []) if isinstance(e, dict)}
        modules: dict[str, None] = {}
        for tag in dict.fromkeys(self.tags):
            for t in lineage(tag):
                modules[t] = None
        self.info = {t: (tree.get(t, {}).get("class") or t.rsplit("/", 1)[-1].split(".")[0],
                         tree.get(t, {}).get("path")) for t in modules}
        self.children: dict[str, list[str]] = {}
        for t in modules:
            self.children.setdefault(parent_tag(t) or "/", []).append(t)
        known = {cls for cls, _ in self.info.values()}
        unknown = [c for c in classes if c not in known]
        if unknown:
            raise FoldError(f"class {unknown[0]!r} is not a module class of this model; "
                            f"known classes: {', '.join(sorted(known))}")
        if depth is not None and depth < 0:
            raise FoldError(f"depth {depth} is negative; give 2 or more (top-level modules "
                            "are at depth 1)")
        # a top-level module holding every op is the graph itself: folded only by --class
        tops = {lineage(t)[0] for t in dict.fromkeys(self.tags) if t != "/"}
        whole = next(iter(tops)) if len(tops) == 1 and "/" not in self.tags else None

        def chosen(tag: str) -> bool:
            if depth is not None and len(lineage(tag)) > depth:
                return False
            return self.info[tag][0] in classes if classes else tag != whole

        first: dict[str, int] = {}
        for i, tag in enumerate(self.tags):
            if tag not in first:
                for t in lineage(tag):
                    first.setdefault(t, i)
        self.chosen = sorted((t for t in modules if chosen(t)),
                             key=lambda t: (-t.count("/"), first[t]))
        if not self.chosen:
            raise FoldError(f"no module to fold down to depth {depth}: {whole or 'the root'} "
                            "(depth 1) holds the whole graph; give --depth 2 or more")

        self.graph_outputs = {o.name for o in graph.output}
        # items: 0..N-1 the original nodes, then calls as they are made
        self.protos: list[NodeProto] = list(self.nodes)
        self.reads: list[list[str]] = [_node_reads(n) for n in self.nodes]
        self.writes: list[list[str]] = [list(n.output) for n in self.nodes]
        self.records: dict[int, dict[str, Any]] = {}
        self.slot = list(range(len(self.nodes)))
        self.order: list[int | None] = list(range(len(self.nodes)))
        self.consumers: dict[str, list[int]] = {}
        for i in range(len(self.nodes)):
            for name in self.reads[i]:
                if name:
                    self.consumers.setdefault(name, []).append(i)
        self.owned: dict[str, list[int]] = {}
        for i, tag in enumerate(self.tags):
            self.owned.setdefault(tag, []).append(i)
        self.functions: dict[tuple[str, bytes], FunctionProto] = {}  # (class, body key)
        self.names_by_class: dict[str, int] = {}
        self.function_order: list[FunctionProto] = []
        self.unfolded: list[str] = []
        self.calls = 0
        self.opsets = {o.domain if o.domain != "ai.onnx" else "": o.version
                       for o in model.opset_import}

    def run(self) -> None:
        for tag in self.chosen:
            self._collapse(tag)

    def _gather(self, tag: str) -> list[int]:
        items, todo = [], [tag]
        while todo:
            t = todo.pop()
            items.extend(self.owned.pop(t, ()))
            todo.extend(self.children.get(t, ()))
        return items

    def _collapse(self, tag: str) -> None:
        items = self._gather(tag)
        if not items:
            return
        inside = set(items)
        slots = sorted(self.slot[i] for i in items)
        lo, hi = slots[0], slots[-1]
        # what depends on the module, between its first and last item: after the call
        later: set[int] = set()
        todo = [c for i in items for v in self.writes[i] if v
                for c in self.consumers.get(v, ()) if c not in inside]
        while todo:
            x = todo.pop()
            if x in later or self.slot[x] > hi:
                continue
            later.add(x)
            for v in self.writes[x]:
                for c in self.consumers.get(v, ()) if v else ():
                    if c in inside:
                        self.unfolded.append(
                            f"{tag}: not folded, its collapse would make a cycle (op "
                            f"{self._label(c)} reads what op {self._label(x)} outside it "
                            "computes from its results); its ops stay in the module above")
                        self.owned[parent_tag(tag) or "/"] = \
                            self.owned.get(parent_tag(tag) or "/", []) + items
                        return
                    todo.append(c)
        if any(_CANONICAL.fullmatch(name) for i in items for sub in _subgraphs(self.protos[i])
               for name in _local_names(sub)):
            self.unfolded.append(f"{tag}: not folded, a subgraph of its ops defines a name "
                                 "like those a function body gives its values (x0, y0, t0)")
            self.owned.setdefault(parent_tag(tag) or "/", []).extend(items)
            return
        if not any(v for i in items for v in self.writes[i]):
            self.unfolded.append(f"{tag}: not folded, it computes nothing")
            self.owned.setdefault(parent_tag(tag) or "/", []).extend(items)
            return
        body = sorted(items, key=lambda i: self.slot[i])
        call = self._make_call(tag, body, inside)
        # the span [lo, hi]: independent items, the call, then what depends on it
        span = [x for x in self.order[lo:hi + 1] if x is not None and x not in inside]
        before = [x for x in span if x not in later]
        after = [x for x in span if x in later]
        arranged: list[int | None] = [*before, call, *after]
        arranged += [None] * (hi + 1 - lo - len(arranged))
        self.order[lo:hi + 1] = arranged
        for k, x in enumerate(arranged):
            if x is not None:
                self.slot[x] = lo + k
        self.owned.setdefault(tag, []).append(call)

    def _label(self, item: int) -> str:
        return repr(self.protos[item].name or self.protos[item].op_type)

    def _make_call(self, tag: str, body: list[int], inside: set[int]) -> int:
        produced: list[str] = []
        for i in body:
            produced.extend(v for v in self.writes[i] if v)
        own = set(produced)
        inputs: dict[str, None] = {}
        for i in body:
            for v in self.reads[i]:
                if v and v not in own:
                    inputs[v] = None
        escaping = [v for v in produced if v in self.graph_outputs
                    or any(c not in inside for c in self.consumers.get(v, ()))]
        esc = set(escaping)
        inner = [v for v in produced if v not in esc]
        names = {v: f"x{k}" for k, v in enumerate(inputs)}
        names.update({v: f"y{k}" for k, v in enumerate(escaping)})
        names.update({v: f"t{k}" for k, v in enumerate(inner)})
        cls, path = self.info[tag]
        key = hashlib.sha256()
        key.update(f"{len(inputs)}/{len(escaping)}/".encode())
        for i in body:
            key.update(_body_key(self.protos[i], names))
        function = self.functions.get((cls, key.digest()))
        if function is None:
            nodes = [_renamed(self.protos[i], names) for i in body]
            function = self._new_function(cls, nodes, len(inputs), len(escaping))
            self.functions[(cls, key.digest())] = function
        record: dict[str, Any] = {"v": inner, "b": []}
        for i, shared in zip(body, function.node, strict=True):
            if i in self.records:
                record["b"].append(self.records.pop(i))
            else:
                record["b"].append(_node_entry(i, self.protos[i], shared))
        node = onnx.helper.make_node(function.name, list(inputs), escaping, name=tag,
                                     domain=DOMAIN)
        _set_props(node, [(TAG_KEY, tag), (MODULE_PATH_KEY, path or ""),
                          (MODULE_CLASS_KEY, cls)] if path is not None
                   else [(TAG_KEY, tag), (MODULE_CLASS_KEY, cls)])
        call = len(self.protos)
        self.protos.append(node)
        self.reads.append(list(inputs))
        self.writes.append(escaping)
        self.slot.append(-1)  # placed by the caller
        self.records[call] = record
        self.calls += 1
        for v in inner:
            self.consumers.pop(v, None)
        for v in inputs:
            self.consumers[v] = [c for c in self.consumers.get(v, ()) if c not in inside] + [call]
        return call

    def _new_function(self, cls: str, nodes: list[NodeProto], n_inputs: int,
                      n_outputs: int) -> FunctionProto:
        count = self.names_by_class.get(cls, 0)
        self.names_by_class[cls] = count + 1
        proto = FunctionProto()
        proto.name = cls if count == 0 else f"{cls}_{count}"
        proto.domain = DOMAIN
        proto.input.extend(f"x{k}" for k in range(n_inputs))
        proto.output.extend(f"y{k}" for k in range(n_outputs))
        proto.node.extend(nodes)
        for domain in sorted(_domains(nodes, set())):
            version = DOMAIN_VERSION if domain == DOMAIN else self.opsets.get(domain, 1)
            proto.opset_import.add(domain=domain, version=version)
        self.function_order.append(proto)
        return proto


def _body_key(node: NodeProto, names: dict[str, str]) -> bytes:
    """What makes a node the same as another in a body: op, domain, attributes and wiring
    with values renamed by ``names``; never its name, doc string or metadata."""
    if any(True for _ in _subgraphs(node)):
        attributes = _renamed(node, names).attribute
    else:
        attributes = node.attribute
    wiring = "\0".join([node.domain, node.op_type, node.overload, *(
        names.get(v, v) for v in node.input), "->", *(names.get(v, v) for v in node.output)])
    data = wiring.encode() + b"".join(a.SerializeToString(deterministic=True)
                                      for a in attributes)
    return len(data).to_bytes(8, "little") + data


def _node_entry(index: int, original: NodeProto, shared: NodeProto) -> Any:
    """How one inlined node differs from the shared body's: its index alone when only
    its wiring does (restored from the call's names)."""
    diff: dict[str, Any] = {}
    if original.name != shared.name:
        diff["n"] = original.name
    if original.doc_string != shared.doc_string:
        diff["d"] = original.doc_string
    if original.metadata_props == shared.metadata_props:
        return [index, diff] if diff else index
    mine, theirs = _props(original), _props(shared)
    if mine != theirs:
        if [k for k, _ in mine] == [k for k, _ in theirs]:
            pairs = enumerate(zip(mine, theirs, strict=True))
            diff["m"] = {str(k): v for k, ((_, v), (_, w)) in pairs if v != w}
        else:
            diff["m"] = mine
    return [index, diff] if diff else index


def _apply_entry(node: NodeProto, diff: dict[str, Any]) -> None:
    if "n" in diff:
        node.name = diff["n"]
    if "d" in diff:
        node.doc_string = diff["d"]
    if "m" in diff:
        if isinstance(diff["m"], dict):
            for k, value in diff["m"].items():
                node.metadata_props[int(k)].value = value
        else:
            _set_props(node, diff["m"])


def fold_proto(model: ModelProto, classes: list[str], depth: int | None,
          original_sha: str) -> tuple[ModelProto, FoldResult]:
    if any(p.key == RECORD_KEY for p in model.metadata_props):
        raise FoldError("the model is already folded (it has 'modelexport.fold' metadata); "
                        "unfold it first")
    if any(o.domain == DOMAIN for o in model.opset_import):
        raise FoldError(f"the model already uses the domain {DOMAIN!r}; fold cannot add its "
                        "functions there")
    folder = _Folder(model, classes, depth)
    folder.run()
    if not folder.calls:
        raise FoldError("no module could be folded: " + "; ".join(folder.unfolded))
    graph = model.graph
    main = [x for x in folder.order if x is not None]
    entries: list[Any] = [folder.records[x] if x in folder.records else x for x in main]
    visible = {v.name for v in graph.input} | {v.name for v in graph.output}
    visible |= {t.name for t in graph.initializer}
    for x in main:
        visible.update(folder.reads[x])
        visible.update(folder.writes[x])
    kept: list[Any] = []
    value_info: list[Any] = []
    for vi in graph.value_info:
        if vi.name in visible:
            value_info.append(len(kept))
            kept.append(vi)
        else:
            value_info.append(base64.b64encode(vi.SerializeToString()).decode("ascii"))
    record = {"g": entries, "vi": value_info, "ir_version": model.ir_version,
              "opsets": len(model.opset_import), "functions": len(model.functions),
              "nodes": len(folder.nodes)}
    folded = ModelProto()
    folded.CopyFrom(model)
    fgraph = folded.graph
    del fgraph.node[:]
    fgraph.node.extend(folder.protos[x] for x in main)
    del fgraph.value_info[:]
    fgraph.value_info.extend(kept)
    folded.ir_version = max(model.ir_version, FUNCTION_IR)
    folded.opset_import.add(domain=DOMAIN, version=DOMAIN_VERSION)
    folded.functions.extend(folder.function_order)
    entry = folded.metadata_props.add()
    entry.key = RECORD_KEY
    entry.value = json.dumps({
        "format": RECORD_FORMAT, "sha256": original_sha,
        "record": base64.b64encode(zlib.compress(
            json.dumps(record, separators=(",", ":")).encode(), 6)).decode("ascii"),
    }, separators=(",", ":"))
    result = FoldResult(None, None, len(folder.nodes), len(main), folder.calls,
                        [f.name for f in folder.function_order], folder.unfolded)
    return folded, result


def unfold_result(output: Path | None, model: ModelProto, exact: bool) -> UnfoldResult:
    notes = [] if exact else [
        "the result is not byte-exact: the folded model was changed after fold (its "
        "bytes differ from what fold recorded)"]
    return UnfoldResult(output, None, len(model.graph.node), exact, notes)


def inline_functions(model: ModelProto) -> tuple[ModelProto, UnfoldResult]:
    if not len(model.functions):
        raise FoldError("the model has no local functions and no fold record: there is "
                        "nothing to unfold")
    import onnx.inliner

    try:
        inlined = onnx.inliner.inline_local_functions(model)
    except Exception as e:  # onnx's C++ inliner raises plain RuntimeErrors
        raise FoldError(f"onnx's inliner failed on the model's functions: {e}") from e
    note = ("the model was not folded by modelexport: its functions were inlined with "
            "onnx.inliner; the result is not byte-exact")
    return inlined, UnfoldResult(None, None, len(inlined.graph.node), False, [note])


def unfold_proto(model: ModelProto, text: str) -> tuple[ModelProto, str]:
    try:
        head = json.loads(text)
        if head.get("format") != RECORD_FORMAT:
            raise FoldError(f"the fold record has format {head.get('format')!r}; this version "
                            f"reads format {RECORD_FORMAT}")
        record = json.loads(zlib.decompress(base64.b64decode(head["record"])))
    except (ValueError, KeyError, TypeError, zlib.error) as e:
        raise FoldError(f"the model's {RECORD_KEY!r} metadata cannot be read: {e}") from e
    functions = {f.name: f for f in model.functions if f.domain == DOMAIN}
    out: list[NodeProto | None] = [None] * record["nodes"]

    def inline(call: NodeProto, rec: dict[str, Any]) -> None:
        function = functions.get(call.op_type)
        if function is None or len(rec["b"]) != len(function.node):
            raise FoldError(f"call {call.name!r} does not match its function "
                            f"{call.op_type!r}; the folded model was changed")
        names = dict(zip(function.input, call.input, strict=True))
        names.update(zip(function.output, call.output, strict=True))
        names.update((f"t{k}", v) for k, v in enumerate(rec["v"]))
        for shared, entry in zip(function.node, rec["b"], strict=True):
            node = _renamed(shared, names)
            if isinstance(entry, dict):
                inline(node, entry)
                continue
            index, diff = (entry, None) if isinstance(entry, int) else entry
            if diff:
                _apply_entry(node, diff)
            out[index] = node

    try:
        for node, entry in zip(model.graph.node, record["g"], strict=True):
            if isinstance(entry, dict):
                inline(node, entry)
            else:
                out[entry] = node
    except (ValueError, IndexError, KeyError, TypeError) as e:
        raise FoldError(f"the fold record does not match the model ({e}); the folded model "
                        "was changed after fold") from e
    if any(n is None for n in out):
        raise FoldError("the fold record does not match the model: some original nodes are "
                        "missing; the folded model was changed after fold")
    restored = ModelProto()
    restored.CopyFrom(model)
    graph = restored.graph
    del graph.node[:]
    graph.node.extend(out)  # type: ignore[arg-type]
    kept = list(model.graph.value_info)
    value_info = []
    for entry in record["vi"]:
        if isinstance(entry, int):
            value_info.append(kept[entry])
        else:
            vi = onnx.ValueInfoProto()
            vi.ParseFromString(base64.b64decode(entry))
            value_info.append(vi)
    del graph.value_info[:]
    graph.value_info.extend(value_info)
    restored.ir_version = record["ir_version"]
    del restored.opset_import[record["opsets"]:]
    del restored.functions[record["functions"]:]
    keep = [(p.key, p.value) for p in restored.metadata_props if p.key != RECORD_KEY]
    _set_props(restored, keep)
    return restored, head["sha256"]
