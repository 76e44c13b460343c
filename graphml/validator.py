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
   reference boxes (kind ``ref``) leaves naming an existing value node, never fed, their
   edges checked as edges of the node they stand for;
5. the sidecar: a plain file name beside the GraphML, of the recorded size and
   SHA-256 (streamed), and every tensor reference inside it, aligned, and as long
   as its dtype and dims say.

It is one streaming pass: lxml's ``iterparse`` checks the XSD while it parses, each
node and edge is read into a compact record (its id, kind, parent, tag, tensor names,
sidecar references; tensor names and other repeated strings shared) and its element
freed, and the semantic checks run on those records. Memory stays a fraction of the
file, where a whole lxml tree is ~10-16 times it. Only a file that fails the XSD is
parsed whole, when it is small enough, to name each schema error's element and line
(the streaming validator reports no lines).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import defaultdict, deque
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path

from lxml import etree

from modelexport.graphml import format as fmt
from modelexport.graphml.errors import (
    GraphMLError,
    GraphMLFormatError,
    GraphMLParseError,
    GraphMLValidationError,
)
from modelexport.graphml.layout import gc_paused
from modelexport.graphml.reader import (
    _EVENT_TAGS,
    _PARSER_OPTIONS,
    _T_DATA,
    _T_DESC,
    _T_EDGE,
    _T_GRAPH,
    _T_GRAPHML,
    _T_KEY,
    _T_NODE,
    MAX_BYTES,
    _check_root,
    _Reader,
    _syntax_error,
    _where,
    check_file,
    parse_xml,
    read_bytes,
)

#: At most this many XSD errors are reported (the first ones, in document order).
MAX_XSD_FINDINGS = 50
#: A file failing the XSD is parsed whole to name each error's element and line up to
#: this size; beyond it the errors are reported as the streaming validator gives them.
XSD_TREE_LIMIT = 64 * 1024**2

_G = f"{{{fmt.GRAPHML_NS}}}"


@dataclass(frozen=True)
class Finding:
    """One problem: the element it concerns, its line, and what is wrong."""

    check: str  # which check found it: parse, xsd, model, dialect, tags, refs, inputs, sidecar
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
    # schema findings past MAX_XSD_FINDINGS: counted, not listed
    omitted: int = 0

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
                "findings": [asdict(f) for f in self.findings],
                "omitted_findings": self.omitted}


@cache
def _schema(name: str) -> etree.XMLSchema:
    from modelexport.schemas import schema_path

    parser = etree.XMLParser(no_network=True, resolve_entities=False)
    return etree.XMLSchema(etree.parse(str(schema_path(name)), parser))


#: The project schema's identity constraints that the streaming pass keeps: both over
#: the root's own children only. libxml2 keeps an entry for every element matched by the
#: others (a ``.//`` selector at the root, or ``./g:data`` of every node and edge) until
#: the document ends: 1.2 GB and 4 times the parse time for a 100,000-node file. So the
#: streaming pass leaves those out and the scan checks the same rules on its records:
#: data keys declared and not repeated in an element, node ids present and unique, edge
#: ids unique, edge ends existing (the reader's rules), graph ids unique (below); ports,
#: hyperedges and endpoints are refused by the reader.
_STREAMED_IDC = ("key_id_key", "graphml_data_key_unique")


@cache
def _streaming_schema(name: str) -> tuple[etree.XMLSchema, bool]:
    """The schema the streaming pass checks, and whether it is the project schema
    without the identity constraints the scan checks itself (see above)."""
    if name != "project":
        return _schema(name), False
    from modelexport.schemas import schema_path

    parser = etree.XMLParser(no_network=True, resolve_entities=False)
    doc = etree.parse(str(schema_path(name)), parser)
    xs = "{http://www.w3.org/2001/XMLSchema}"
    dropped = 0
    for idc in list(doc.iter(xs + "key", xs + "keyref", xs + "unique")):
        if idc.get("name") not in _STREAMED_IDC:
            idc.getparent().remove(idc)
            dropped += 1
    return etree.XMLSchema(doc), dropped > 0


