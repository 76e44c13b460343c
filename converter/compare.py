"""A module-aware diff of two models (SPEC §12), computed on their GraphML Documents.

Both sides are :class:`modelexport.graphml.Document`\\ s with a map from each sidecar
offset to the SHA-256 of the tensor bytes placed there: for an ONNX file,
:func:`hashed_document` converts it and hashes each tensor as it streams past (the
bytes are never held whole); the archive has both already (its stored Document and the
hashes of its tensor store). One diff, whichever the source.

Matching, never by global names (``val_63`` in one export is ``val_71`` in the next):

* **modules** by tag; where a tag exists on one side only, by class and structure (the
  classes and op types of the whole subtree), so a moved or renamed module is paired
  with its old self (``moved_from``) instead of being removed and added;
* **ops** within a pair of modules by their place in the module's own data flow: a
  fingerprint of op type, attributes and, per input, the fingerprint of its producer in
  the module (or what it is: a graph input, a parameter of some dtype and shape, a
  tensor from another module); ops left over are then matched by the same fingerprint
  taken from the consumers' side, so a replaced op does not make everything after it
  look new;
* **initializers** by the op input they feed (matched ops), then by name, then by
  content: a pair whose SHA-256 differs is a changed parameter, listed in the module
  that owns it (the common module of its consumers, as the converter places it).

A module is ``same``, ``changed`` (ops added or removed, parameters changed, added or
removed: its own, not its children's), ``added`` or ``removed``.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from modelexport.converter.decode import decode_model_header
from modelexport.converter.sidecar import SidecarPlan
from modelexport.converter.tags import ROOT, lineage, parent_tag
from modelexport.graphml import format as fmt
from modelexport.graphml.model import Document, Edge, Graph, Key, Node

SAME, CHANGED, ADDED, REMOVED = "same", "changed", "added", "removed"
STATUSES = (SAME, CHANGED, ADDED, REMOVED)


# -- the result ---------------------------------------------------------------------


@dataclass
class OpRef:
    """One op of A (removed) or B (added): its name and type."""

    name: str
    op_type: str


@dataclass
class ModuleDiff:
    """One module of either model and what differs in it (its own ops and parameters)."""

    tag: str  # B's tag, or A's for a removed module
    status: str  # same, changed, added, removed
    module_class: str | None = None
    moved_from: str | None = None  # A's tag of a module paired by class and structure
    a_ops: int = 0  # its own ops in A and in B
    b_ops: int = 0
    ops_added: list[OpRef] = field(default_factory=list)
    ops_removed: list[OpRef] = field(default_factory=list)
    params_changed: list[str] = field(default_factory=list)  # same input, other values
    params_added: list[str] = field(default_factory=list)
    params_removed: list[str] = field(default_factory=list)

    @property
    def depth(self) -> int:
        """0 for the root ``/``, 1 for a top-level module, ..."""
        return len(lineage(self.tag))


@dataclass
class ModelDiff:
    """What ``compare`` found between model A and model B."""

    modules: list[ModuleDiff]
    a_ops: int
    b_ops: int
    inputs: dict[str, list] = field(default_factory=dict)  # name -> [A type, B type]
    outputs: dict[str, list] = field(default_factory=dict)
    opsets: dict[str, list] = field(default_factory=dict)  # domain -> [A, B] versions
    model: dict[str, list] = field(default_factory=dict)  # ir_version, producer
    depth: int | None = None  # modules below this depth are folded into one entry each
    match: Any = field(default=None, repr=False, compare=False)  # for merged_document

    @property
    def identical(self) -> bool:
        return (all(m.status == SAME and m.moved_from is None for m in self.modules)
                and not (self.inputs or self.outputs or self.opsets))

    def counts(self) -> dict[str, int]:
        """How many modules have each status (every status listed)."""
        found = Counter(m.status for m in self.modules)
        return {status: found[status] for status in STATUSES}

    def module(self, tag: str) -> ModuleDiff:
        """The entry of ``tag`` (B's tag, or A's for a removed module); KeyError if none."""
        for m in self.modules:
            if m.tag == tag:
                return m
        raise KeyError(tag)

    def to_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in asdict(self).items() if k != "match"}
        data["identical"] = self.identical
        data["summary"] = self.counts()
        return data

    def at_depth(self, depth: int) -> ModelDiff:
        """The module-level view ``--depth`` gives, as ``render --depth`` draws it: modules
        below ``depth`` closed, each module at ``depth + 1`` one entry for its subtree
        (``changed`` when anything inside differs, unless it is itself added or removed).
        """
        if depth < 0:
            raise ValueError(f"depth {depth} is negative; give 0 or more (the root is 0)")
        boxes: dict[str, ModuleDiff] = {}
        order: list[str] = []
        for m in self.modules:
            steps = lineage(m.tag)
            key = steps[depth] if len(steps) > depth + 1 else m.tag
            box = boxes.get(key)
            if box is None:
                box = boxes[key] = ModuleDiff(key, m.status if key == m.tag else SAME)
                order.append(key)
            if key == m.tag:
                box.status, box.module_class = m.status, m.module_class
                box.moved_from = m.moved_from
            box.a_ops += m.a_ops
            box.b_ops += m.b_ops
            for name in ("ops_added", "ops_removed", "params_changed", "params_added",
                         "params_removed"):
                getattr(box, name).extend(getattr(m, name))
            if m.status != SAME and box.status == SAME:
                box.status = CHANGED
        return ModelDiff([boxes[k] for k in order], self.a_ops, self.b_ops, self.inputs,
                         self.outputs, self.opsets, self.model, depth, self.match)


# -- hashing while converting ---------------------------------------------------------


class HashingSink(SidecarPlan):
    """A sidecar plan that hashes each tensor as it passes (SHA-256, as the archive's
    tensor store does), keeping only the digests: ``hashes`` maps sidecar offset to hex
    digest. Streamed tensors are hashed a chunk at a time, never held whole."""

    def __init__(self) -> None:
        super().__init__()
        self.hashes: dict[int, str] = {}

    def add(self, data: bytes) -> tuple[int, int]:
        offset, length = super().add(data)
        self.hashes[offset] = hashlib.sha256(data).hexdigest()
        return offset, length

    def add_stream(self, length: int, fill: Callable[[Callable[[Any], None]], None]
                   ) -> tuple[int, int]:
        digest = hashlib.sha256()
        fill(digest.update)
        offset, length = super().add_stream(length, fill)
        self.hashes[offset] = digest.hexdigest()
        return offset, length


def hashed_document(src: Any) -> tuple[Document, dict[int, str]]:
    """The Document of ONNX ``src`` (a path or a ModelProto) and its tensors' SHA-256 by
    sidecar offset; initializer bytes are streamed from the file through the hash."""
    from modelexport.converter._files import onnx_document

    sink = HashingSink()
    return onnx_document(src, sink), sink.hashes


def compare_onnx(a: Any, b: Any, progress: Callable[[str], None] | None = None) -> ModelDiff:
    """The module-aware diff of ONNX models ``a`` and ``b`` (paths or ModelProtos);
    ``progress`` hears of each step."""
    progress = progress or (lambda step: None)
    progress("reading A, hashing its weights")
    doc_a, hashes_a = hashed_document(a)
    progress("reading B, hashing its weights")
    doc_b, hashes_b = hashed_document(b)
    progress("matching modules, ops and weights")
    return compare_documents(doc_a, hashes_a, doc_b, hashes_b)


# -- one side, read from its Document -------------------------------------------------


@dataclass(slots=True)
class _Op:
    id: str
    name: str
    op_type: str
    head: str  # op type, domain, overload and attributes, canonical
    tag: str
    inputs: list[str]
    outputs: list[str]


@dataclass(slots=True)
class _Tensor:
    id: str
    name: str
    tag: str
    kind: str  # initializer, input, output
    type: str  # dtype and shape
    sha: str = ""


@dataclass
class _Module:
    tag: str
    id: str | None  # its group node; None for the root
    module_class: str | None
    children: list[str] = field(default_factory=list)
    ops: list[int] = field(default_factory=list)  # indexes into View.ops
    params: list[str] = field(default_factory=list)  # initializer names


@dataclass
class View:
    """What the diff reads of one model's Document."""

    doc: Document
    ops: list[_Op]
    tensors: dict[str, _Tensor]  # graph inputs, outputs and initializers by name
    modules: dict[str, _Module]  # pre-order, the root "/" first
    header: Any  # a ModelProto holding the header fields only
    producers: dict[str, tuple[int, int]] = field(default_factory=dict)  # tensor -> op, output

    @property
    def initializers(self) -> dict[str, _Tensor]:
        return {n: t for n, t in self.tensors.items() if t.kind == fmt.KIND_INITIALIZER}


