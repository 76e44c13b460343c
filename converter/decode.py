"""GraphML :class:`modelexport.graphml.model.Document` → ONNX ModelProto, in memory.

:func:`document_to_model` is the inverse of
:func:`modelexport.converter.encode.model_to_document`. The rebuild reads only what is
authoritative: each node's ``kind``, ``parent`` and ``index``, the ops' ``inputs`` /
``outputs`` / ``attributes`` JSON, and the tensor, value-info and header keys. Nesting
and edges are presentation (edges must still point at existing nodes). Tensor bytes
come from ``read(ref)``, one sidecar reference at a time.

The element decoders here are also what the exporter uses to check each element it
writes, so the two directions cannot drift apart.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from google.protobuf.message import DecodeError
from onnx import AttributeProto, GraphProto, ModelProto, NodeProto, ValueInfoProto

from modelexport.converter import _protojson as pj
from modelexport.converter import _tensors
from modelexport.converter._fields import (
    GRAPH_ABSENT,
    GRAPH_ATTR_FIELDS,
    MODEL_KEYS,
    NODE_TEXT_FIELDS,
)
from modelexport.converter.errors import GraphMLToOnnxError
from modelexport.graphml import format as fmt
from modelexport.graphml.model import Document, Node

_DECODE_ERRORS = (ValueError, KeyError, TypeError, IndexError, AttributeError, DecodeError)

Read = Callable[[dict[str, Any]], bytes]


def _str_list(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError("expected a JSON list of strings")
    return value


def _set_pairs(target: Any, text: str) -> None:
    for key, value in json.loads(text):
        entry = target.add()
        entry.key = key
        entry.value = value


def _is_opaque(obj: Any) -> bool:
    return isinstance(obj, dict) and pj.OPAQUE in obj


# -- element decoders ---------------------------------------------------------------


def decode_value_info(data: dict[str, Any], vi: Any = None) -> Any:
    vi = ValueInfoProto() if vi is None else vi
    extra = data.get("node_extra")
    if extra is not None:
        return pj.decode_opaque(json.loads(extra), vi)
    if "name" in data:
        vi.name = data["name"]
    if "type" in data:
        vi.type.SetInParent()
        pj.decode_message(json.loads(data["type"]), vi.type)
    if "doc_string" in data:
        vi.doc_string = data["doc_string"]
    if "metadata_props" in data:
        _set_pairs(vi.metadata_props, data["metadata_props"])
    return vi


def decode_node_fields(data: dict[str, Any], node: Any = None) -> Any:
    """A NodeProto's own fields (no attributes) from an op node's keys."""
    node = NodeProto() if node is None else node
    extra = json.loads(data["node_extra"]) if "node_extra" in data else {}
    if _is_opaque(extra):
        return pj.decode_opaque(extra, node)
    for key in NODE_TEXT_FIELDS:
        if key in data:
            setattr(node, key, data[key])
    node.input.extend(_str_list(json.loads(data["inputs"])))
    node.output.extend(_str_list(json.loads(data["outputs"])))
    if "metadata_props" in data:
        _set_pairs(node.metadata_props, data["metadata_props"])
    if extra:
        pj.decode_message(extra, node)
    return node


def decode_plain_attribute(obj: dict[str, Any], attr: Any = None) -> Any:
    """An attribute without tensors or graphs (see ``encode_plain_attribute``)."""
    attr = AttributeProto() if attr is None else attr
    rest = {}
    for key, value in obj.items():
        if key == "s":
            attr.s = value.encode("utf-8")
        elif key == "strings":
            attr.strings.extend(v.encode("utf-8") for v in value)
        elif key == "s_b64":
            rest["s"] = value
        elif key == "strings_b64":
            rest["strings"] = value
        else:
            rest[key] = value
    return pj.decode_message(rest, attr)


def decode_attribute(obj: dict[str, Any], read: Read,
                     build_graph: Callable[[str, Any], None], attr: Any = None) -> Any:
    """An attribute; tensors' bytes via ``read``, subgraphs via ``build_graph(id, proto)``."""
    attr = AttributeProto() if attr is None else attr
    if _is_opaque(obj):
        pj.decode_opaque({pj.OPAQUE: obj[pj.OPAQUE]}, attr)
    else:
        plain = {k: v for k, v in obj.items() if k not in ("t", "tensors") + GRAPH_ATTR_FIELDS}
        decode_plain_attribute(plain, attr)
        if "t" in obj:
            attr.t.SetInParent()
            _tensors.decode_tensor(obj["t"], read, attr.t)
        for t in obj.get("tensors", ()):
            _tensors.decode_tensor(t, read, attr.tensors.add())
    if "g" in obj:
        attr.g.SetInParent()
        build_graph(obj["g"]["subgraph"], attr.g)
    for ref in obj.get("graphs", ()):
        build_graph(ref["subgraph"], attr.graphs.add())
    return attr


