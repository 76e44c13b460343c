"""Parse GraphML bytes into a :class:`~graphml.model.Document`, safely.

``parse_graphml`` takes bytes, ``read_graphml`` a path. Both treat the input as
untrusted: no DTD is loaded, no entity expanded, nothing fetched from the network; a
DOCTYPE or entity declaration is refused outright (XXE, "billion laughs"); size and
nesting depth are bounded. What is not safe, well-formed GraphML raises
:class:`GraphMLParseError`; GraphML that breaks the rules the model relies on
(undeclared keys, values not of their key's type, duplicate ids, dangling edges)
raises :class:`GraphMLFormatError` naming the element and its line.

Files from other tools are read too: keys are matched to the dialect by
(``for``, ``attr.name``) via ``format.KEYS_BY_NAME`` whatever their ids (a dialect key
gives its values the dialect's type: a ``format.INT64`` key, declared ``string``, reads
as the exact ``int``), unknown keys
are kept under their own ids (listed in ``Document.keys``), ``<default>`` values are
applied, and yFiles graphics (``yfiles.type`` keys) are skipped.

Reading streams: ``iterparse`` reports the end of each key, graph, node and edge, which
is read from its children and then emptied, so memory stays near the Document's size
rather than the XML tree's (about a tenth for yEd output). The validator feeds the
same reader from a parsed tree instead (:func:`read_tree`), as the XSD needs the tree.
"""

from __future__ import annotations

import io
import itertools
import os
from pathlib import Path

from lxml import etree

from modelexport.graphml import format as fmt
from modelexport.graphml.errors import GraphMLFormatError, GraphMLParseError
from modelexport.graphml.model import Document, Edge, Graph, Key, Node

#: Largest GraphML accepted, in bytes (pass ``max_bytes`` to change it).
MAX_BYTES = 2 * 1024**3
#: Deepest nesting of ``<graph>`` elements accepted.
MAX_NESTING = 100

_G = f"{{{fmt.GRAPHML_NS}}}"
_T_GRAPHML, _T_KEY, _T_GRAPH, _T_NODE, _T_EDGE, _T_DATA, _T_DESC, _T_DEFAULT = (
    _G + t for t in ("graphml", "key", "graph", "node", "edge", "data", "desc", "default"))
_UNSUPPORTED = {_G + t: t for t in ("port", "hyperedge", "locator", "endpoint")}
_SKIP = object()  # marker for yFiles keys, whose data is ignored
_DOMAINS = ("graph", "node", "edge", "graphml")


#: libxml2 options for untrusted input: no DTD, no entity expansion, no network,
#: libxml2's default size and depth limits (huge_tree off).
_PARSER_OPTIONS = dict(
    resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
    huge_tree=False, remove_comments=True, remove_pis=True,
)
_DOCTYPE_REFUSED = (
    "GraphML must not contain a DOCTYPE or entity declarations (refused to guard against "
    "XXE and entity expansion); remove the DOCTYPE")


def _where(el: etree._Element) -> str:
    kind = etree.QName(el).localname if isinstance(el.tag, str) else "element"
    ident = el.get("id")
    name = f"{kind} '{ident}'" if ident is not None else f"<{kind}>"
    return f"{name} (line {el.sourceline})"


def _check_bytes(data: bytes, max_bytes: int) -> None:
    if len(data) > max_bytes:
        raise GraphMLParseError(
            f"GraphML is {len(data)} bytes, more than the limit of {max_bytes}; "
            "raise max_bytes if the file is trusted")
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise GraphMLParseError(_DOCTYPE_REFUSED)


def _check_root(root: etree._Element) -> None:
    """Refuse a DOCTYPE (also in encodings the byte scan misses) and non-GraphML roots."""
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise GraphMLParseError(_DOCTYPE_REFUSED)
    if root.tag != _T_GRAPHML:
        qn = etree.QName(root)
        ns = f" in namespace {qn.namespace!r}" if qn.namespace else " without a namespace"
        raise GraphMLParseError(
            f"not GraphML: the root element is <{qn.localname}>{ns}; expected <graphml> "
            f"in namespace {fmt.GRAPHML_NS!r}")


def _syntax_error(e: etree.XMLSyntaxError) -> GraphMLParseError:
    msg = str(e.msg or e).strip()
    if "limit" in msg.lower() and "depth" not in msg.lower():
        return GraphMLParseError(
            f"XML value too large (line {e.lineno}): a text node or name exceeds "
            "libxml2's safety limit (10 MB per text value); refused")
    if "depth" in msg.lower():
        return GraphMLParseError(
            f"XML nested too deeply (line {e.lineno}): refused; GraphML from "
            "modelexport nests far less")
    return GraphMLParseError(
        f"not well-formed XML (line {e.lineno}): {msg}; the file is truncated or not XML")


