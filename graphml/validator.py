"""Validate a modelexport GraphML file: XSD first, then the dialect's semantic rules.

:func:`validate_graphml` returns a :class:`ValidationReport` listing every problem
found as a :class:`Finding` (element, line, message); it raises only when the file
itself cannot be opened. ``report.raise_if_invalid()`` turns a failed report into a
:class:`GraphMLValidationError` carrying the findings.

Checks, in order:

1. safe, well-formed GraphML (the reader's hardened parser);
2. the XSD: ``project`` (default; admits nesting and yFiles markup) or ``official``
   (GraphML 1.1 as published: only flat documents pass it under lxml);
3. the document model: declared keys, values of their key's type, unique ids, edges
   to existing nodes (the reader's rules);
4. the dialect (SPEC section 6): key declarations as fixed by ``graphml.format``,
   ``kind`` and ``parent`` on every node and ``parent`` agreeing with nesting, edges
   on the root graph after the nodes, tags agreeing with nesting, modules not empty,
   every op input produced in scope, edges matching their tensors, no cycles;
5. the sidecar: a plain file name beside the GraphML, of the recorded size and
   SHA-256 (streamed), and every tensor reference inside it, aligned, and as long
   as its dtype and dims say.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import defaultdict, deque
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

from lxml import etree

from modelexport.graphml import format as fmt
from modelexport.graphml.errors import GraphMLError, GraphMLValidationError
from modelexport.graphml.model import Document, Node
from modelexport.graphml.reader import MAX_BYTES, parse_xml, read_bytes, read_tree

#: At most this many XSD errors are reported (the first ones, in document order).
MAX_XSD_FINDINGS = 50

_G = "{%s}" % fmt.GRAPHML_NS


@dataclass(frozen=True)
class Finding:
    """One problem: the element it concerns, its line, and what is wrong."""

    check: str  # which check found it: parse, xsd, model, dialect, tags, inputs, sidecar
    element: str  # e.g. "node 'op3'", "key 'dtype'", "sidecar"; "" for the whole file
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line else ""
        what = f"{self.element}: " if self.element else ""
        return f"{where}{what}{self.message}"


@dataclass
class ValidationReport:
    """What :func:`validate_graphml` found; ``ok`` when nothing."""

    path: str
    schema: str
    findings: list[Finding] = field(default_factory=list)
    nodes: int = 0
    edges: int = 0

    @property
    def ok(self) -> bool:
        return not self.findings

    def raise_if_invalid(self) -> None:
        """Raise :class:`GraphMLValidationError` with the findings unless ``ok``."""
        if self.findings:
            first = self.findings[0]
            more = f" (and {len(self.findings) - 1} more)" if len(self.findings) > 1 else ""
            raise GraphMLValidationError(f"{self.path}: invalid GraphML: {first}{more}",
                                         list(self.findings))

    def to_dict(self) -> dict:
        return {"path": self.path, "schema": self.schema, "ok": self.ok,
                "nodes": self.nodes, "edges": self.edges,
                "findings": [asdict(f) for f in self.findings]}


@lru_cache(maxsize=None)
def _schema(name: str) -> etree.XMLSchema:
    from modelexport.schemas import schema_path

    parser = etree.XMLParser(no_network=True, resolve_entities=False)
    return etree.XMLSchema(etree.parse(str(schema_path(name)), parser))


def validate_graphml(path: str | os.PathLike, *, check_sidecar: bool = True,
                     schema: str = "project", max_bytes: int = MAX_BYTES) -> ValidationReport:
    """Validate the GraphML file at ``path``; see the module docstring for the checks.

    ``check_sidecar=False`` skips reading the sidecar file (its name and the tensor
    references are still checked against the recorded size). Raises only if ``path``
    cannot be read (``FileNotFoundError``, ...) or ``schema`` is unknown.
    """
    path = Path(path)
    report = ValidationReport(path=str(path), schema=schema)
    xsd = _schema(schema)
    add = report.findings.append
    try:
        root = parse_xml(read_bytes(path, max_bytes=max_bytes), max_bytes=max_bytes)
    except GraphMLError as e:
        add(Finding("parse", "", None, str(e)))
        return report

    if not xsd.validate(root):
        errors = list(xsd.error_log)[:MAX_XSD_FINDINGS]
        owners = _elements_at({e.line for e in errors}, root)
        for err in errors:
            add(Finding("xsd", owners.get(err.line, ""), err.line,
                        f"schema {schema}: {_xsd_message(err.message)}"))

    try:
        doc, reader = read_tree(root)
    except GraphMLError as e:
        add(Finding("model", "", None, str(e)))
        return report
    report.nodes = len(reader.nodes)
    report.edges = sum(1 for _ in doc.iter_edges())
    edge_lines = {edge.id: line for edge, line in reader.edges_read}
    _Checker(doc, root, reader.nodes, edge_lines, path, check_sidecar, add).run()
    return report


def _elements_at(lines: set[int], root: etree._Element) -> dict[int, str]:
    """For each line, the GraphML element with an id that starts there or encloses it."""
    found: dict[int, str] = {}
    for el in root.iter(_G + "node", _G + "edge", _G + "graph", _G + "key", _G + "data"):
        line = el.sourceline
        if line in lines and line not in found:
            owner = el
            while owner is not None and owner.get("id") is None:
                owner = owner.getparent()
            if owner is not None:
                found[line] = f"{etree.QName(owner).localname} '{owner.get('id')}'"
    return found


def _xsd_message(message: str) -> str:
    return message.replace(_G, "").replace("{http://www.yworks.com/xml/graphml}", "y:")


class _Checker:
    """The dialect's semantic rules over a parsed document."""

    def __init__(self, doc: Document, root: etree._Element, lines: dict[str, int],
                 edge_lines: dict[str, int], path: Path, check_sidecar: bool, add) -> None:
        self.doc, self.root, self.lines, self.path = doc, root, lines, path
        self.edge_lines = edge_lines
        self.check_sidecar = check_sidecar
        self.add = add
        self.nodes: dict[str, Node] = {}
        self.owner: dict[str, Node | None] = {}
        for node, owner in doc.iter_nodes():
            self.nodes[node.id] = node
            self.owner[node.id] = owner
        #: Nested output: the hierarchy is the nesting; flat output: the 'parent' data.
        self.nested = any(n.graph is not None for n in self.nodes.values())

    def finding(self, check: str, node_id: str | None, message: str, *, element: str = "",
                line: int | None = None) -> None:
        if node_id is not None:
            element = f"node '{node_id}'"
            line = self.lines.get(node_id)
        self.add(Finding(check, element, line, message))

    def edge_finding(self, check: str, edge_id: str, message: str) -> None:
        self.add(Finding(check, f"edge '{edge_id}'", self.edge_lines.get(edge_id), message))

    def run(self) -> None:
        self.check_keys()
        self.check_layout()
        self.check_nodes()
        self.check_tags()
        self.check_dataflow()
        self.check_sidecar_and_tensors()

    # -- keys and layout ---------------------------------------------------------------

    def check_keys(self) -> None:
        for el in self.root.iterchildren(_G + "key"):
            kid, line = el.get("id"), el.sourceline
            if el.get("yfiles.type") is not None:
                continue
            if el.get("attr.name") is None or el.get("attr.type") is None:
                self.finding("dialect", None, "declares no attr.name/attr.type; GraphML "
                             "data keys here need both", element=f"key '{kid}'", line=line)
                continue
            spec = fmt.KEYS.get(kid)
            if spec is None:
                continue
            got = (el.get("for"), el.get("attr.name"), el.get("attr.type"))
            want = (spec.domain, spec.name, spec.type)
            if got != want:
                self.finding("dialect", None,
                             f"declared for={got[0]!r} attr.name={got[1]!r} attr.type={got[2]!r}; "
                             f"the dialect fixes for={want[0]!r} attr.name={want[1]!r} "
                             f"attr.type={want[2]!r}", element=f"key '{kid}'", line=line)
        fmt_version = self.doc.graph.data.get("format")
        if fmt_version != fmt.FORMAT_VERSION:
            what = "has no 'format' data" if fmt_version is None else f"has format {fmt_version!r}"
            self.finding("dialect", None, f"the root graph {what}; expected "
                         f"{fmt.FORMAT_VERSION!r} (is this a modelexport GraphML?)",
                         element="graph", line=self._root_graph().sourceline)

    def _root_graph(self) -> etree._Element:
        return self.root.find(_G + "graph")

    def check_layout(self) -> None:
        """Edges on the root graph, after every node."""
        graph_el = self._root_graph()
        seen_edge = None
        for child in graph_el:
            if child.tag == _G + "edge":
                seen_edge = child
            elif child.tag == _G + "node" and seen_edge is not None:
                self.finding("dialect", child.get("id"),
                             f"comes after edge '{seen_edge.get('id')}'; the dialect puts "
                             "every edge after all nodes")
                break
        for el in graph_el.iterdescendants(_G + "edge"):
            if el.getparent() is not graph_el:
                self.finding("dialect", None, "sits in a nested graph; the dialect puts "
                             "every edge in the root graph", element=f"edge '{el.get('id')}'",
                             line=el.sourceline)
                break

    # -- nodes: kind, parent, nesting ----------------------------------------------------

    def check_nodes(self) -> None:
        nested = self.nested
        children: dict[str, int] = defaultdict(int)
        for nid, node in self.nodes.items():
            kind = node.data.get("kind")
            if kind not in fmt.NODE_KINDS:
                self.finding("dialect", nid, f"kind {kind!r} is not one of "
                             f"{', '.join(fmt.NODE_KINDS)}" if kind is not None else
                             "has no 'kind' data; every node needs one")
            parent = node.data.get("parent")
            owner = self.owner[nid]
            if parent is None:
                self.finding("dialect", nid, "has no 'parent' data; every node needs one "
                             "('' at the top)")
                continue
            if parent:
                children[parent] += 1
            if owner is not None:
                if parent != owner.id:
                    self.finding("dialect", nid, f"'parent' says {parent!r} but the node sits "
                                 f"in the group of '{owner.id}'; nesting and parent must agree")
            elif parent:
                if nested:
                    self.finding("dialect", nid, f"'parent' says {parent!r} but the node sits "
                                 "at the top; nesting and parent must agree")
                elif parent not in self.nodes:
                    self.finding("dialect", nid, f"'parent' names {parent!r}, which is not a "
                                 "node of the document")
            if kind in (fmt.KIND_MODULE, fmt.KIND_SUBGRAPH) and nested and node.graph is None:
                self.finding("dialect", nid, f"a {kind} node must be a group (hold a nested "
                             "graph) in nested output")
        for nid, node in self.nodes.items():
            if node.data.get("kind") == fmt.KIND_MODULE and not children.get(nid):
                self.finding("dialect", nid, "module group is empty; every module holds at "
                             "least one node")

    def _parent_of(self, nid: str) -> str | None:
        if self.nested:
            owner = self.owner[nid]
            return owner.id if owner is not None else None
        parent = self.nodes[nid].data.get("parent")
        return parent if isinstance(parent, str) and parent in self.nodes else None

    def _ancestors(self, nid: str):
        seen = {nid}
        p = self._parent_of(nid)
        while p is not None and p not in seen:
            seen.add(p)
            yield self.nodes[p]
            p = self._parent_of(p)

    # -- hierarchy tags ------------------------------------------------------------------

    def check_tags(self) -> None:
        module_by_tag: dict[str, str] = {}
        for nid, node in self.nodes.items():
            if node.data.get("kind") == fmt.KIND_MODULE:
                tag = node.data.get("hierarchy_tag")
                if isinstance(tag, str) and tag:
                    module_by_tag.setdefault(tag, nid)
        for nid, node in self.nodes.items():
            kind = node.data.get("kind")
            if kind not in (fmt.KIND_OP, fmt.KIND_MODULE):
                continue
            tag = node.data.get("hierarchy_tag")
            if not isinstance(tag, str) or not tag:
                continue
            enclosing = next((a for a in self._ancestors(nid)
                              if a.data.get("kind") == fmt.KIND_MODULE), None)
            etag = enclosing.data.get("hierarchy_tag", "") if enclosing is not None else ""
            if enclosing is not None and isinstance(etag, str) and etag:
                below = fmt.tag_within(tag, etag) and (kind == fmt.KIND_OP or tag != etag)
                if not below:
                    self.finding("tags", nid, f"hierarchy_tag {tag!r} is not "
                                 f"{'within' if kind == fmt.KIND_OP else 'below'} the tag "
                                 f"{etag!r} of its enclosing module '{enclosing.id}'")
                    continue
            if kind == fmt.KIND_OP and tag in module_by_tag:
                home = module_by_tag[tag]
                if enclosing is None or enclosing.id != home:
                    where = f"in '{enclosing.id}'" if enclosing is not None else "at the top"
                    self.finding("tags", nid, f"hierarchy_tag {tag!r} is module '{home}', but "
                                 f"the op sits {where}; each op belongs in the group of "
                                 "its tag")

    # -- dataflow: inputs produced, edges matching tensors, no cycles --------------------

    def _json_names(self, nid: str, key: str) -> list[str] | None:
        raw = self.nodes[nid].data.get(key)
        if raw is None:
            return []
        try:
            value = json.loads(raw)
        except (ValueError, TypeError, RecursionError):
            value = None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.finding("dialect", nid, f"data '{key}' is not a JSON list of tensor names")
            return None
        return value

    def _scope(self, nid: str) -> str:
        """The subgraph container a node belongs to ('' for the main graph)."""
        for a in self._ancestors(nid):
            if a.data.get("kind") == fmt.KIND_SUBGRAPH:
                return a.id
        return ""

    def check_dataflow(self) -> None:
        produced: dict[str, set[str]] = defaultdict(set)  # scope -> tensor names
        producers: dict[str, set[str]] = defaultdict(set)  # tensor name -> node ids
        consumers: dict[str, set[str]] = defaultdict(set)
        scopes: dict[str, str] = {}
        op_inputs: dict[str, list[str]] = {}
        for nid, node in self.nodes.items():
            kind = node.data.get("kind")
            if kind not in (fmt.KIND_OP, fmt.KIND_INPUT, fmt.KIND_INITIALIZER, fmt.KIND_OUTPUT):
                continue
            scope = scopes[nid] = self._scope(nid)
            if kind == fmt.KIND_OP:
                outs = self._json_names(nid, "outputs") or []
                ins = self._json_names(nid, "inputs")
                if ins is not None:
                    op_inputs[nid] = ins
                    for name in ins:
                        consumers[name].add(nid)
            elif kind == fmt.KIND_OUTPUT:
                name = node.data.get("name")
                if isinstance(name, str):
                    consumers[name].add(nid)
                outs = []
            else:
                name = node.data.get("name")
                outs = [name] if isinstance(name, str) else []
            for name in outs:
                if name:
                    produced[scope].add(name)
                    producers[name].add(nid)

        def visible(scope: str, name: str) -> bool:
            seen = set()
            while True:
                if name in produced[scope]:
                    return True
                if not scope or scope in seen:
                    return False
                seen.add(scope)
                scope = scopes.get(scope) or self._scope(scope)

        for nid, ins in op_inputs.items():
            for pos, name in enumerate(ins):
                if name and not visible(scopes[nid], name):
                    self.finding("inputs", nid, f"input {pos} {name!r} is produced by no op "
                                 "output, graph input or initializer in scope")
        for nid, node in self.nodes.items():
            if node.data.get("kind") == fmt.KIND_OUTPUT:
                name = node.data.get("name")
                if isinstance(name, str) and name and not visible(scopes[nid], name):
                    self.finding("inputs", nid, f"graph output {name!r} is produced by no node")

        succ: dict[str, list[str]] = defaultdict(list)
        for edge in self.doc.iter_edges():
            succ[edge.source].append(edge.target)
            tensor = edge.data.get("e_tensor")
            if isinstance(tensor, str) and edge.source in self.nodes and edge.target in self.nodes:
                bad = None
                if edge.source not in producers.get(tensor, ()):
                    bad = f"source '{edge.source}' does not produce tensor {tensor!r}"
                elif edge.target not in consumers.get(tensor, ()):
                    bad = f"target '{edge.target}' does not consume tensor {tensor!r}"
                if bad:
                    self.edge_finding("dialect", edge.id, bad)
                    continue
                src = self.nodes[edge.source]
                dtype = edge.data.get("e_dtype")
                sdtype = src.data.get("dtype")
                if (src.data.get("kind") in (fmt.KIND_INPUT, fmt.KIND_INITIALIZER)
                        and dtype and sdtype and dtype != sdtype):
                    self.edge_finding("dialect", edge.id, f"dtype {dtype!r} differs from "
                                      f"{sdtype!r} of its source '{edge.source}'")
        self._check_acyclic(succ)

    def _check_acyclic(self, succ: dict[str, list[str]]) -> None:
        indeg: dict[str, int] = defaultdict(int)
        for targets in succ.values():
            for t in targets:
                indeg[t] += 1
        queue = deque(n for n in self.nodes if not indeg.get(n))
        done = 0
        while queue:
            n = queue.popleft()
            done += 1
            for t in succ.get(n, ()):
                indeg[t] -= 1
                if indeg[t] == 0:
                    queue.append(t)
        if done < len(self.nodes):
            stuck = next(n for n in self.nodes if indeg.get(n, 0) > 0)
            self.finding("dataflow", stuck, "lies on a cycle of edges; an ONNX graph must be "
                         "acyclic")

    # -- sidecar and tensor references -------------------------------------------------------

    def _tensor_refs(self):
        """(node id, where, offset, length, dtype, dims) of every tensor in the sidecar."""
        for nid, node in self.nodes.items():
            data = node.data
            if data.get("kind") == fmt.KIND_INITIALIZER and "offset" in data:
                dims = None
                try:
                    dims = json.loads(data.get("shape", "null"))
                except (ValueError, TypeError, RecursionError):
                    pass
                yield nid, "initializer", data.get("offset"), data.get("length"), \
                    data.get("dtype"), dims
            for key in ("tensor", "attributes"):
                raw = data.get(key)
                if not isinstance(raw, str) or fmt.SIDECAR_REF not in raw:
                    continue
                try:
                    value = json.loads(raw)
                except (ValueError, RecursionError):
                    self.finding("dialect", nid, f"data '{key}' is not valid JSON")
                    continue
                stack = [value]
                while stack:
                    v = stack.pop()
                    if isinstance(v, dict):
                        ref = v.get(fmt.SIDECAR_REF)
                        if isinstance(ref, dict):
                            yield nid, f"{key} JSON", ref.get("offset"), ref.get("length"), \
                                ref.get("dtype"), ref.get("dims")
                        stack.extend(v.values())
                    elif isinstance(v, list):
                        stack.extend(v)

    def check_sidecar_and_tensors(self) -> None:
        gdata = self.doc.graph.data
        name = gdata.get("sidecar")
        size = gdata.get("sidecar_size")
        digest = gdata.get("sidecar_sha256")
        refs = list(self._tensor_refs())
        line = self._root_graph().sourceline
        if not name:
            if refs:
                self.finding("sidecar", None, "tensors refer to a sidecar but the root graph "
                             "names none (data 'sidecar')", element="graph", line=line)
            return
        try:
            sidecar = self._sidecar_path(name, line)
        except (OSError, ValueError) as e:
            self.finding("sidecar", None, f"sidecar {name!r} cannot be used: {e}",
                         element="sidecar", line=line)
            sidecar = None
        if size is None or digest is None:
            self.finding("sidecar", None, "the root graph names a sidecar but not its "
                         "'sidecar_size' and 'sidecar_sha256'", element="graph", line=line)
        actual_size = None
        if sidecar is not None and self.check_sidecar:
            try:
                actual_size = self._check_sidecar_file(sidecar, name, size, digest, line)
            except OSError as e:
                self.finding("sidecar", None, f"sidecar {name!r} cannot be read: "
                             f"{e.strerror or e}", element="sidecar", line=line)
        limit = size if isinstance(size, int) else actual_size
        for nid, where, offset, length, dtype, dims in refs:
            self._check_ref(nid, where, offset, length, dtype, dims, limit)

    def _check_sidecar_file(self, sidecar: Path, name: str, size, digest, line) -> int | None:
        """Check the sidecar file's size and SHA-256 (streamed); return its size if present."""
        def bad(message: str) -> None:
            self.finding("sidecar", None, message, element="sidecar", line=line)

        if not sidecar.is_file():
            bad(f"sidecar {name!r} is missing; it must sit beside the GraphML, in "
                f"{self.path.resolve().parent}")
            return None
        actual_size = sidecar.stat().st_size
        if size is not None and actual_size != size:
            bad(f"sidecar {name!r} is {actual_size} bytes, the GraphML records {size}; it is "
                "truncated or not the file written with this GraphML")
        elif isinstance(digest, str):
            h = hashlib.sha256()
            with sidecar.open("rb") as f:
                while chunk := f.read(1 << 20):
                    h.update(chunk)
            if h.hexdigest() != digest.lower():
                bad(f"sidecar {name!r} has SHA-256 {h.hexdigest()}, the GraphML records "
                    f"{digest}; the file was changed or corrupted")
        return actual_size

    def _sidecar_path(self, name: object, line: int) -> Path | None:
        try:
            return fmt.sidecar_location(self.path, name)
        except ValueError as e:
            self.finding("sidecar", None, str(e), element="sidecar", line=line)
            return None

    def _check_ref(self, nid, where, offset, length, dtype, dims, limit) -> None:
        def bad(msg: str) -> None:
            self.finding("sidecar", nid, f"{where} tensor: {msg}")

        if not isinstance(offset, int) or isinstance(offset, bool) or \
                not isinstance(length, int) or isinstance(length, bool):
            return bad("needs integer 'offset' and 'length' into the sidecar")
        if offset < 0 or length < 0:
            return bad(f"offset {offset} / length {length} must not be negative")
        if offset % fmt.SIDECAR_ALIGNMENT:
            bad(f"offset {offset} is not aligned to {fmt.SIDECAR_ALIGNMENT} bytes")
        if limit is not None and offset + length > limit:
            bad(f"bytes {offset}..{offset + length} lie outside the {limit}-byte sidecar")
        if dtype not in fmt.DTYPES:
            return bad(f"dtype {dtype!r} is not an ONNX element type")
        if not isinstance(dims, list) or not all(isinstance(d, int) and not isinstance(d, bool)
                                                 and d >= 0 for d in dims):
            return bad(f"dims {dims!r} are not a list of non-negative integers")
        want = fmt.expected_nbytes(dtype, dims)
        if want is None:
            bad(f"dtype {dtype} has no fixed size and cannot sit in the sidecar")
        elif want != length:
            bad(f"length {length} does not match {dtype} x {dims} = {want} bytes")