def decode_model_header(data: dict[str, Any], model: Any = None) -> Any:
    """Every ModelProto field but ``graph``, from the root graph's keys."""
    model = ModelProto() if model is None else model
    for fieldname, key in MODEL_KEYS.items():
        if key in data:
            setattr(model, fieldname, data[key])
    if "opset_import" in data:
        for domain, version in json.loads(data["opset_import"]):
            entry = model.opset_import.add()
            entry.domain = domain
            entry.version = version
    if "model_metadata_props" in data:
        _set_pairs(model.metadata_props, data["model_metadata_props"])
    if "model_extra" in data:
        model.MergeFrom(pj.decode_exact(json.loads(data["model_extra"]), ModelProto()))
    return model


def decode_graph_fields(data: dict[str, Any], name_key: str, doc_key: str, extra_key: str,
                        value_info_key: str | None, graph: Any) -> Any:
    """A GraphProto's own fields; inverse of ``encode_graph_fields``."""
    if name_key in data:
        graph.name = data[name_key]
    if doc_key in data:
        graph.doc_string = data[doc_key]
    if value_info_key is not None and value_info_key in data:
        for item in json.loads(data[value_info_key]):
            pj.decode_message(item, graph.value_info.add())
    if extra_key in data:
        extra = json.loads(data[extra_key])
        if "graph" in extra:
            graph.MergeFrom(pj.decode_exact(extra["graph"], GraphProto()))
    return graph


# -- the model ----------------------------------------------------------------------

_ELEMENT_KINDS = (fmt.KIND_INPUT, fmt.KIND_INITIALIZER, fmt.KIND_OP, fmt.KIND_OUTPUT)


class _Index:
    """Nodes by id, and each graph's elements (by scope: "" or a subgraph container)."""

    def __init__(self, doc: Document) -> None:
        self.nodes: dict[str, Node] = {}
        for node, _owner in doc.iter_nodes():
            if node.id in self.nodes:
                raise GraphMLToOnnxError(f"node id {node.id!r} is used twice; ids must be unique")
            kind = node.data.get("kind")
            if kind not in fmt.NODE_KINDS:
                raise GraphMLToOnnxError(f"node {node.id!r}: kind {kind!r} is not one of "
                                         f"{', '.join(fmt.NODE_KINDS)}")
            self.nodes[node.id] = node
        for edge in doc.iter_edges():
            for end in (edge.source, edge.target):
                if end not in self.nodes:
                    raise GraphMLToOnnxError(f"edge {edge.id!r} points at node {end!r}, which "
                                             f"does not exist; remove the edge or add the node")
        self._scope: dict[str, str] = {}
        self.elements: dict[str, dict[str, list[Node]]] = {}
        for nid, node in self.nodes.items():
            kind = node.data["kind"]
            if kind in _ELEMENT_KINDS:
                bucket = self.elements.setdefault(
                    self.scope_of(nid), {k: [] for k in _ELEMENT_KINDS}
                )
                bucket[kind].append(node)

    def parent(self, nid: str) -> str:
        parent = self.nodes[nid].data.get("parent", "")
        if not isinstance(parent, str) or (parent and parent not in self.nodes):
            raise GraphMLToOnnxError(
                f"node {nid!r}: parent {parent!r} is not a node of the document"
            )
        return parent

    def scope_of(self, nid: str) -> str:
        """The subgraph container holding ``nid``'s graph, or "" for the main graph."""
        chain: list[str] = []
        seen: set[str] = set()
        cur = self.parent(nid)
        while cur and cur not in self._scope:
            if self.nodes[cur].data.get("kind") == fmt.KIND_SUBGRAPH:
                break
            if cur in seen:
                raise GraphMLToOnnxError(f"node {cur!r}: its parent chain loops back on itself")
            seen.add(cur)
            chain.append(cur)
            cur = self.parent(cur)
        if not cur:
            scope = ""
        elif cur in self._scope:
            scope = self._scope[cur]
        else:
            scope = cur
        for c in chain:
            self._scope[c] = scope
        return scope

    def ordered(self, scope: str, kind: str) -> list[Node]:
        items = self.elements.get(scope, {}).get(kind, [])
        try:
            ordered = sorted(items, key=lambda n: n.data["index"])
        except (KeyError, TypeError) as e:
            bad = next(n for n in items if not isinstance(n.data.get("index"), int))
            raise GraphMLToOnnxError(f"node {bad.id!r} ({kind}) has no integer 'index'; it is "
                                     f"needed to rebuild the ONNX order") from e
        for i, node in enumerate(ordered):
            if node.data["index"] != i:
                raise GraphMLToOnnxError(
                    f"node {node.id!r} ({kind}): index {node.data['index']} breaks the sequence "
                    f"0..{len(ordered) - 1} of its graph; indexes must be unique and contiguous")
        return ordered


