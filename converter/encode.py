"""ONNX ModelProto → GraphML :class:`modelexport.graphml.model.Document`, in memory.

:func:`model_to_document` is pure apart from the sidecar sink it is given: tensor
bytes go to a :class:`modelexport.converter.sidecar.SidecarWriter` as they are met, so no second
copy of the parameters is held. Everything else of the model is carried in the
Document's data (see :mod:`modelexport.graphml.format`), readable where it can be and exact
always: each element (node fields, attribute, value info, tensor header, graph and
model header) is encoded, decoded back and compared byte for byte, and stored as
base64 of its serialized proto (``{"b64": ...}``) when the readable form would not give
back the same bytes.

Layout: modules are group nodes nested by tag; each op sits in its tag's module;
initializers in the common module of their consumers; graph inputs and outputs at the
root. An op with GRAPH/GRAPHS attributes is a group holding one ``subgraph`` container
per graph, which holds that graph's inputs, initializers, ops and outputs, and carries
the graph's own fields (``name``, ``doc_string``, and the rest as ``node_extra``). All
edges sit on the root graph after the nodes, one per (producer, consumer input).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

from onnx import GraphProto, ModelProto, NodeProto

from modelexport.converter import _protojson as pj
from modelexport.converter import _tensors
from modelexport.converter._fields import (
    GRAPH_ABSENT,
    GRAPH_ATTR_FIELDS,
    MODEL_KEYS,
    NODE_TEXT_FIELDS,
)
from modelexport.converter._json import dumps, dumps_ints, dumps_pairs, dumps_strings
from modelexport.converter.decode import (
    decode_model_header,
    decode_plain_attribute,
    decode_value_info,
)
from modelexport.converter.hierarchy import ModuleInfo, derive_hierarchy
from modelexport.converter.sidecar import SidecarWriter
from modelexport.converter.tags import ROOT, common_tag, lineage, parameter_names
from modelexport.graphml import format as fmt
from modelexport.graphml.model import Document, Edge, Graph, Key, Node

#: Attribute tensors of at least this many bytes go to the sidecar; smaller stay inline.
ATTRIBUTE_TENSOR_SIDECAR_BYTES = 1024

ROOT_GRAPH_ID = "G"

#: GraphProto fields carried by nodes of their own (the rest is the graph "header").
_GRAPH_BODY = ("node", "initializer", "input", "output")
_ENCODE_ERRORS = (pj.Unencodable, ValueError, UnicodeError, KeyError, TypeError)


@dataclass
class _Scope:
    """Tensor names visible in a graph: name → (producer node id, output position)."""

    names: dict[str, tuple[str, int]] = field(default_factory=dict)
    outer: _Scope | None = None

    def lookup(self, name: str) -> tuple[str, int] | None:
        scope: _Scope | None = self
        while scope is not None:
            hit = scope.names.get(name)
            if hit is not None:
                return hit
            scope = scope.outer
        return None


# -- small helpers ------------------------------------------------------------------


def type_summary(tp: Any) -> tuple[str, list | None]:
    """(dtype text, shape) of a TypeProto for display: ``FLOAT``, [1, "seq", 768]."""
    which = tp.WhichOneof("value")
    if which in ("tensor_type", "sparse_tensor_type"):
        t = getattr(tp, which)
        dtype = _tensors.dtype_name(t.elem_type)
        if which == "sparse_tensor_type":
            dtype = f"sparse({dtype})"
        if not t.HasField("shape"):
            return dtype, None
        dims: list = []
        for d in t.shape.dim:
            kind = d.WhichOneof("value")
            dims.append(d.dim_value if kind == "dim_value" else (d.dim_param if kind else None))
        return dtype, dims
    if which == "sequence_type":
        return f"seq({type_summary(tp.sequence_type.elem_type)[0]})", None
    if which == "optional_type":
        return f"optional({type_summary(tp.optional_type.elem_type)[0]})", None
    if which == "map_type":
        value = type_summary(tp.map_type.value_type)[0]
        return f"map({_tensors.dtype_name(tp.map_type.key_type)},{value})", None
    return "", None


def parameter_label(names: list[str]) -> str:
    """An initializer's label from the parameters it holds: the first one's last two
    name parts (``q_proj.weight`` of ``model.layers.0.self_attn.q_proj.weight``), and
    how many it holds when the exporter merged several equal ones: ``LayerNorm.bias ×16``
    when all end alike, ``input_layernorm.weight, … ×65`` when they do not."""
    tails = [".".join(name.split(".")[-2:]) for name in names]
    if len(names) == 1:
        return tails[0]
    more = ", \u2026" if any(t != tails[0] for t in tails) else ""
    return f"{tails[0]}{more} \u00d7{len(names)}"


def _safe(text: str) -> str:
    """Display text for XML: characters XML cannot carry become U+FFFD."""
    return pj.XML_ILLEGAL.sub("\ufffd", text)


def _op_label(node: Any) -> str:
    short = node.name.rsplit("/", 1)[-1]
    return f"{node.op_type} {short}" if short and short != node.op_type else node.op_type


def _pairs(props: Any) -> list[list[str]]:
    return [[p.key, p.value] for p in props]


def _simple_pairs(props: Any) -> bool:
    """Entries with both key and value set and nothing else: [[k, v], ...] is exact."""
    return all(p.HasField("key") and p.HasField("value") and len(p.ListFields()) == 2
               for p in props)


_copy_without = pj.copy_without


def _same(a: Any, b: Any) -> bool:
    return a.SerializeToString(deterministic=True) == b.SerializeToString(deterministic=True)


def _graph_refs(node: Any) -> list[tuple[int, str, int | None, Any]]:
    """(attribute position, attribute name, index in GRAPHS or None, graph) per subgraph."""
    refs = []
    for a, attr in enumerate(node.attribute):
        if attr.HasField("g"):
            refs.append((a, attr.name, None, attr.g))
        for k, g in enumerate(attr.graphs):
            refs.append((a, attr.name, k, g))
    return refs


def _used_names(node: Any, into: set[str]) -> None:
    """Tensor names ``node`` reads, its subgraphs' reads included."""
    into.update(node.input)
    for attr in node.attribute:
        graphs = list(attr.graphs)
        if attr.HasField("g"):
            graphs.append(attr.g)
        for g in graphs:
            for inner in g.node:
                _used_names(inner, into)
            into.update(o.name for o in g.output)