def validate_graphml(path: str | os.PathLike, *, check_sidecar: bool = True,
                     schema: str = "project", max_bytes: int = MAX_BYTES) -> ValidationReport:
    """Validate the GraphML file at ``path``; see the module docstring for the checks.

    ``check_sidecar=False`` skips reading the sidecar file (its name and the tensor
    references are still checked against the recorded size). Raises only if ``path``
    cannot be read (``FileNotFoundError``, ...) or ``schema`` is unknown.
    """
    with gc_paused():  # the per-node records hold no cycles
        return _validate(Path(path), check_sidecar, schema, max_bytes)


def _validate(path: Path, check_sidecar: bool, schema: str, max_bytes: int) -> ValidationReport:
    report = ValidationReport(path=str(path), schema=schema)
    xsd = _schema(schema)
    streaming_xsd, lean = _streaming_schema(schema)
    add = report.findings.append
    try:
        check_file(path, max_bytes=max_bytes)
        scan = _Scan(path)
        xsd_errors = scan.run(streaming_xsd)
        if scan.model_error is None and not scan.complete:
            scan = _Scan(path)  # the schema stopped the pass early: read the rest without it
            scan.run(None)
    except GraphMLError as e:
        add(Finding("parse", "", None, str(e)))
        return report
    # A broken reader rule may be an identity constraint the streaming schema left out:
    # then the whole schema says which (on files small enough to parse whole).
    suspect = lean and (scan.model_error is not None or scan.duplicate_graph is not None)
    if xsd_errors or suspect:
        if scan.duplicate_graph is not None:
            gid, line = scan.duplicate_graph
            xsd_errors = [*xsd_errors, _StreamedError(
                line, f"Element 'graph': Duplicate key-sequence ['{gid}'] in unique "
                "identity-constraint 'graph_id_unique'.")]
        try:
            findings, report.omitted = _xsd_findings(path, xsd, schema, xsd_errors,
                                                     max_bytes)
            report.findings.extend(findings)
        except GraphMLError as e:
            add(Finding("parse", "", None, str(e)))
            return report
    if scan.model_error is not None:
        add(Finding("model", "", None, str(scan.model_error)))
        return report
    report.nodes = len(scan.records)
    report.edges = len(scan.edges)
    _Checker(scan, path, check_sidecar, add).run()
    return report


@dataclass(frozen=True)
class _StreamedError:
    """An identity-constraint error found by the scan, worded as libxml2 words its own."""

    line: int
    message: str


def _xsd_findings(path: Path, xsd: etree.XMLSchema, schema: str, streamed: list,
                  max_bytes: int) -> tuple[list[Finding], int]:
    """Findings for a file that failed the XSD, the first MAX_XSD_FINDINGS of them, and
    how many more there are: from a whole-tree validation, which names elements and
    lines, when the file is small enough; else as streamed."""
    if path.stat().st_size > XSD_TREE_LIMIT:
        return ([Finding("xsd", "", err.line or None,
                         f"schema {schema}: {_xsd_message(err.message)}")
                 for err in streamed[:MAX_XSD_FINDINGS]],
                max(0, len(streamed) - MAX_XSD_FINDINGS))
    root = parse_xml(read_bytes(path, max_bytes=max_bytes), max_bytes=max_bytes)
    xsd.validate(root)
    every = list(xsd.error_log)
    errors = every[:MAX_XSD_FINDINGS]
    owners = _elements_at({e.line for e in errors}, root)
    return ([Finding("xsd", owners.get(err.line, ""), err.line,
                     f"schema {schema}: {_xsd_message(err.message)}") for err in errors],
            len(every) - len(errors))


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


class _Record:
    """What the semantic checks need of one node; strings shared through ``_Scan.intern``."""

    __slots__ = ("id", "line", "kind", "parent", "owner", "group", "tag", "name", "dtype",
                 "ins", "outs", "refs", "bad_json", "points", "parameters")

    def __init__(self, nid: str, line: int, owner: str | None) -> None:
        self.id, self.line, self.owner = nid, line, owner
        self.group = False
        self.kind = self.parent = self.tag = self.name = self.dtype = None
        self.ins = self.outs = None  # tuple of tensor names, _BAD, or None (no data)
        self.refs = ()  # (where, offset, length, dtype, dims) of each sidecar reference
        self.bad_json = ()  # data keys that hold sidecar references but are not JSON
        self.points = None  # kind ref: the id its 'ref' data names
        self.parameters = None  # the 'parameters' data as written (a module's count)