def _canonical(text: str, hashes: dict[int, str]) -> str:
    """Attributes JSON with document-specific parts replaced: sidecar references by the
    bytes' SHA-256, subgraph container ids by their position."""
    if f'"{fmt.SIDECAR_REF}"' not in text and '"subgraph"' not in text:
        return text

    def walk(obj: Any) -> Any:
        if isinstance(obj, dict):
            if fmt.SIDECAR_REF in obj:
                ref = obj[fmt.SIDECAR_REF]
                obj = dict(obj, **{fmt.SIDECAR_REF: hashes.get(int(ref["offset"]), "?")})
            if "subgraph" in obj:
                return {"subgraph": True}
            return {k: walk(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [walk(v) for v in obj]
        return obj

    return json.dumps(walk(json.loads(text)), sort_keys=True)


def _type_text(data: dict[str, Any]) -> str:
    shape = data.get("shape")
    dims = ",".join(str(d) for d in json.loads(shape)) if isinstance(shape, str) else None
    return f"{data.get('dtype', '?')}" + (f"[{dims}]" if dims is not None else "")


def read_view(doc: Document, hashes: dict[int, str]) -> View:
    """The diff's view of a Document; ``hashes``: sidecar offset -> SHA-256 of the bytes."""
    ops: list[tuple[int, _Op]] = []
    tensors: dict[str, _Tensor] = {}
    modules: dict[str, _Module] = {ROOT: _Module(ROOT, None, None)}
    outer: dict[str, _Op] = {}  # nodes inside an op's subgraphs -> that op
    inner: dict[str, list[str]] = defaultdict(list)  # op id -> heads of its subgraphs' ops
    for node, owner in doc.iter_nodes():
        data = node.data
        kind = data.get("kind", fmt.KIND_OP)
        if owner is not None and owner.id in outer:
            outer[node.id] = outer[owner.id]
            if kind == fmt.KIND_OP:
                inner[outer[owner.id].id].append(_head(data, hashes))
            continue
        tag = str(data.get("hierarchy_tag") or ROOT)
        if kind == fmt.KIND_MODULE:
            modules[tag] = _Module(tag, node.id, data.get("module_class"))
        elif kind == fmt.KIND_OP:
            op = _Op(node.id, str(data.get("name", "")), str(data.get("op_type", "")),
                     _head(data, hashes), tag, json.loads(data.get("inputs", "[]")),
                     json.loads(data.get("outputs", "[]")))
            ops.append((int(data.get("index", len(ops))), op))
            if node.graph is not None:
                outer[node.id] = op
        elif kind in (fmt.KIND_INPUT, fmt.KIND_OUTPUT, fmt.KIND_INITIALIZER):
            name = str(data.get("name", ""))
            sha = ""
            if kind == fmt.KIND_INITIALIZER:
                sha = (hashes.get(int(data["offset"]), "") if "offset" in data else
                       hashlib.sha256(str(data.get("tensor", "")).encode()).hexdigest())
            key = name if kind != fmt.KIND_OUTPUT else f"\0out:{name}"
            tensors[key] = _Tensor(node.id, name, tag, kind, _type_text(data), sha)
    ops.sort(key=lambda item: item[0])
    view = View(doc, [op for _i, op in ops], tensors, {}, decode_model_header(doc.graph.data))
    view.producers = {name: (i, k) for i, op in enumerate(view.ops)
                      for k, name in enumerate(op.outputs) if name}
    for op in view.ops:
        if inner.get(op.id):
            op.head += "|" + "|".join(inner[op.id])
    for tag in [t for t in modules if t != ROOT]:  # modules named by ops only, if any
        for step in lineage(tag):
            modules.setdefault(step, _Module(step, None, None))
    for i, op in enumerate(view.ops):
        modules.setdefault(op.tag, _Module(op.tag, None, None)).ops.append(i)
    for t in tensors.values():
        if t.kind == fmt.KIND_INITIALIZER:
            modules.setdefault(t.tag, _Module(t.tag, None, None)).params.append(t.name)
    for tag in modules:
        if tag != ROOT:
            modules[parent_tag(tag) or ROOT].children.append(tag)
    view.modules = {tag: modules[tag] for tag in _preorder(modules)}
    return view


def _head(data: dict[str, Any], hashes: dict[int, str]) -> str:
    attributes = data.get("attributes")
    return "\x1f".join((str(data.get("op_type", "")), str(data.get("domain", "")),
                        str(data.get("overload", "")),
                        _canonical(attributes, hashes) if attributes else ""))


def _preorder(modules: dict[str, _Module]) -> Iterator[str]:
    stack = [ROOT]
    while stack:
        tag = stack.pop()
        yield tag
        stack.extend(reversed(modules[tag].children))


# -- matching ---------------------------------------------------------------------------


def _digest(*parts: object) -> str:
    return hashlib.blake2b(repr(parts).encode(), digest_size=12).hexdigest()


def _fingerprints(view: View, ops: list[int], forward: bool) -> dict[int, str]:
    """Each op's place in its module's data flow, from its inputs (``forward``) or from
    its consumers; ops of other modules are described, never followed."""
    members = set(ops)
    producer: dict[str, tuple[int, int]] = {}
    consumers: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for i in ops:
        op = view.ops[i]
        for k, name in enumerate(op.outputs):
            producer[name] = (i, k)
        for k, name in enumerate(op.inputs):
            consumers[name].append((i, k))
    prints: dict[int, str] = {}
    for i in (ops if forward else reversed(ops)):
        op = view.ops[i]
        if forward:
            parts = [_source(view, name, producer, prints, members) for name in op.inputs]
        else:
            parts = sorted(
                [(prints.get(j, "?"), k) for name in op.outputs for j, k in consumers[name]]
                + [_sink(view, name) for name in op.outputs])
        prints[i] = _digest(op.head, parts)
    return prints


def _source(view: View, name: str, producer: dict[str, tuple[int, int]],
            prints: dict[int, str], members: set[int]) -> tuple:
    if not name:
        return ("none",)
    if name in producer:
        i, k = producer[name]
        return ("op", prints.get(i, "?"), k)
    t = view.tensors.get(name)
    if t is not None:
        return (t.kind, t.type) if t.kind == fmt.KIND_INITIALIZER else (t.kind, name)
    source = view.producers.get(name)
    if source is not None:  # produced in another module
        i, k = source
        return ("outside", view.ops[i].op_type, k)
    return ("unknown",)


def _sink(view: View, name: str) -> tuple:
    out = view.tensors.get(f"\0out:{name}")
    return ("graph output", name) if out is not None else ("", 0)


def _pair(a: list[int], b: list[int], key_a: dict[int, str], key_b: dict[int, str]
          ) -> tuple[dict[int, int], list[int], list[int]]:
    """Ops with equal keys, paired in order; and those left on each side."""
    waiting: dict[str, list[int]] = defaultdict(list)
    for i in a:
        waiting[key_a[i]].append(i)
    for queue in waiting.values():
        queue.reverse()
    pairs: dict[int, int] = {}
    rest_b = []
    for j in b:
        queue = waiting.get(key_b[j])
        if queue:
            pairs[queue.pop()] = j
        else:
            rest_b.append(j)
    return pairs, [i for i in a if i not in pairs], rest_b


def _subtree_sig(view: View, tag: str, memo: dict[str, str]) -> str:
    """Class and structure of a module's subtree: classes, op types, children, in order."""
    if tag not in memo:
        m = view.modules[tag]
        memo[tag] = _digest(m.module_class, [view.ops[i].head for i in m.ops],
                            [_subtree_sig(view, c, memo) for c in m.children])
    return memo[tag]


@dataclass
class Match:
    """The pairing of A's and B's modules, ops and tensors (what the diff and the merged
    picture are made of)."""

    a: View
    b: View
    modules: dict[str, str]  # A tag -> B tag
    ops: dict[int, int]  # A op index -> B op index
    tensors: dict[str, str]  # A tensor key -> B tensor key


def _match_modules(a: View, b: View) -> dict[str, str]:
    pairs = {tag: tag for tag in a.modules if tag in b.modules}
    only_a = [t for t in a.modules if t not in pairs]
    only_b = [t for t in b.modules if t not in a.modules]
    memo_a: dict[str, str] = {}
    memo_b: dict[str, str] = {}
    # the top of each unpaired subtree, by class and structure, then below it by path
    tops_b: dict[tuple, list[str]] = defaultdict(list)
    for t in only_b:
        if (parent_tag(t) or ROOT) not in only_b:
            tops_b[(b.modules[t].module_class, _subtree_sig(b, t, memo_b))].append(t)
    for t in only_a:
        if (parent_tag(t) or ROOT) in only_a:
            continue
        queue = tops_b.get((a.modules[t].module_class, _subtree_sig(a, t, memo_a)))
        if not queue:
            continue
        target = queue.pop(0)
        for inside in only_a:
            if inside == t or inside.startswith(t + "/"):
                moved = target + inside[len(t):]
                if moved in b.modules and moved not in pairs.values():
                    pairs[inside] = moved
    return pairs


def match_views(a: View, b: View) -> Match:
    """Pair modules, then the ops of each pair of modules, then tensors."""
    modules = _match_modules(a, b)
    ops: dict[int, int] = {}
    for ta, tb in modules.items():
        oa, ob = a.modules[ta].ops, b.modules[tb].ops
        if not oa or not ob:
            continue
        pairs, rest_a, rest_b = _pair(oa, ob, _fingerprints(a, oa, True),
                                      _fingerprints(b, ob, True))
        if rest_a and rest_b:
            more, _ra, _rb = _pair(rest_a, rest_b, _fingerprints(a, oa, False),
                                   _fingerprints(b, ob, False))
            pairs.update(more)
        ops.update(pairs)
    return Match(a, b, modules, ops, _match_tensors(a, b, ops))


def _match_tensors(a: View, b: View, ops: dict[int, int]) -> dict[str, str]:
    pairs: dict[str, str] = {}
    taken: set[str] = set()
    # graph inputs and outputs by name
    for key, t in a.tensors.items():
        if t.kind != fmt.KIND_INITIALIZER and key in b.tensors:
            pairs[key] = key
            taken.add(key)
    # initializers by the op inputs they feed
    init_b = b.initializers
    votes: dict[str, Counter[str]] = defaultdict(Counter)
    for i, j in ops.items():
        ia, ib = a.ops[i].inputs, b.ops[j].inputs
        for name_a, name_b in zip(ia, ib, strict=False):
            if name_a in a.tensors and name_b in init_b \
                    and a.tensors[name_a].kind == fmt.KIND_INITIALIZER:
                votes[name_a][name_b] += 1
    for name_a, counter in votes.items():
        for name_b, _n in counter.most_common():
            if name_b not in taken:
                pairs[name_a] = name_b
                taken.add(name_b)
                break
    init_a = [n for n in a.initializers if n not in pairs]
    # then by name, then by content
    for name in init_a:
        if name in init_b and name not in taken:
            pairs[name] = name
            taken.add(name)
    by_sha: dict[str, list[str]] = defaultdict(list)
    for name, t in init_b.items():
        if name not in taken:
            by_sha[t.sha].append(name)
    for name in init_a:
        if name not in pairs and by_sha.get(a.tensors[name].sha):
            pairs[name] = by_sha[a.tensors[name].sha].pop(0)
    return pairs


# -- the diff ---------------------------------------------------------------------------


def diff_of(match: Match) -> ModelDiff:
    """The ModelDiff of a Match: one entry per module of either model."""
    a, b = match.a, match.b
    entries: dict[str, ModuleDiff] = {}
    back = {tb: ta for ta, tb in match.modules.items()}
    matched_b_ops = set(match.ops.values())
    matched_b_tensors = set(match.tensors.values())

    def entry(tag: str, status: str, module: _Module) -> ModuleDiff:
        if tag not in entries:
            entries[tag] = ModuleDiff(tag, status, module.module_class)
        return entries[tag]

    def ref(view: View, i: int) -> OpRef:
        return OpRef(view.ops[i].name, view.ops[i].op_type)

    for tag, module in b.modules.items():
        ta = back.get(tag)
        e = entry(tag, SAME if ta is not None else ADDED, module)
        e.b_ops = len(module.ops)
        e.moved_from = ta if ta is not None and ta != tag else None
        e.ops_added = [ref(b, j) for j in module.ops if j not in matched_b_ops]
    for tag, module in a.modules.items():
        tb = match.modules.get(tag)
        e = entry(tb if tb is not None else tag, REMOVED, module)
        e.a_ops = len(module.ops)
        e.ops_removed = [ref(a, i) for i in module.ops if i not in match.ops]
    # a parameter only one side has is listed where it is read: a constant shared by
    # the removed ops of many modules belongs to their change, not to their common owner
    readers_a, readers_b = _readers(a), _readers(b)
    for name, t in b.initializers.items():
        if name not in matched_b_tensors:
            for tag in readers_b.get(name) or [t.tag]:
                entries[tag].params_added.append(name)
    for name, t in a.initializers.items():
        if name not in match.tensors:
            for tag in readers_a.get(name) or [t.tag]:
                entries[match.modules.get(tag, tag)].params_removed.append(name)
    for name_a, name_b in match.tensors.items():
        ta, tb = a.tensors[name_a], b.tensors[name_b]
        if ta.kind == fmt.KIND_INITIALIZER and (ta.sha != tb.sha or ta.type != tb.type):
            entries[tb.tag].params_changed.append(name_b)
    for e in entries.values():
        if e.status == SAME and (e.ops_added or e.ops_removed or e.params_changed
                                 or e.params_added or e.params_removed):
            e.status = CHANGED
    # B's order, each removed module after the module it sat in (or its last sibling)
    order = list(b.modules)
    for tag in a.modules:
        if tag in match.modules:
            continue
        parent = parent_tag(tag) or ROOT
        anchor = match.modules.get(parent, parent)
        spot = order.index(anchor) + 1 if anchor in order else len(order)
        while spot < len(order) and order[spot].startswith(anchor.rstrip("/") + "/"):
            spot += 1
        order.insert(spot, tag)
    modules = [entries[t] for t in order
               if t != ROOT or entries[t].a_ops or entries[t].b_ops
               or a.modules[ROOT].params or b.modules[ROOT].params]
    return ModelDiff(modules, len(a.ops), len(b.ops), _types_diff(a, b, fmt.KIND_INPUT),
                     _types_diff(a, b, fmt.KIND_OUTPUT), _opsets_diff(a, b),
                     _header_diff(a, b), match=match)


def _readers(view: View) -> dict[str, list[str]]:
    """Per tensor name: the modules of the ops reading it, in order, each once."""
    found: dict[str, dict[str, None]] = defaultdict(dict)
    for op in view.ops:
        for name in op.inputs:
            found[name][op.tag] = None
    return {name: list(tags) for name, tags in found.items()}


def _types_diff(a: View, b: View, kind: str) -> dict[str, list]:
    ta = {t.name: t.type for t in a.tensors.values() if t.kind == kind}
    tb = {t.name: t.type for t in b.tensors.values() if t.kind == kind}
    return _dict_diff(ta, tb)


def _opsets_diff(a: View, b: View) -> dict[str, list]:
    return _dict_diff({o.domain or "ai.onnx": o.version for o in a.header.opset_import},
                      {o.domain or "ai.onnx": o.version for o in b.header.opset_import})


def _header_diff(a: View, b: View) -> dict[str, list]:
    def fields(view: View) -> dict[str, Any]:
        h = view.header
        return {"ir_version": h.ir_version,
                "producer": " ".join(p for p in (h.producer_name, h.producer_version) if p)}
    return _dict_diff(fields(a), fields(b))


def _dict_diff(a: dict, b: dict) -> dict[str, list]:
    return {k: [a.get(k), b.get(k)] for k in sorted(a.keys() | b.keys()) if a.get(k) != b.get(k)}


def compare_documents(doc_a: Document, hashes_a: dict[int, str], doc_b: Document,
                      hashes_b: dict[int, str]) -> ModelDiff:
    """The module-aware diff of two Documents; ``hashes_*``: sidecar offset -> SHA-256."""
    return diff_of(match_views(read_view(doc_a, hashes_a), read_view(doc_b, hashes_b)))


# -- both models as one Document, for the picture -----------------------------------------

#: The prefix of A's node and edge ids in the merged Document (B's keep theirs).
A_PREFIX = "a."
_DROPPED = ("tensor", "offset", "length", "attributes", "node_extra", "type")


def merged_document(diff: ModelDiff) -> Document:
    """Both models as one Document: B's nodes, A's removed ones where they were (in the
    module they sat in), each carrying ``diff`` (same, changed, added, removed), and a
    legend. A picture of it, or its GraphML, shows the diff; it is not a model."""
    match: Match = diff.match
    a, b = match.a, match.b
    full = diff if diff.depth is None else diff_of(match)
    status_b: dict[str, str] = {}
    for e in full.modules:
        module = b.modules.get(e.tag) if e.status != REMOVED else None
        if module is not None and module.id is not None:
            status_b[module.id] = e.status
    matched_b = {b.ops[j].id for j in match.ops.values()}
    for op in b.ops:
        status_b[op.id] = SAME if op.id in matched_b else ADDED
    changed_params = {name for e in full.modules for name in e.params_changed}
    paired_b = set(match.tensors.values())
    for key, t in b.tensors.items():
        changed = t.kind == fmt.KIND_INITIALIZER and key in changed_params
        status_b[t.id] = CHANGED if changed else SAME if key in paired_b else ADDED
    # which A node is which B node, for A's edges into what was kept
    a_to_b: dict[str, str] = {}
    for ta, tb in match.modules.items():
        ma, mb = a.modules[ta], b.modules[tb]
        if ma.id is not None and mb.id is not None:
            a_to_b[ma.id] = mb.id
    a_to_b.update({a.ops[i].id: b.ops[j].id for i, j in match.ops.items()})
    a_to_b.update({a.tensors[k].id: b.tensors[v].id for k, v in match.tensors.items()})

    merged = Graph(b.doc.graph.id, data={"format": fmt.FORMAT_VERSION})
    groups: dict[str, Node] = {}  # B group id -> its copy in the merged Document

    def copy(node: Node, status_of: Callable[[Node], str | None], prefix: str,
             parent: str) -> Node:
        data = {k: v for k, v in node.data.items() if k not in _DROPPED}
        data["parent"] = parent
        status = status_of(node)
        if status is not None:
            data["diff"] = status
        new = Node(prefix + node.id, data)
        if node.graph is not None:
            new.graph = Graph(prefix + node.graph.id)
            groups[prefix + node.id] = new
            new.graph.nodes = [copy(c, status_of, prefix, new.id) for c in node.graph.nodes]
        return new

    merged.nodes = [copy(n, lambda n: status_b.get(n.id), "", "") for n in b.doc.graph.nodes]
    # A's removed nodes: a removed module with all it holds, a removed op or parameter
    # alone, each placed in the copy of the B module its A module was paired with
    kept_a = set(a_to_b)

    def removed(node: Node) -> str | None:
        return REMOVED if node.id not in kept_a else status_b.get(a_to_b[node.id])

    for node, owner in a.doc.iter_nodes():
        if node.id in kept_a or (owner is not None and owner.id not in kept_a):
            continue
        if node.data.get("kind") == fmt.KIND_SUBGRAPH:
            continue
        host = groups.get(a_to_b.get(owner.id, "")) if owner is not None else None
        new = copy(node, removed, A_PREFIX, host.id if host is not None else "")
        (host.graph.nodes if host is not None else merged.nodes).append(new)
    ids = {n.id for n, _o in Document(merged).iter_nodes()}
    edges = [Edge(e.id, e.source, e.target, dict(e.data)) for e in b.doc.iter_edges()]
    for e in a.doc.iter_edges():
        if e.source in kept_a and e.target in kept_a:
            continue
        source = a_to_b.get(e.source, A_PREFIX + e.source)
        target = a_to_b.get(e.target, A_PREFIX + e.target)
        if source in ids and target in ids:
            edges.append(Edge(A_PREFIX + e.id, source, target, dict(e.data)))
    merged.edges = edges
    doc = Document(merged, [Key(k.id, k.domain, k.name, k.type) for k in fmt.KEYS.values()])
    if diff.depth is not None:
        close_below(doc, diff.depth)
    merged.nodes.append(_legend())
    return doc


def close_below(doc: Document, depth: int) -> None:
    """Draw modules below ``depth`` closed: each module at ``depth + 1`` becomes one box
    (its instance name and op count) and edges into it end at the box."""
    owner: dict[str, str] = {}  # every node inside a closed module -> that module

    def close(graph: Graph, level: int) -> None:
        for i, node in enumerate(graph.nodes):
            if node.graph is None or node.data.get("kind") != fmt.KIND_MODULE:
                continue
            if level <= depth:
                close(node.graph, level + 1)
                continue
            inside = [n for n, _o in Document(node.graph).iter_nodes()]
            ops = sum(n.data.get("kind") == fmt.KIND_OP for n in inside)
            for n in inside:
                owner[n.id] = node.id
            data = dict(node.data, label=f"{node.data.get('label', node.id)}\n{ops} ops")
            graph.nodes[i] = Node(node.id, data)

    close(doc.graph, 1)
    seen: set[tuple[str, str]] = set()
    edges = []
    for e in doc.graph.edges:
        s, t = owner.get(e.source, e.source), owner.get(e.target, e.target)
        if s != t and (s, t) not in seen:
            seen.add((s, t))
            edges.append(e if (s, t) == (e.source, e.target) else Edge(e.id, s, t, dict(e.data)))
    doc.graph.edges = edges


def _legend() -> Node:
    box = Node("legend", {"kind": fmt.KIND_MODULE, "label": "legend", "parent": ""},
               Graph("legend:"))
    box.graph.nodes = [Node(f"legend.{s}", {"kind": fmt.KIND_OP, "label": s, "parent": "legend",
                                            "diff": s}) for s in (ADDED, REMOVED, CHANGED)]
    return box


__all__ = [
    "ADDED", "CHANGED", "REMOVED", "SAME", "STATUSES",
    "HashingSink", "Match", "ModelDiff", "ModuleDiff", "OpRef", "View",
    "compare_documents", "compare_onnx", "diff_of", "hashed_document", "match_views",
    "merged_document", "read_view",
]