# -- the builder --------------------------------------------------------------------


class _Builder:
    def __init__(self, sink: SidecarWriter, parameters: dict[str, list[str]] | None = None) -> None:
        self.sink = sink
        # initializer name -> the parameter names the export recorded it holds
        self.parameters = parameters or {}
        self.counters: dict[str, int] = {}
        self.edges: list[Edge] = []
        self.types: dict[str, tuple[str, list | None]] = {}
        # One copy of each repeated text: tensor names, tags, op types and type strings
        # recur on every edge and op that uses them (20 MB of a 50,000-op Document).
        self._texts: dict[str, str] = {}
        self._safe_texts: dict[str, str] = {}

    def share(self, text: str) -> str:
        """``text`` itself, as one copy shared by every value that equals it."""
        return self._texts.setdefault(text, text)

    def safe(self, text: str) -> str:
        """``_safe(text)``, shared as :meth:`share` shares."""
        shared = self._safe_texts.get(text)
        if shared is None:
            shared = self._safe_texts[text] = self.share(_safe(text))
        return shared

    def new_id(self, prefix: str) -> str:
        n = self.counters.get(prefix, 0)
        self.counters[prefix] = n + 1
        return f"{prefix}{n}"

    def tensor_json(self, tensor: Any, min_bytes: int) -> dict[str, Any]:
        return _tensors.encode_tensor(tensor, self.sink.add, min_bytes=min_bytes)

    # -- value infos and initializers ----------------------------------------------

    def value_info_node(self, vi: Any, kind: str, index: int, parent: str, prefix: str) -> Node:
        data: dict[str, Any] = {"kind": kind, "label": _safe(vi.name) or kind, "parent": parent}
        data.update(encode_value_info(vi))
        data["index"] = index
        if vi.HasField("type"):
            dtype, shape = type_summary(vi.type)
            data["dtype"] = dtype
            if shape is not None:
                data["shape"] = dumps(shape)
            self.types.setdefault(vi.name, (dtype, shape))
        return Node(self.new_id(prefix), data)

    def initializer_node(self, tensor: Any, index: int, parent: str, tag: str | None,
                         lazy: _tensors.LazyRaw | None = None) -> Node:
        obj = _tensors.encode_tensor(tensor, self.sink.add, lazy=lazy)
        dtype = _tensors.dtype_name(tensor.data_type)
        dims = list(tensor.dims)
        name = self.safe(tensor.name)
        data: dict[str, Any] = {"kind": fmt.KIND_INITIALIZER, "label": name or "initializer",
                                "parent": parent, "name": name, "index": index}
        held = self.parameters.get(tensor.name)
        if held:
            data["label"] = _safe(parameter_label(held))
            data["parameter"] = _safe(dumps(held))
        else:  # a constant the exporter named (val_68): its value says more
            value = _tensors.value_text(tensor, lazy)
            if value is not None:
                data["label"] = self.share(value)
        if tag is not None:
            data["hierarchy_tag"] = self.share(tag)
        data["dtype"] = dtype
        data["shape"] = self.share(dumps_ints(dims))
        data["tensor"] = dumps(obj)
        ref = obj.get(fmt.SIDECAR_REF)
        if ref is not None:
            data["offset"] = ref["offset"]
            data["length"] = ref["length"]
        self.types.setdefault(tensor.name, (dtype, dims))
        return Node(self.new_id("t"), data)

    def note_types(self, graph: Any) -> None:
        for vi in graph.value_info:
            if vi.HasField("type"):
                self.types.setdefault(vi.name, type_summary(vi.type))

    # -- ops -----------------------------------------------------------------------

    def attribute_json(self, attr: Any, a: int,
                       containers: dict[tuple[int, int | None], str]) -> dict[str, Any]:
        """One attribute: readable and checked, tensors maybe in the sidecar, graphs by id."""
        obj: dict[str, Any] | None = None
        heavy = attr.HasField("t") or attr.HasField("g") or len(attr.tensors) or len(attr.graphs)
        plain = _copy_without(attr, GRAPH_ATTR_FIELDS + ("t", "tensors")) if heavy else attr
        try:
            obj = encode_plain_attribute(plain)
            if not _same(decode_plain_attribute(obj), plain):
                obj = None
        except _ENCODE_ERRORS:
            obj = None
        if obj is None:  # exact fallback; tensors ride inside the base64
            obj = pj.encode_opaque(_copy_without(attr, GRAPH_ATTR_FIELDS))
        else:
            if attr.HasField("t"):
                obj["t"] = self.tensor_json(attr.t, ATTRIBUTE_TENSOR_SIDECAR_BYTES)
            if len(attr.tensors):
                obj["tensors"] = [self.tensor_json(t, ATTRIBUTE_TENSOR_SIDECAR_BYTES)
                                  for t in attr.tensors]
        if attr.HasField("g"):
            obj["g"] = {"subgraph": containers[(a, None)]}
        if len(attr.graphs):
            obj["graphs"] = [{"subgraph": containers[(a, k)]} for k in range(len(attr.graphs))]
        return obj

    def op_data(self, node: Any, containers: dict[tuple[int, int | None], str]) -> dict[str, Any]:
        """Readable keys for a NodeProto, checked; attributes one by one."""
        data = encode_node_fields(node)
        attrs = [self.attribute_json(attr, a, containers) for a, attr in enumerate(node.attribute)]
        if attrs:
            data["attributes"] = dumps(attrs)
        return data

    def op_node(self, nid: str, node: Any, index: int, parent: str, tag: str | None,
                scope: _Scope) -> Node:
        refs = _graph_refs(node)
        containers: dict[tuple[int, int | None], str] = {}
        inner: list[Node] = []
        for a, attr_name, k, _g in refs:
            cid = self.new_id("s")
            containers[(a, k)] = cid
            cdata: dict[str, Any] = {
                "kind": fmt.KIND_SUBGRAPH,
                "parent": nid,
                "label": _safe(attr_name if k is None else f"{attr_name}[{k}]"),
                "attribute_name": _safe(attr_name),
            }
            if tag is not None:
                cdata["hierarchy_tag"] = tag
            if k is not None:
                cdata["attribute_index"] = k
            inner.append(Node(cid, cdata))
        data: dict[str, Any] = {"kind": fmt.KIND_OP, "label": _safe(_op_label(node)) or "op",
                                "parent": parent}
        if tag is not None:
            data["hierarchy_tag"] = self.share(tag)
        data.update(self.op_data(node, containers))
        op_type = data.get("op_type")
        if op_type is not None:
            data["op_type"] = self.share(op_type)
        data["index"] = index
        op = Node(nid, data)
        for (_a, _n, _k, g), container in zip(refs, inner, strict=True):
            container.graph = Graph(f"{container.id}:")
            self.fill_subgraph(g, container, _Scope(outer=scope), tag)
        if inner:
            op.graph = Graph(f"{nid}:", nodes=inner)
        return op

    def ops(self, graph: Any, parents: list[str], tags: list[str | None],
            scope: _Scope) -> list[Node]:
        """Op nodes of ``graph`` in order; every output is known before inputs are wired."""
        ids = [self.new_id("n") for _ in graph.node]
        for nid, node in zip(ids, graph.node, strict=True):
            for o, name in enumerate(node.output):
                if name:
                    scope.names[name] = (nid, o)
        result: list[Node] = []
        for j, node in enumerate(graph.node):
            op = self.op_node(ids[j], node, j, parents[j], tags[j], scope)
            result.append(op)
            for k, name in enumerate(node.input):
                if name:
                    self.edge_to(scope, name, op.id, k)
        return result

    def fill_subgraph(self, graph: Any, container: Node, scope: _Scope, tag: str | None) -> None:
        """A subgraph's elements, flat and in ONNX order, inside its container node."""
        cid = container.id
        container.data.update(encode_graph_fields(graph, "name", "doc_string", "node_extra", None))
        self.note_types(graph)
        nodes = container.graph.nodes
        for i, vi in enumerate(graph.input):
            n = self.value_info_node(vi, fmt.KIND_INPUT, i, cid, "i")
            scope.names[vi.name] = (n.id, 0)
            nodes.append(n)
        for i, t in enumerate(graph.initializer):
            n = self.initializer_node(t, i, cid, tag)
            scope.names[t.name] = (n.id, 0)
            nodes.append(n)
        nodes.extend(self.ops(graph, [cid] * len(graph.node), [tag] * len(graph.node), scope))
        for i, vi in enumerate(graph.output):
            n = self.value_info_node(vi, fmt.KIND_OUTPUT, i, cid, "o")
            nodes.append(n)
            self.edge_to(scope, vi.name, n.id, 0)

    def edge_to(self, scope: _Scope, name: str, target: str, position: int) -> None:
        hit = scope.lookup(name)
        if hit is None:
            return
        source, out = hit
        self.edges.append(Edge(f"e{len(self.edges)}", source, target,
                               {"e_tensor": self.safe(name), "source_output": out,
                                "target_input": position}))

    def finish_edges(self) -> list[Edge]:
        """Add dtype, shape and label to every edge, now that all types are known."""
        typed: dict[str, tuple[str, str | None, str]] = {}  # tensor -> dtype, shape, label
        for e in self.edges:
            tensor = e.data["e_tensor"]
            known = typed.get(tensor)
            if known is None:
                dtype, shape = self.types.get(tensor, ("", None))
                shape_json = self.share(dumps(shape)) if shape is not None else None
                label = self.share(f"{dtype}{shape_json or ''}") if dtype else tensor
                known = typed[tensor] = (dtype, shape_json, label)
            dtype, shape_json, label = known
            if dtype:
                e.data["e_dtype"] = dtype
            if shape_json is not None:
                e.data["e_shape"] = shape_json
            e.data["e_label"] = label
        return self.edges