_BAD = "bad"  # marker: the data is not a JSON list of tensor names


class _Scan(_Reader):
    """One streaming pass over a GraphML file (XSD checked as it parses): key
    declarations, the root graph's data, and a compact record per node and edge.

    The reader's rules apply as in :mod:`modelexport.graphml.reader`; the first broken
    one is kept in ``model_error`` (the pass goes on for the XSD's sake).
    """

    def __init__(self, path: Path) -> None:
        super().__init__(free=True)
        self.path = path
        self.records: list[_Record] = []  # in document (pre-)order
        self.by_id: dict[str, _Record] = {}
        self.edges: list[tuple[str, str, str, int, str | None, str | None]] = []
        self.unnamed: list[int] = []
        self.key_decls: list[tuple[str, int, dict[str, str]]] = []
        self.graph_data: dict = {}
        self.graph_line: int | None = None
        self.first_node_after_edge: tuple[str, str] | None = None
        self.first_nested_edge: tuple[str, int] | None = None
        self.model_error: GraphMLError | None = None
        self.duplicate_graph: tuple[str, int] | None = None  # first repeated graph id
        self._graph_ids: set[str] = set()
        self.complete = False
        self._open: list[_Record | None] = []  # the nodes and graphs open: records, None
        self._root_graph: etree._Element | None = None
        self._last_root_edge: str | None = None
        self._depth = 0

    def intern(self, value):
        if isinstance(value, str):
            return self.strings.setdefault(value, value)
        return value

    def run(self, xsd: etree.XMLSchema | None) -> list:
        """Read the file; return the XSD's errors (empty when valid or not checked)."""
        options = dict(_PARSER_OPTIONS, schema=xsd) if xsd is not None else _PARSER_OPTIONS
        # lxml reports the errors of an earlier pass that stopped early (a truncated file)
        # with the next one's, unless the thread's error log is cleared first.
        etree.clear_error_log()
        events = etree.iterparse(str(self.path), events=("start", "end"),
                                 tag=(*_EVENT_TAGS, _T_GRAPHML), **options)
        root = None
        ended = False
        try:
            for event, el in events:
                if root is None:
                    root = el.getroottree().getroot()
                    _check_root(root)
                if el is root:
                    ended = event == "end"
                elif self.model_error is None:
                    try:
                        self._event(event, el)
                    except GraphMLFormatError as e:
                        self.model_error = e
                elif event == "end" and el.tag in (_T_NODE, _T_EDGE):
                    el.clear(keep_tail=False)
        except etree.XMLSyntaxError as e:
            errors = list(e.error_log)
            schema_only = bool(errors) and all(err.domain_name == "SCHEMASV" for err in errors)
            if not (ended and schema_only):
                self._check_well_formed()
            if not schema_only:
                raise _syntax_error(e) from e
            if ended:
                self._finish(root)
            return errors  # an unfinished pass leaves ``complete`` False
        except ValueError as e:
            raise GraphMLParseError(f"cannot parse GraphML: {e}") from e
        if not ended:
            self._check_well_formed()
            raise GraphMLParseError("not well-formed XML: the document ends early; the file "
                                    "is truncated or not XML")
        self._finish(root)
        return []

    def _check_well_formed(self) -> None:
        """Raise GraphMLParseError if the file is not well-formed GraphML. With a schema
        (and entities left unresolved) lxml loses libxml2's parse errors or stops early,
        so this parses again without one, freeing elements as it goes."""
        events = etree.iterparse(str(self.path), events=("end",), tag=(_T_NODE, _T_EDGE),
                                 **_PARSER_OPTIONS)
        try:
            for _event, el in events:
                el.clear(keep_tail=False)
        except etree.XMLSyntaxError as e:
            raise _syntax_error(e) from e
        _check_root(events.root)

    def _finish(self, root: etree._Element | None) -> None:
        if self.model_error is not None:
            return
        try:
            if root is not None:
                for child in root:  # what else sits at the top: root data, desc
                    if child.tag == _T_DATA:
                        self.read_data(root, child, "graphml", {})
                    elif child.tag not in (_T_KEY, _T_GRAPH, _T_DESC):
                        self._unexpected(child)
            if self._root_graph is None:
                raise GraphMLFormatError("GraphML holds no <graph>; expected exactly one")
            for eid, source, target, line, _t, _d in self.edges:
                self.check_ends(eid, source, target, line)
            for i in self.unnamed:
                eid, *rest = self.edges[i]
                self.edges[i] = (self.new_edge_id(), *rest)
            self.complete = True
        except GraphMLFormatError as e:
            self.model_error = e

    # -- events ------------------------------------------------------------------------

    def _event(self, event: str, el: etree._Element) -> None:
        tag = el.tag
        if event == "start":
            if tag == _T_NODE:
                owner = next((r for r in reversed(self._open) if r is not None), None)
                rec = _Record(el.get("id") or "", el.sourceline, owner.id if owner else None)
                self._open.append(rec)
                self.records.append(rec)
                if (self.first_node_after_edge is None and self._last_root_edge is not None
                        and el.getparent() is self._root_graph):
                    self.first_node_after_edge = (rec.id, self._last_root_edge)
            elif tag == _T_GRAPH:
                self._open.append(None)
                self._depth += 1
                gid = el.get("id")
                if gid is not None:
                    if gid in self._graph_ids and self.duplicate_graph is None:
                        self.duplicate_graph = (gid, el.sourceline)
                    self._graph_ids.add(gid)
                if self._root_graph is None and el.getparent() is not None \
                        and el.getparent().tag == _T_GRAPHML:
                    self._root_graph = el
                    self.graph_line = el.sourceline
            elif tag == _T_EDGE:
                if el.getparent() is self._root_graph:
                    self._last_root_edge = el.get("id")
                elif self.first_nested_edge is None:
                    self.first_nested_edge = (el.get("id"), el.sourceline)
            return
        if tag == _T_NODE:
            self._end_node(el, self._open.pop())
        elif tag == _T_EDGE:
            self._end_edge(el)
        elif tag == _T_GRAPH:
            self._open.pop()
            self._end_graph(el)
        else:
            self.read_key(el)
            self.key_decls.append((el.get("id"), el.sourceline, dict(el.attrib)))

    def _end_graph(self, el: etree._Element) -> None:
        parent = el.getparent()
        self.check_graph(el)
        self.check_depth(el, self._depth)
        self._depth -= 1
        data: dict = {}
        self._read_children(el, "graph", data, (_T_NODE, _T_EDGE))
        if parent.tag == _T_GRAPHML:
            if self.graph is not None:
                raise GraphMLFormatError(
                    f"{_where(el)}: a second top-level <graph>; expected exactly one")
            self.graph = True
            self.graph_data = data

    def _end_node(self, el: etree._Element, rec: _Record) -> None:
        nid = self.node_id(el)
        rec.id = self.intern(nid)
        self.by_id[nid] = rec
        data: dict = {}
        graphs = self._read_children(el, "node", data, (_T_GRAPH,))
        if len(graphs) > 1:
            raise GraphMLFormatError(f"{_where(el)}: a node holds at most one <graph>")
        rec.group = bool(graphs)
        intern = self.intern
        rec.kind = intern(data.get("kind"))
        rec.parent = intern(data.get("parent"))
        rec.tag = intern(data.get("hierarchy_tag"))
        rec.name = intern(data.get("name"))
        rec.dtype = intern(data.get("dtype"))
        rec.parameters = data.get("parameters")
        if rec.kind == fmt.KIND_OP:
            rec.outs = self._names(data.get("outputs"))
            rec.ins = self._names(data.get("inputs"))
        elif rec.kind == fmt.KIND_REF:
            rec.points = intern(data.get(fmt.REF_KEY))
        refs, bad = _tensor_refs(data)
        if refs:
            rec.refs = tuple(refs)
        if bad:
            rec.bad_json = tuple(bad)
        el.clear(keep_tail=False)

    def _names(self, raw) -> tuple | str | None:
        if raw is None:
            return None
        try:
            value = json.loads(raw)
        except (ValueError, TypeError, RecursionError):
            value = None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return _BAD
        return tuple(self.intern(v) for v in value)

    def _end_edge(self, el: etree._Element) -> None:
        eid, source, target = self.edge_ends(el)
        data: dict = {}
        self._read_children(el, "edge", data, ())
        if eid is None:
            self.unnamed.append(len(self.edges))
        intern = self.intern
        self.edges.append((eid or "", intern(source), intern(target), el.sourceline,
                           intern(data.get("e_tensor")), intern(data.get("e_dtype"))))
        el.clear(keep_tail=False)