def _json(node: Node, key: str) -> Any:
    try:
        return json.loads(node.data[key])
    except KeyError as e:
        raise GraphMLToOnnxError(f"node {node.id!r}: key {key!r} is missing") from e
    except (TypeError, ValueError) as e:
        raise GraphMLToOnnxError(f"node {node.id!r}: key {key!r} is not valid JSON ({e})") from e


@dataclass
class Deferred:
    """The main graph's initializers, kept apart so their bytes can be streamed.

    ``initializers.initializer[i]`` is the i-th initializer; when ``refs[i]`` is a
    sidecar reference its ``raw_data`` was left unread for the writer to copy.
    """

    initializers: Any = field(default_factory=GraphProto)
    refs: list[dict[str, Any] | None] = field(default_factory=list)


def document_to_model(doc: Document, read: Read, *, deferred: Deferred | None = None) -> Any:
    """Rebuild the ONNX ModelProto a Document describes; ``read(ref)`` gives tensor bytes.

    With ``deferred``, the main graph's initializers go there instead of into the model,
    and those whose bytes are raw data in the sidecar are not read (see :class:`Deferred`).
    """
    data = doc.graph.data
    if data.get("format") != fmt.FORMAT_VERSION:
        raise GraphMLToOnnxError(
            f"the GraphML's format is {data.get('format')!r}, not {fmt.FORMAT_VERSION!r}: only "
            f"files written by export-graphml can be turned back into ONNX")
    index = _Index(doc)
    model = ModelProto()
    try:
        decode_model_header(data, model)
        decode_graph_fields(data, "graph_name", "graph_doc_string", "graph_extra", "value_info",
                            model.graph)
    except _DECODE_ERRORS as e:
        raise GraphMLToOnnxError(f"the root graph's model keys cannot be read: {e}") from e
    built: set[str] = set()

    def build_graph(scope: str, graph: Any) -> None:
        if scope:
            container = index.nodes.get(scope)
            if container is None or container.data.get("kind") != fmt.KIND_SUBGRAPH:
                raise GraphMLToOnnxError(f"an attribute refers to subgraph {scope!r}, which is "
                                         f"not a subgraph node of the document")
            if scope in built:
                raise GraphMLToOnnxError(f"subgraph {scope!r} is referred to twice")
            built.add(scope)
            try:
                decode_graph_fields(container.data, "name", "doc_string", "node_extra", None, graph)
            except _DECODE_ERRORS as e:
                raise GraphMLToOnnxError(f"node {scope!r} (subgraph): {e}") from e
        for node in index.ordered(scope, fmt.KIND_INPUT):
            _element(node, lambda n=node: decode_value_info(n.data, graph.input.add()))
        for node in index.ordered(scope, fmt.KIND_INITIALIZER):
            if deferred is not None and not scope:
                _element(node, lambda n=node: _defer(_json(n, "tensor"), read, deferred))
            else:
                _element(node, lambda n=node: _tensors.decode_tensor(
                    _json(n, "tensor"), read, graph.initializer.add()))
        for node in index.ordered(scope, fmt.KIND_OP):
            _element(node, lambda n=node: _decode_op(n, read, build_graph, graph.node.add()))
        for node in index.ordered(scope, fmt.KIND_OUTPUT):
            _element(node, lambda n=node: decode_value_info(n.data, graph.output.add()))
        _check_acyclic(graph, index.ordered(scope, fmt.KIND_OP), scope)

    build_graph("", model.graph)
    if json.loads(data.get("graph_extra", "{}")).get(GRAPH_ABSENT):
        model.ClearField("graph")
    else:
        model.graph.SetInParent()
    unused = [nid for nid, n in index.nodes.items()
              if n.data["kind"] == fmt.KIND_SUBGRAPH and nid not in built]
    if unused:
        raise GraphMLToOnnxError(f"subgraph node {unused[0]!r} belongs to no op attribute; "
                                 f"remove it or refer to it from its op's 'attributes'")
    return model