# -- element encoders (each checked against its inverse) -------------------------------


def encode_value_info(vi: Any) -> dict[str, Any]:
    """Keys for a ValueInfoProto: name, type, doc_string, metadata_props; else opaque."""
    data: dict[str, Any] = {}
    try:
        if vi.HasField("name"):
            data["name"] = pj.check_text(vi.name)
        if vi.HasField("type"):
            data["type"] = dumps(pj.encode_message(vi.type))
        if vi.HasField("doc_string"):
            data["doc_string"] = pj.check_text(vi.doc_string)
        if len(vi.metadata_props):
            if not _simple_pairs(vi.metadata_props):
                raise pj.Unencodable("metadata entry with unset key or value")
            data["metadata_props"] = pj.check_text(dumps(_pairs(vi.metadata_props)))
        if _same(decode_value_info(data), vi):
            return data
    except _ENCODE_ERRORS:
        pass
    return {"name": _safe(vi.name), "node_extra": dumps(pj.encode_opaque(vi))}


def encode_node_fields(node: Any) -> dict[str, Any]:
    """Keys for a NodeProto's own fields (not its attributes), checked; else opaque.

    The check rebuilds the node from the very values written (JSON text of str lists
    reads back the same, once XML-illegal characters are ruled out) and compares bytes.
    """
    if len(node.attribute):
        bare = NodeProto()
        bare.CopyFrom(node)
        bare.ClearField("attribute")
    else:
        bare = node
    data: dict[str, Any] = {}
    try:
        rebuilt = NodeProto()
        texts: list[str] = []
        for key in NODE_TEXT_FIELDS:
            if node.HasField(key):
                value = getattr(node, key)
                data[key] = value
                texts.append(value)
                setattr(rebuilt, key, value)
        inputs, outputs = list(node.input), list(node.output)
        rebuilt.input.extend(inputs)
        rebuilt.output.extend(outputs)
        data["inputs"] = dumps_strings(inputs)
        data["outputs"] = dumps_strings(outputs)
        texts.append(data["inputs"])
        texts.append(data["outputs"])
        if len(node.metadata_props):
            pairs = _pairs(node.metadata_props)
            target = rebuilt.metadata_props
            for key, value in pairs:
                entry = target.add()
                entry.key = key
                entry.value = value
            data["metadata_props"] = dumps_pairs(pairs)
            texts.append(data["metadata_props"])
        if len(node.device_configurations):
            extra = {"device_configurations": [pj.encode_message(c)
                                               for c in node.device_configurations]}
            data["node_extra"] = dumps(extra)
            texts.append(data["node_extra"])
            pj.decode_message(extra, rebuilt)
        if pj.XML_ILLEGAL.search("".join(texts)) is None and _same(rebuilt, bare):
            return data
    except _ENCODE_ERRORS:
        pass
    return {"name": _safe(node.name), "op_type": _safe(node.op_type),
            "inputs": dumps([_safe(n) for n in node.input]),
            "outputs": dumps([_safe(n) for n in node.output]),
            "node_extra": dumps(pj.encode_opaque(bare))}