def _tensor_refs(data: dict) -> tuple[list, list]:
    """(where, offset, length, dtype, dims) of each sidecar reference in a node's data,
    and the data keys that should hold references but are not JSON."""
    refs: list = []
    bad: list = []
    if data.get("kind") == fmt.KIND_INITIALIZER and "offset" in data:
        dims = None
        try:
            dims = json.loads(data.get("shape", "null"))
        except (ValueError, TypeError, RecursionError):
            pass
        refs.append(("initializer", data.get("offset"), data.get("length"), data.get("dtype"),
                     dims))
    for key in ("tensor", "attributes"):
        raw = data.get(key)
        if not isinstance(raw, str) or fmt.SIDECAR_REF not in raw:
            continue
        try:
            value = json.loads(raw)
        except (ValueError, RecursionError):
            bad.append(key)
            continue
        stack = [value]
        while stack:
            v = stack.pop()
            if isinstance(v, dict):
                ref = v.get(fmt.SIDECAR_REF)
                if isinstance(ref, dict):
                    refs.append((f"{key} JSON", ref.get("offset"), ref.get("length"),
                                 ref.get("dtype"), ref.get("dims")))
                stack.extend(v.values())
            elif isinstance(v, list):
                stack.extend(v)
    return refs, bad


def _add(index: dict, key: str, value: str) -> None:
    """index[key] gains value; one value is kept bare, several as a set (less memory)."""
    have = index.get(key)
    if have is None:
        index[key] = value
    elif isinstance(have, set):
        have.add(value)
    elif have != value:
        index[key] = {have, value}