def parse_xml(data: bytes, *, max_bytes: int = MAX_BYTES) -> etree._Element:
    """The root element of ``data``, parsed with every unsafe XML feature refused.

    For the validator, which needs the element tree for XSD validation; reading a
    Document streams instead (:func:`parse_graphml`).
    """
    _check_bytes(data, max_bytes)
    try:
        root = etree.fromstring(data, etree.XMLParser(collect_ids=False, **_PARSER_OPTIONS))
    except etree.XMLSyntaxError as e:
        raise _syntax_error(e) from e
    except ValueError as e:  # e.g. a str with an encoding declaration
        raise GraphMLParseError(f"cannot parse GraphML: {e}") from e
    _check_root(root)
    return root


_EVENT_TAGS = (_T_KEY, _T_GRAPH, _T_NODE, _T_EDGE)


class _Reader:
    """Builds a :class:`Document` from the end events of keys, graphs, nodes and edges.

    Each element is read when it ends, from its direct children (its ``<data>``, and
    for a group node the Graph its ``<graph>`` became); children end before their
    parents, so the Document is built bottom-up. The events come from ``iterparse``
    when reading (each node and edge is emptied once read, so memory stays near the
    Document's, not the XML tree's) or from ``iterwalk`` over a parsed tree when
    validating (the XSD needs the tree). yFiles markup is never visited.
    """

    def __init__(self, *, free: bool = False) -> None:
        self.free = free
        # domain -> file key id -> (model key id, attr.type), or _SKIP for yFiles keys
        self.keymaps: dict[str, dict[str, tuple[str, str] | object]] = {d: {} for d in _DOMAINS}
        self.declared: dict[str, str] = {}  # file key id -> its for=
        self.keys: list[Key] = []
        self.key_ids: set[str] = set()
        self.taken = {k.id for k in fmt.KEYS.values()}
        self.defaults: dict[str, dict[str, object]] = {d: {} for d in _DOMAINS}
        self.nodes: dict[str, int] = {}  # node id -> line
        self.edge_ids: set[str] = set()
        self.unnamed_edges: list[Edge] = []
        self.edges_read: list[tuple[Edge, int]] = []  # with their lines, checked at the end
        # Elements read but not yet claimed by their parent, keyed by the element (lxml
        # keeps one proxy per element while it is referenced, so identity is stable).
        self.done: dict[etree._Element, Node | Edge | tuple[Graph, int]] = {}
        self.heights: dict[str, int] = {}  # group node id -> levels of graphs it holds
        self.graph: Graph | None = None
        self._next_edge = 0
        self.strings: dict[str, str] = {}  # one copy of each short string value

    # -- keys ----------------------------------------------------------------------------

    def read_key(self, el: etree._Element) -> None:
        if el.getparent() is None or el.getparent().tag != _T_GRAPHML:
            self._unexpected(el)
        kid = el.get("id")
        if kid is None:
            raise GraphMLFormatError(f"{_where(el)}: <key> without an id")
        if kid in self.declared:
            raise GraphMLFormatError(f"{_where(el)}: key id '{kid}' is declared twice")
        for child in el:
            if child.tag not in (_T_DESC, _T_DEFAULT):
                self._unexpected(child)
        domain = el.get("for", "all")
        self.declared[kid] = domain
        domains = ("graph", "node", "edge") if domain == "all" else (domain,)
        if el.get("yfiles.type") is not None or (
                domain == "graph" and el.get("attr.name") == fmt.LAYOUT_KEY):
            for d in domains:
                self.keymaps.setdefault(d, {})[kid] = _SKIP
            return
        name = el.get("attr.name", kid)
        attr_type = el.get("attr.type", "string")
        if attr_type not in fmt.ATTR_TYPES:
            raise GraphMLFormatError(
                f"{_where(el)}: attr.type {attr_type!r} is not a GraphML type; use one "
                f"of {', '.join(fmt.ATTR_TYPES)}")
        for d in domains:
            spec = fmt.KEYS_BY_NAME.get((d, name))
            if spec is not None and (fmt.VALUE_TYPES[spec.type] is fmt.ATTR_TYPES[attr_type]
                                     or fmt.graphml_type(spec.type) == attr_type):
                # the dialect's key: its values read as the dialect types them (an INT64
                # key declared string, or long as files before it were, gives an int)
                model_id, value_type = spec.id, spec.type
                key = Key(spec.id, spec.domain, spec.name, spec.type)
            else:
                model_id, value_type = kid, attr_type
                while model_id in self.taken:
                    model_id += "_"
                key = Key(model_id, d, name, attr_type)
            if model_id not in self.key_ids:
                self.keys.append(key)
                self.key_ids.add(model_id)
            self.taken.add(model_id)
            self.keymaps.setdefault(d, {})[kid] = (model_id, value_type)
            default = el.find(_T_DEFAULT)
            if default is not None and d in self.defaults:
                self.defaults[d][model_id] = self._value(el, kid, value_type, default.text or "")

    @staticmethod
    def _value(el: etree._Element, kid: str, attr_type: str, text: str) -> object:
        try:
            return fmt.parse_value(attr_type, text)
        except ValueError as e:
            declared = ("holds a 64-bit integer as decimal text" if attr_type == fmt.INT64
                        else f"is declared {attr_type}")
            raise GraphMLFormatError(f"{_where(el)}: data '{kid}' {declared} but {e}") from e

    def read_data(self, owner: etree._Element, el: etree._Element, domain: str,
                  data: dict) -> None:
        kid = el.get("key")
        entry = self.keymaps.get(domain, {}).get(kid)
        if entry is _SKIP:
            return
        if entry is None:
            if kid in self.declared:
                raise GraphMLFormatError(
                    f"{_where(owner)}: data key '{kid}' is declared for "
                    f"{self.declared[kid]}, not for {domain}")
            raise GraphMLFormatError(
                f"{_where(owner)}: data key '{kid}' is not declared; add a <key id=\"{kid}\" "
                f"for=\"{domain}\" attr.name=... attr.type=...> declaration")
        model_id, attr_type = entry  # type: ignore[misc]
        if model_id in data:
            raise GraphMLFormatError(
                f"{_where(owner)}: data key '{kid}' appears twice; an element holds one "
                "value per key")
        if len(el):
            raise GraphMLFormatError(
                f"{_where(owner)}: data '{kid}' holds XML elements; only yFiles graphics "
                "keys (yfiles.type) may")
        data[model_id] = self._value(owner, kid, attr_type, el.text or "")

    def _read_children(self, el: etree._Element, domain: str, data: dict,
                       allowed: tuple[str, ...]) -> list:
        """Read the ``<data>`` children of ``el``; return its other children, by tag."""
        keymap = self.keymaps.get(domain, {})
        strings = self.strings
        others = []
        for child in el:
            tag = child.tag
            if tag == _T_DATA:
                # The common case inline: a declared string key holding plain text.
                entry = keymap.get(child.get("key"))
                if entry is _SKIP:
                    continue
                if entry is not None and entry[1] == "string" and entry[0] not in data \
                        and not len(child):
                    text = child.text or ""
                    # Short values repeat (kinds, parents, tags, dtypes, shapes, tensor
                    # names on edges): keep one copy of each.
                    data[entry[0]] = strings.setdefault(text, text) if len(text) <= 64 else text
                else:
                    self.read_data(el, child, domain, data)
            elif tag in allowed:
                others.append(child)
            elif tag != _T_DESC:
                self._unexpected(child)
        self._fill_defaults(domain, data)
        return others

    # -- structure -------------------------------------------------------------------------

    def _unexpected(self, el: etree._Element) -> None:
        if el.tag in _UNSUPPORTED:
            raise GraphMLFormatError(
                f"{_where(el)}: <{_UNSUPPORTED[el.tag]}> is not supported by this "
                "dialect; use plain nodes and edges")
        parent = el.getparent()
        where = _where(parent) if parent is not None else "the document"
        name = etree.QName(el).localname if isinstance(el.tag, str) else "?"
        raise GraphMLFormatError(f"{where}: unexpected element <{name}> here")

    def _fill_defaults(self, domain: str, data: dict) -> None:
        defaults = self.defaults[domain]
        if defaults:
            for kid, value in defaults.items():
                data.setdefault(kid, value)

    # The nesting rules of a <graph>, the reader's and the validator's alike.

    def check_graph(self, el: etree._Element) -> str:
        """A ``<graph>`` sits in a ``<node>`` or the document and says its edgedefault,
        which is returned."""
        parent = el.getparent()
        if parent is None or parent.tag not in (_T_NODE, _T_GRAPHML):
            self._unexpected(el)
        edgedefault = el.get("edgedefault")
        if edgedefault not in ("directed", "undirected"):
            raise GraphMLFormatError(
                f"{_where(el)}: edgedefault must be 'directed' or 'undirected'")
        return edgedefault

    @staticmethod
    def check_depth(el: etree._Element, levels: int) -> None:
        """At most :data:`MAX_NESTING` graphs nest (``levels`` counts ``el`` too)."""
        if levels > MAX_NESTING + 1:
            raise GraphMLParseError(
                f"{_where(el)}: graphs nested more than {MAX_NESTING} deep; refused")

    def end_graph(self, el: etree._Element) -> None:
        parent = el.getparent()
        edgedefault = self.check_graph(el)
        graph = Graph(id=el.get("id", ""), edgedefault=edgedefault)
        height = 1
        done = self.done
        for child in self._read_children(el, "graph", graph.data, (_T_NODE, _T_EDGE)):
            item = done.pop(child)
            if child.tag == _T_NODE:
                graph.nodes.append(item)
                if item.graph is not None:
                    height = max(height, self.heights.pop(item.id) + 1)
            else:
                graph.edges.append(item)
        self.check_depth(el, height)
        if parent.tag == _T_GRAPHML:
            if self.graph is not None:
                raise GraphMLFormatError(
                    f"{_where(el)}: a second top-level <graph>; expected exactly one")
            self.graph = graph
        else:
            done[el] = (graph, height)

    def node_id(self, el: etree._Element) -> str:
        """The id of a ``<node>``, checked (inside a graph, an NMTOKEN, unique) and
        recorded with its line."""
        if el.getparent() is None or el.getparent().tag != _T_GRAPH:
            self._unexpected(el)
        nid = el.get("id")
        if nid is None or not fmt.is_nmtoken(nid):
            raise GraphMLFormatError(
                f"{_where(el)}: node id {nid!r} is not an XML NMTOKEN" if nid is not None
                else f"{_where(el)}: <node> without an id")
        line = el.sourceline
        if nid in self.nodes:
            first, second = sorted((line, self.nodes[nid]))
            raise GraphMLFormatError(
                f"node '{nid}' (line {second}): duplicate node id '{nid}' (first on line "
                f"{first}); ids must be unique")
        self.nodes[nid] = line
        return nid

    def end_node(self, el: etree._Element) -> None:
        nid = self.node_id(el)
        node = Node(id=nid)
        graphs = self._read_children(el, "node", node.data, (_T_GRAPH,))
        if graphs:
            if len(graphs) > 1:
                raise GraphMLFormatError(f"{_where(el)}: a node holds at most one <graph>")
            node.graph, self.heights[nid] = self.done.pop(graphs[0])
        self.done[el] = node
        if self.free:
            el.clear(keep_tail=False)

    def edge_ends(self, el: etree._Element) -> tuple[str | None, str, str]:
        """(id or None, source, target) of an ``<edge>``, checked (inside a graph, both
        ends, no ports, an NMTOKEN id not seen before) and its id recorded."""
        if el.getparent() is None or el.getparent().tag != _T_GRAPH:
            self._unexpected(el)
        eid = el.get("id")
        source, target = el.get("source"), el.get("target")
        if source is None or target is None:
            raise GraphMLFormatError(f"{_where(el)}: an edge needs a source and a target")
        if el.get("sourceport") is not None or el.get("targetport") is not None:
            raise GraphMLFormatError(f"{_where(el)}: ports are not supported by this dialect")
        if eid is not None:
            if not fmt.is_nmtoken(eid):
                raise GraphMLFormatError(f"{_where(el)}: edge id {eid!r} is not an XML NMTOKEN")
            if eid in self.edge_ids:
                raise GraphMLFormatError(
                    f"{_where(el)}: duplicate edge id '{eid}'; ids must be unique")
            self.edge_ids.add(eid)
        return eid, source, target

    def end_edge(self, el: etree._Element) -> None:
        eid, source, target = self.edge_ends(el)
        edge = Edge(id=eid or "", source=source, target=target)
        if eid is None:
            self.unnamed_edges.append(edge)
        self.edges_read.append((edge, el.sourceline))
        self._read_children(el, "edge", edge.data, ())
        self.done[el] = edge
        if self.free:
            el.clear(keep_tail=False)

    def run(self, events, root: etree._Element | None = None) -> Document:
        """Consume the ``end`` events of keys, graphs, nodes and edges; then the root."""
        for _, el in events:
            tag = el.tag
            if tag == _T_NODE:
                self.end_node(el)
            elif tag == _T_EDGE:
                self.end_edge(el)
            elif tag == _T_GRAPH:
                self.end_graph(el)
            else:
                self.read_key(el)
            if root is None:
                root = el.getroottree().getroot()
        if root is not None:  # what else sits at the top: root data, desc
            for child in root:
                if child.tag == _T_DATA:
                    self.read_data(root, child, "graphml", {})
                elif child.tag not in (_T_KEY, _T_GRAPH, _T_DESC):
                    self._unexpected(child)
        return self.finish()

    def finish(self) -> Document:
        if self.graph is None:
            raise GraphMLFormatError("GraphML holds no <graph>; expected exactly one")
        for edge, line in self.edges_read:
            self.check_ends(edge.id, edge.source, edge.target, line)
        for edge in self.unnamed_edges:
            edge.id = self.new_edge_id()
        return Document(graph=self.graph, keys=self.keys)

    def check_ends(self, eid: str, source: str, target: str, line: int) -> None:
        """Refuse an edge whose source or target is not a node of the document."""
        for end, role in ((source, "source"), (target, "target")):
            if end not in self.nodes:
                name = f"edge '{eid}'" if eid else "<edge>"
                raise GraphMLFormatError(
                    f"{name} (line {line}): {role} '{end}' is not a node of the document")

    def new_edge_id(self) -> str:
        """An id for an edge that has none: the first free ``e<n>``, in reading order."""
        n = self._next_edge
        while f"e{n}" in self.edge_ids:
            n += 1
        self._next_edge = n
        self.edge_ids.add(f"e{n}")
        return f"e{n}"