def encode_plain_attribute(attr: Any) -> dict[str, Any]:
    """An attribute without tensors and graphs as readable JSON (strings as text)."""
    obj: dict[str, Any] = {}
    for fd, value in attr.ListFields():
        name = fd.name
        if name == "s":
            try:
                obj["s"] = pj.check_text(value.decode("utf-8"))
            except (UnicodeError, pj.Unencodable):
                obj["s_b64"] = pj._encode_value(fd, value)
        elif name == "strings":
            try:
                obj["strings"] = [pj.check_text(v.decode("utf-8")) for v in value]
            except (UnicodeError, pj.Unencodable):
                obj["strings_b64"] = [pj._encode_value(fd, v) for v in value]
        elif fd.is_repeated:
            obj[name] = [pj._encode_value(fd, v) for v in value]
        else:
            obj[name] = pj._encode_value(fd, value)
    pj.check_text(dumps(obj))
    return obj


def encode_graph_fields(graph: Any, name_key: str, doc_key: str, extra_key: str,
                        value_info_key: str | None) -> dict[str, Any]:
    """A GraphProto's own fields (not nodes, inputs, outputs, initializers) as keys.

    ``name`` and ``doc_string`` get keys of their own when XML can carry them; the rest
    (value_info unless it has its own key, quantization annotations, sparse
    initializers, metadata) goes, checked, into ``extra_key`` as ``{"graph": ...}``.
    """
    data: dict[str, Any] = {}
    skip = list(_GRAPH_BODY)
    for key, fieldname in ((name_key, "name"), (doc_key, "doc_string")):
        if graph.HasField(fieldname) and not pj.XML_ILLEGAL.search(getattr(graph, fieldname)):
            data[key] = getattr(graph, fieldname)
            skip.append(fieldname)
    if value_info_key is not None and len(graph.value_info):
        try:
            items = [pj.encode_message(vi) for vi in graph.value_info]
            text = pj.check_text(dumps(items))
            rebuilt = GraphProto()
            for item in items:
                pj.decode_message(item, rebuilt.value_info.add())
            if _same(
                rebuilt,
                _copy_without(
                    graph,
                    tuple(f.name for f in GraphProto.DESCRIPTOR.fields if f.name != "value_info"),
                ),
            ):
                data[value_info_key] = text
                skip.append("value_info")
        except _ENCODE_ERRORS:
            pass
    header = _copy_without(graph, tuple(skip))
    if header.ListFields() or pj.has_unknown(header):
        data[extra_key] = dumps({"graph": pj.encode_exact(header)})
    return data