def _has(index: dict, key: str, value: str) -> bool:
    have = index.get(key)
    return have == value if isinstance(have, str) else have is not None and value in have


class _Checker:
    """The dialect's semantic rules over the records of one scan."""

    def __init__(self, scan: _Scan, path: Path, check_sidecar: bool, add) -> None:
        self.scan, self.path = scan, path
        self.check_sidecar = check_sidecar
        self.add = add
        self.nodes = scan.by_id
        #: Nested output: the hierarchy is the nesting; flat output: the 'parent' data.
        self.nested = any(r.group for r in scan.records)

    def finding(self, check: str, node_id: str | None, message: str, *, element: str = "",
                line: int | None = None) -> None:
        if node_id is not None:
            element = f"node '{node_id}'"
            rec = self.nodes.get(node_id)
            line = rec.line if rec is not None else None
        self.add(Finding(check, element, line, message))

    def edge_finding(self, check: str, edge_id: str, line: int, message: str) -> None:
        self.add(Finding(check, f"edge '{edge_id}'", line, message))

    def run(self) -> None:
        self.check_keys()
        self.check_layout()
        self.check_nodes()
        self.check_tags()
        self.check_refs()
        self.check_dataflow()
        self.check_sidecar_and_tensors()

    # -- keys and layout ---------------------------------------------------------------

    def check_keys(self) -> None:
        for kid, line, attrs in self.scan.key_decls:
            if attrs.get("yfiles.type") is not None:
                continue
            if attrs.get("attr.name") is None or attrs.get("attr.type") is None:
                self.finding("dialect", None, "declares no attr.name/attr.type; GraphML "
                             "data keys here need both", element=f"key '{kid}'", line=line)
                continue
            spec = fmt.KEYS.get(kid)
            if spec is None:
                continue
            got = (attrs.get("for"), attrs.get("attr.name"), attrs.get("attr.type"))
            want = (spec.domain, spec.name, fmt.graphml_type(spec.type))
            if got != want:
                self.finding("dialect", None,
                             f"declared for={got[0]!r} attr.name={got[1]!r} attr.type={got[2]!r}; "
                             f"the dialect fixes for={want[0]!r} attr.name={want[1]!r} "
                             f"attr.type={want[2]!r}", element=f"key '{kid}'", line=line)
        fmt_version = self.scan.graph_data.get("format")
        if fmt_version != fmt.FORMAT_VERSION:
            what = "has no 'format' data" if fmt_version is None else f"has format {fmt_version!r}"
            self.finding("dialect", None, f"the root graph {what}; expected "
                         f"{fmt.FORMAT_VERSION!r} (is this a modelexport GraphML?)",
                         element="graph", line=self.scan.graph_line)

    def check_layout(self) -> None:
        """Edges on the root graph, after every node."""
        if self.scan.first_node_after_edge is not None:
            nid, edge = self.scan.first_node_after_edge
            self.finding("dialect", nid, f"comes after edge '{edge}'; the dialect puts "
                         "every edge after all nodes")
        if self.scan.first_nested_edge is not None:
            eid, line = self.scan.first_nested_edge
            self.finding("dialect", None, "sits in a nested graph; the dialect puts "
                         "every edge in the root graph", element=f"edge '{eid}'", line=line)

    # -- nodes: kind, parent, nesting ----------------------------------------------------

    def check_nodes(self) -> None:
        nested = self.nested
        children: dict[str, int] = defaultdict(int)
        for rec in self.scan.records:
            nid, kind, parent, owner = rec.id, rec.kind, rec.parent, rec.owner
            if kind not in fmt.NODE_KINDS:
                self.finding("dialect", nid, f"kind {kind!r} is not one of "
                             f"{', '.join(fmt.NODE_KINDS)}" if kind is not None else
                             "has no 'kind' data; every node needs one")
            if parent is None:
                self.finding("dialect", nid, "has no 'parent' data; every node needs one "
                             "('' at the top)")
                continue
            if parent:
                children[parent] += 1
            if owner is not None:
                if parent != owner:
                    self.finding("dialect", nid, f"'parent' says {parent!r} but the node sits "
                                 f"in the group of '{owner}'; nesting and parent must agree")
            elif parent:
                if nested:
                    self.finding("dialect", nid, f"'parent' says {parent!r} but the node sits "
                                 "at the top; nesting and parent must agree")
                elif parent not in self.nodes:
                    self.finding("dialect", nid, f"'parent' names {parent!r}, which is not a "
                                 "node of the document")
            if rec.parameters is not None:
                self._check_parameters(rec)
            if kind in (fmt.KIND_MODULE, fmt.KIND_SUBGRAPH) and nested and not rec.group:
                self.finding("dialect", nid, f"a {kind} node must be a group (hold a nested "
                             "graph) in nested output")
        for rec in self.scan.records:
            # A module without ops (its work folded into constants) is still a module
            # of the model, named by its tag; an empty group naming none is debris.
            if rec.kind == fmt.KIND_MODULE and not children.get(rec.id) and not rec.tag:
                self.finding("dialect", rec.id, "module group is empty and names no module "
                             "(no hierarchy_tag); every module holds a node or names a "
                             "module of the model")

    def _check_parameters(self, rec: _Record) -> None:
        """'parameters' is a module's count of parameter elements: 0 or more, on a module."""
        if rec.kind != fmt.KIND_MODULE:
            self.finding("dialect", rec.id, f"has 'parameters' data but is of kind "
                         f"{rec.kind!r}; only a module owns parameters")
        elif not (isinstance(rec.parameters, int) and rec.parameters >= 0):
            self.finding("dialect", rec.id, f"'parameters' is {rec.parameters!r}; it counts "
                         "parameter elements: a whole number, 0 or more")

    def _parent_of(self, rec: _Record) -> _Record | None:
        if self.nested:
            return self.nodes[rec.owner] if rec.owner is not None else None
        parent = rec.parent
        return self.nodes.get(parent) if isinstance(parent, str) else None

    def _ancestors(self, rec: _Record):
        seen = {rec.id}
        p = self._parent_of(rec)
        while p is not None and p.id not in seen:
            seen.add(p.id)
            yield p
            p = self._parent_of(p)

    # -- hierarchy tags ------------------------------------------------------------------

    def check_tags(self) -> None:
        module_by_tag: dict[str, str] = {}
        for rec in self.scan.records:
            if rec.kind == fmt.KIND_MODULE and isinstance(rec.tag, str) and rec.tag:
                module_by_tag.setdefault(rec.tag, rec.id)
        for rec in self.scan.records:
            kind, tag, nid = rec.kind, rec.tag, rec.id
            if kind not in (fmt.KIND_OP, fmt.KIND_MODULE):
                continue
            if not isinstance(tag, str) or not tag:
                continue
            enclosing = next((a for a in self._ancestors(rec) if a.kind == fmt.KIND_MODULE), None)
            etag = ""
            if enclosing is not None and enclosing.tag is not None:
                etag = enclosing.tag
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

    # -- reference boxes -------------------------------------------------------------------

    #: What a reference box may stand for: a node that produces a value.
    _VALUE_KINDS = (fmt.KIND_INITIALIZER, fmt.KIND_OP, fmt.KIND_INPUT)

    def check_refs(self) -> None:
        """A reference box is a leaf naming an existing value node; it feeds, never is fed."""
        boxes = {}
        for rec in self.scan.records:
            if rec.kind != fmt.KIND_REF:
                continue
            boxes[rec.id] = rec
            points = rec.points
            target = self.nodes.get(points) if isinstance(points, str) else None
            if rec.group:
                self.finding("refs", rec.id, "a reference box must be a leaf, not a group")
            if points is None:
                self.finding("refs", rec.id, f"has no '{fmt.REF_KEY}' data; a reference box "
                             "names the node it stands for")
            elif target is None:
                self.finding("refs", rec.id, f"'{fmt.REF_KEY}' names {points!r}, which is not "
                             "a node of the document")
            elif target.kind not in self._VALUE_KINDS:
                self.finding("refs", rec.id, f"'{fmt.REF_KEY}' names '{points}' of kind "
                             f"{target.kind!r}; a reference box stands for an initializer, "
                             "an op or a graph input")
        if boxes:
            for eid, _source, target, line, _tensor, _dtype in self.scan.edges:
                if target in boxes:
                    self.edge_finding("refs", eid, line, f"enters reference box '{target}'; "
                                      "a reference box only feeds the ops beside it")

    def _standing_for(self, node_id: str) -> str:
        """The node a reference box stands for; any other node is itself."""
        rec = self.nodes.get(node_id)
        if rec is not None and rec.kind == fmt.KIND_REF and isinstance(rec.points, str) \
                and rec.points in self.nodes:
            return rec.points
        return node_id

    # -- dataflow: inputs produced, edges matching tensors, no cycles --------------------

    def _scope(self, rec: _Record) -> str:
        """The subgraph container a node belongs to ('' for the main graph)."""
        for a in self._ancestors(rec):
            if a.kind == fmt.KIND_SUBGRAPH:
                return a.id
        return ""

    def _bad_names(self, rec: _Record, key: str) -> None:
        self.finding("dialect", rec.id, f"data '{key}' is not a JSON list of tensor names")

    def check_dataflow(self) -> None:
        produced: dict[str, set[str]] = defaultdict(set)  # scope -> tensor names
        producers: dict = {}  # tensor name -> node id(s)
        consumers: dict = {}
        scopes: dict[str, str] = {}
        op_inputs: list[tuple[_Record, tuple]] = []
        io_kinds = (fmt.KIND_OP, fmt.KIND_INPUT, fmt.KIND_INITIALIZER, fmt.KIND_OUTPUT)
        for rec in self.scan.records:
            kind, nid = rec.kind, rec.id
            if kind not in io_kinds:
                continue
            scope = scopes[nid] = self._scope(rec)
            if kind == fmt.KIND_OP:
                outs = rec.outs
                if outs is _BAD:
                    self._bad_names(rec, "outputs")
                outs = outs if isinstance(outs, tuple) else ()
                ins = rec.ins
                if ins is _BAD:
                    self._bad_names(rec, "inputs")
                else:
                    ins = ins or ()
                    op_inputs.append((rec, ins))
                    for name in ins:
                        _add(consumers, name, nid)
            elif kind == fmt.KIND_OUTPUT:
                name = rec.name
                if isinstance(name, str):
                    _add(consumers, name, nid)
                outs = ()
            else:
                name = rec.name
                outs = (name,) if isinstance(name, str) else ()
            for name in outs:
                if name:
                    produced[scope].add(name)
                    _add(producers, name, nid)

        def visible(scope: str, name: str) -> bool:
            seen = set()
            while True:
                if name in produced[scope]:
                    return True
                if not scope or scope in seen:
                    return False
                seen.add(scope)
                scope = scopes.get(scope) or self._scope(self.nodes[scope])

        for rec, ins in op_inputs:
            for pos, name in enumerate(ins):
                if name and not visible(scopes[rec.id], name):
                    self.finding("inputs", rec.id, f"input {pos} {name!r} is produced by no op "
                                 "output, graph input or initializer in scope")
        for rec in self.scan.records:
            if rec.kind == fmt.KIND_OUTPUT:
                name = rec.name
                if isinstance(name, str) and name and not visible(scopes[rec.id], name):
                    self.finding("inputs", rec.id, f"graph output {name!r} is produced by no node")

        succ: dict[str, list[str]] = defaultdict(list)
        nodes = self.nodes
        for eid, source, target, line, tensor, dtype in self.scan.edges:
            succ[source].append(target)
            source = self._standing_for(source)  # a box's edges leave what it stands for
            if isinstance(tensor, str) and source in nodes and target in nodes:
                bad = None
                if not _has(producers, tensor, source):
                    bad = f"source '{source}' does not produce tensor {tensor!r}"
                elif not _has(consumers, tensor, target):
                    bad = f"target '{target}' does not consume tensor {tensor!r}"
                if bad:
                    self.edge_finding("dialect", eid, line, bad)
                    continue
                src = nodes[source]
                sdtype = src.dtype
                if (src.kind in (fmt.KIND_INPUT, fmt.KIND_INITIALIZER)
                        and dtype and sdtype and dtype != sdtype):
                    self.edge_finding("dialect", eid, line, f"dtype {dtype!r} differs from "
                                      f"{sdtype!r} of its source '{source}'")
        self._check_acyclic(succ)

    def _check_acyclic(self, succ: dict[str, list[str]]) -> None:
        indeg: dict[str, int] = defaultdict(int)
        for targets in succ.values():
            for t in targets:
                indeg[t] += 1
        queue = deque(r.id for r in self.scan.records if not indeg.get(r.id))
        done = 0
        while queue:
            n = queue.popleft()
            done += 1
            for t in succ.get(n, ()):
                indeg[t] -= 1
                if indeg[t] == 0:
                    queue.append(t)
        if done < len(self.nodes):
            stuck = next(r.id for r in self.scan.records if indeg.get(r.id, 0) > 0)
            self.finding("dataflow", stuck, "lies on a cycle of edges; an ONNX graph must be "
                         "acyclic")

    # -- sidecar and tensor references -------------------------------------------------------

    def check_sidecar_and_tensors(self) -> None:
        gdata = self.scan.graph_data
        name = gdata.get("sidecar")
        size = gdata.get("sidecar_size")
        digest = gdata.get("sidecar_sha256")
        refs = []
        for rec in self.scan.records:
            for key in rec.bad_json:
                self.finding("dialect", rec.id, f"data '{key}' is not valid JSON")
            refs.extend((rec.id, *ref) for ref in rec.refs)
        line = self.scan.graph_line
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