def read_tree(root: etree._Element) -> tuple[Document, _Reader]:
    """The Document of an already parsed (and checked) GraphML tree, and its reader.

    The validator uses this: it needs the tree for the XSD, and the reader's record of
    element lines for its findings.
    """
    reader = _Reader()
    doc = reader.run(etree.iterwalk(root, events=("end",), tag=_EVENT_TAGS), root)
    return doc, reader


def parse_graphml(data: bytes, *, max_bytes: int = MAX_BYTES) -> Document:
    """The :class:`Document` held in GraphML ``data`` (bytes), read as untrusted input.

    Streams: elements are dropped as soon as they are read, so memory stays near the
    size of the Document, whatever the yFiles markup around it.
    """
    if isinstance(data, str):
        raise TypeError("parse_graphml takes bytes; encode the text first")
    _check_bytes(data, max_bytes)
    return _read_events(io.BytesIO(data))


def _read_events(source) -> Document:
    events = etree.iterparse(source, events=("end",), tag=_EVENT_TAGS, **_PARSER_OPTIONS)
    try:
        first = next(events, None)
        root = events.root if first is None else first[1].getroottree().getroot()
        _check_root(root)
        return _Reader(free=True).run(itertools.chain((first,) if first else (), events), root)
    except etree.XMLSyntaxError as e:
        raise _syntax_error(e) from e