def _encode_model_header(model: Any) -> dict[str, Any]:
    """Root graph keys for every ModelProto field but ``graph``, checked; else opaque."""
    header = _copy_without(model, ("graph",))
    data: dict[str, Any] = {}
    extra = ModelProto()
    try:
        for fd, value in header.ListFields():
            key = MODEL_KEYS.get(fd.name)
            if key is not None and (fd.type != fd.TYPE_STRING or not pj.XML_ILLEGAL.search(value)):
                data[key] = value
            elif fd.name == "opset_import" and all(
                    o.HasField("domain") and o.HasField("version") and len(o.ListFields()) == 2
                    for o in value):
                data["opset_import"] = pj.check_text(dumps([[o.domain, o.version] for o in value]))
            elif fd.name == "metadata_props" and _simple_pairs(value):
                data["model_metadata_props"] = pj.check_text(dumps(_pairs(value)))
            elif fd.is_repeated:
                getattr(extra, fd.name).extend(value)
            elif fd.type == fd.TYPE_MESSAGE:
                getattr(extra, fd.name).CopyFrom(value)
            else:
                setattr(extra, fd.name, value)
        if extra.ListFields():
            data["model_extra"] = dumps(pj.encode_exact(extra))
        if _same(decode_model_header(data), header):
            return data
    except _ENCODE_ERRORS:
        pass
    return {"model_extra": dumps(pj.encode_opaque(header))}