def _check_acyclic(graph: Any, ops: list[Node], scope: str) -> None:
    """Refuse ops whose inputs and outputs form a cycle (ONNX graphs are acyclic)."""
    producer: dict[str, int] = {}
    for i, node in enumerate(graph.node):
        for name in node.output:
            if name:
                producer[name] = i
    users: list[list[int]] = [[] for _ in graph.node]
    pending = [0] * len(graph.node)
    for i, node in enumerate(graph.node):
        for p in {producer[n] for n in node.input if n in producer}:
            users[p].append(i)
            pending[i] += 1
    ready = [i for i, count in enumerate(pending) if count == 0]
    done = 0
    while ready:
        i = ready.pop()
        done += 1
        for j in users[i]:
            pending[j] -= 1
            if pending[j] == 0:
                ready.append(j)
    if done < len(graph.node):
        stuck = next(i for i, count in enumerate(pending) if count)
        where = f"subgraph {scope!r}" if scope else "the main graph"
        raise GraphMLToOnnxError(
            f"node {ops[stuck].id!r}: its inputs depend on its own outputs (a cycle in {where}); "
            f"ONNX graphs must be acyclic, fix the 'inputs' / 'outputs' of the ops involved")


def _defer(obj: dict[str, Any], read: Read, deferred: Deferred) -> None:
    tensor = deferred.initializers.initializer.add()
    ref = obj.get(fmt.SIDECAR_REF) if isinstance(obj, dict) else None
    if ref is not None and obj.get(_tensors.DATA_FIELD, "raw_data") == "raw_data":
        header = {k: v for k, v in obj.items() if k != fmt.SIDECAR_REF}
        pj.decode_exact(header, tensor)
        deferred.refs.append(ref)
    else:
        _tensors.decode_tensor(obj, read, tensor)
        deferred.refs.append(None)


def _element(node: Node, build: Callable[[], Any]) -> None:
    try:
        build()
    except GraphMLToOnnxError:
        raise
    except _DECODE_ERRORS as e:
        raise GraphMLToOnnxError(f"node {node.id!r} ({node.data.get('kind')}): cannot be rebuilt "
                                 f"from its data: {type(e).__name__}: {e}") from e


def _decode_op(node: Node, read: Read, build_graph: Callable[[str, Any], None], proto: Any) -> Any:
    decode_node_fields(node.data, proto)
    if "attributes" in node.data:
        attrs = _json(node, "attributes")
        if not isinstance(attrs, list):
            raise ValueError("'attributes' is not a JSON list")
        for obj in attrs:
            decode_attribute(obj, read, build_graph, proto.attribute.add())
    return proto