def read_graphml(path: str | os.PathLike, *, max_bytes: int = MAX_BYTES) -> Document:
    """The :class:`Document` in the GraphML file at ``path``, streamed from the file (the
    bytes are never all in memory at once)."""
    check_file(path, max_bytes=max_bytes)
    return _read_events(str(path))


#: A DOCTYPE must come before the root element; this much of the file is scanned for one.
_PROLOG_SCAN = 1 << 20


def _within_limit(path: Path, max_bytes: int) -> Path:
    size = path.stat().st_size
    if size > max_bytes:
        raise GraphMLParseError(
            f"{path}: {size} bytes, more than the limit of {max_bytes}; raise max_bytes "
            "if the file is trusted")
    return path


def check_file(path: str | os.PathLike, *, max_bytes: int = MAX_BYTES) -> None:
    """Refuse a file larger than ``max_bytes`` or with a DOCTYPE in its prolog, before
    parsing it (the parsers check the DOCTYPE again, in any encoding)."""
    path = _within_limit(Path(path), max_bytes)
    with path.open("rb") as f:
        head = f.read(_PROLOG_SCAN)
    root = head.find(b"<graphml")
    if b"<!DOCTYPE" in head[: root if root >= 0 else None] or b"<!ENTITY" in head:
        raise GraphMLParseError(_DOCTYPE_REFUSED)


def read_bytes(path: str | os.PathLike, *, max_bytes: int = MAX_BYTES) -> bytes:
    """The bytes of ``path``, refusing files larger than ``max_bytes`` before reading."""
    return _within_limit(Path(path), max_bytes).read_bytes()