# -- the document -------------------------------------------------------------------


def model_to_document(model: Any, sink: SidecarWriter | None = None, *, flat: bool = False,
                      source_onnx: str | None = None, lazy: Any = None) -> Document:
    """The GraphML Document of ``model``; tensor bytes are written to ``sink``.

    ``lazy``: a :class:`modelexport.converter._onnx_reader.LazyModel` whose ``model`` this is; the
    main graph's initializer bytes it left in the file are streamed from there.

    ``sink`` defaults to a throw-away in-memory writer. The root graph's ``sidecar``,
    ``sidecar_size`` and ``sidecar_sha256`` are set from ``sink`` but the file name is
    left to the file layer, which knows it.
    """
    if sink is None:
        sink = SidecarWriter(io.BytesIO())
    b = _Builder(sink, parameter_names({p.key: p.value for p in model.metadata_props}))
    graph = model.graph
    root = _root_graph(model, source_onnx)
    b.note_types(graph)
    hierarchy = derive_hierarchy(model)

    scope = _Scope()
    top = _input_nodes(b, graph, scope)  # the root graph's own nodes, in document order
    groups = _ModuleGroups(hierarchy.modules, b, top)
    op_parents = [groups.id_of(t) for t in hierarchy.node_tags]
    if hierarchy.source == "tags":
        # Every module of the recorded module tree is a group, also one without ops of
        # its own or below it (a module whose work was folded into constants), so that
        # modules are counted alike everywhere: the tree is the one definition.
        for tag in hierarchy.modules:
            groups.id_of(tag)
    inits = _initializer_nodes(b, graph, hierarchy.node_tags, groups, scope, lazy)
    ops = b.ops(graph, op_parents, list(hierarchy.node_tags), scope)
    outputs = _output_nodes(b, graph, scope)

    groups.place(inits + ops)
    top.extend(outputs)
    root.nodes = top
    root.edges = b.finish_edges()
    root.data["sidecar_size"] = sink.size
    root.data["sidecar_sha256"] = sink.sha256
    doc = Document(root, keys=[Key(k.id, k.domain, k.name, k.type) for k in fmt.KEYS.values()])
    if flat:
        flatten(doc)
    return doc


def _root_graph(model: Any, source_onnx: str | None) -> Graph:
    """The root graph, carrying the model header and the main graph's own fields."""
    root = Graph(ROOT_GRAPH_ID)
    root.data["format"] = fmt.FORMAT_VERSION
    root.data.update(_encode_model_header(model))
    root.data.update(encode_graph_fields(model.graph, "graph_name", "graph_doc_string",
                                         "graph_extra", "value_info"))
    if not model.HasField("graph"):
        root.data["graph_extra"] = dumps({GRAPH_ABSENT: True})
    if source_onnx is not None:
        root.data["source_onnx"] = _safe(source_onnx)
    return root


def _input_nodes(b: _Builder, graph: Any, scope: _Scope) -> list[Node]:
    """Nodes of the graph's inputs, at the root; their names enter ``scope``."""
    nodes = []
    for i, vi in enumerate(graph.input):
        n = b.value_info_node(vi, fmt.KIND_INPUT, i, "", "i")
        scope.names[vi.name] = (n.id, 0)
        nodes.append(n)
    return nodes


def _output_nodes(b: _Builder, graph: Any, scope: _Scope) -> list[Node]:
    """Nodes of the graph's outputs, at the root, each with the edge that feeds it."""
    nodes = []
    for i, vi in enumerate(graph.output):
        n = b.value_info_node(vi, fmt.KIND_OUTPUT, i, "", "o")
        nodes.append(n)
        b.edge_to(scope, vi.name, n.id, 0)
    return nodes


class _ModuleGroups:
    """The group node of each module tag, made with its ancestors when first asked for."""

    def __init__(self, infos: dict[str, ModuleInfo], b: _Builder, top: list[Node]) -> None:
        self.infos = infos
        self.b = b
        self.top = top  # top-level groups are appended here as they are made
        self.groups: dict[str, Node] = {}

    def id_of(self, tag: str) -> str:
        """The id of the group node of ``tag``; ``""`` for the root."""
        if tag == ROOT:
            return ""
        hit = self.groups.get(tag)
        if hit is not None:
            return hit.id
        parent: Node | None = None
        for anc in lineage(tag):
            m = self.groups.get(anc)
            if m is None:
                m = self._new_group(anc, parent)
                self.groups[anc] = m
                (parent.graph.nodes if parent else self.top).append(m)
            parent = m
        return parent.id if parent else ""

    def _new_group(self, tag: str, parent: Node | None) -> Node:
        info = self.infos.get(tag) or ModuleInfo()
        safe = self.b.safe
        data: dict[str, Any] = {"kind": fmt.KIND_MODULE,
                                "label": safe(tag.rsplit("/", 1)[-1]),
                                "parent": parent.id if parent else "",
                                "hierarchy_tag": safe(tag)}
        if info.path is not None:
            data["name"] = data["module_path"] = safe(str(info.path))
        if info.cls is not None:
            data["module_class"] = safe(str(info.cls))
        if info.parameters is not None:
            data["parameters"] = info.parameters
        mid = self.b.new_id("m")
        return Node(mid, data, Graph(f"{mid}:"))

    def place(self, nodes: list[Node]) -> None:
        """Put each node into the group its ``parent`` names (or at the top)."""
        by_id = {m.id: m for m in self.groups.values()}
        for n in nodes:
            parent = n.data["parent"]
            (by_id[parent].graph.nodes if parent else self.top).append(n)


def _initializer_nodes(b: _Builder, graph: Any, node_tags: list[str], groups: _ModuleGroups,
                       scope: _Scope, lazy: Any) -> list[Node]:
    """Initializer nodes, each in the common module of the ops that read it."""
    init_names = {t.name for t in graph.initializer}
    readers: dict[str, set[str]] = {}
    if init_names:
        for node, tag in zip(graph.node, node_tags, strict=True):
            used: set[str] = set()
            _used_names(node, used)
            for name in used & init_names:
                readers.setdefault(name, set()).add(tag)
    nodes = []
    for k, t in enumerate(graph.initializer):
        tag = common_tag(sorted(readers[t.name])) if t.name in readers else ROOT
        n = b.initializer_node(t, k, groups.id_of(tag), tag, _lazy_raw(lazy, k, b.sink))
        scope.names[t.name] = (n.id, 0)
        nodes.append(n)
    return nodes


def _lazy_raw(lazy: Any, index: int, sink: SidecarWriter) -> _tensors.LazyRaw | None:
    if lazy is None or index not in lazy.raw:
        return None
    length = lazy.raw[index].length
    return _tensors.LazyRaw(
        length,
        place=lambda: sink.add_stream(length, lambda write: lazy.copy_into(index, write)),
        read=lambda: lazy.read(index), data=lazy.tiny.get(index))


def flatten(doc: Document) -> None:
    """--flat: every node on the root graph; ``parent`` stays the hierarchy."""
    nodes = [node for node, _owner in doc.iter_nodes()]
    for node in nodes:
        node.graph = None
    doc.graph.nodes = nodes


__all__ = ["ATTRIBUTE_TENSOR_SIDECAR_BYTES", "flatten", "model_to_document", "type_summary"]
