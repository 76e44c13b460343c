"""Parse GraphML bytes into a :class:`~graphml.model.Document`, safely.

``parse_graphml`` takes bytes, ``read_graphml`` a path. Both treat the input as
untrusted: no DTD is loaded, no entity expanded, nothing fetched from the network; a
DOCTYPE or entity declaration is refused outright (XXE, "billion laughs"); size and
nesting depth are bounded. What is not safe, well-formed GraphML raises
:class:`GraphMLParseError`; GraphML that breaks the rules the model relies on
(undeclared keys, values not of their key's type, duplicate ids, dangling edges)
raises :class:`GraphMLFormatError` naming the element and its line.

Files from other tools are read too: keys are matched to the dialect by
(``for``, ``attr.name``) via ``format.KEYS_BY_NAME`` whatever their ids, unknown keys
are kept under their own ids (listed in ``Document.keys``), ``<default>`` values are
applied, and yFiles graphics (``yfiles.type`` keys) are skipped.
"""

from __future__ import annotations

import os
from pathlib import Path

from lxml import etree

from graphml import format as fmt
from graphml.errors import GraphMLFormatError, GraphMLParseError
from graphml.model import Document, Edge, Graph, Key, Node

#: Largest GraphML accepted, in bytes (pass ``max_bytes`` to change it).
MAX_BYTES = 2 * 1024**3
#: Deepest nesting of ``<graph>`` elements accepted.
MAX_NESTING = 100

_G = "{%s}" % fmt.GRAPHML_NS
_T_KEY, _T_GRAPH, _T_NODE, _T_EDGE, _T_DATA, _T_DESC, _T_DEFAULT = (
    _G + t for t in ("key", "graph", "node", "edge", "data", "desc", "default"))
_UNSUPPORTED = {_G + t: t for t in ("port", "hyperedge", "locator", "endpoint")}
_SKIP = object()  # marker for yFiles keys, whose data is ignored
_DOMAINS = ("graph", "node", "edge", "graphml")


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
        huge_tree=False, remove_comments=True, remove_pis=True, collect_ids=False,
    )


def _where(el: etree._Element) -> str:
    kind = etree.QName(el).localname if isinstance(el.tag, str) else "element"
    ident = el.get("id")
    name = f"{kind} '{ident}'" if ident is not None else f"<{kind}>"
    return f"{name} (line {el.sourceline})"


def parse_xml(data: bytes, *, max_bytes: int = MAX_BYTES) -> etree._Element:
    """The root element of ``data``, parsed with every unsafe XML feature refused.

    Shared with the validator, which needs the element tree for XSD validation.
    """
    if len(data) > max_bytes:
        raise GraphMLParseError(
            f"GraphML is {len(data)} bytes, more than the limit of {max_bytes}; "
            "raise max_bytes if the file is trusted")
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise GraphMLParseError(
            "GraphML must not contain a DOCTYPE or entity declarations (refused to guard "
            "against XXE and entity expansion); remove the DOCTYPE")
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as e:
        msg = str(e.msg or e).strip()
        if "limit" in msg.lower() and "depth" not in msg.lower():
            raise GraphMLParseError(
                f"XML value too large (line {e.lineno}): a text node or name exceeds "
                "libxml2's safety limit (10 MB per text value); refused") from None
        if "depth" in msg.lower():
            raise GraphMLParseError(
                f"XML nested too deeply (line {e.lineno}): refused; GraphML from "
                "modelexport nests far less") from None
        raise GraphMLParseError(
            f"not well-formed XML (line {e.lineno}): {msg}; the file is truncated or "
            "not XML") from None
    except ValueError as e:  # e.g. a str with an encoding declaration
        raise GraphMLParseError(f"cannot parse GraphML: {e}") from None
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise GraphMLParseError(
            "GraphML must not contain a DOCTYPE or entity declarations (refused to guard "
            "against XXE and entity expansion); remove the DOCTYPE")
    if root.tag != _G + "graphml":
        qn = etree.QName(root)
        ns = f" in namespace {qn.namespace!r}" if qn.namespace else " without a namespace"
        raise GraphMLParseError(
            f"not GraphML: the root element is <{qn.localname}>{ns}; expected <graphml> "
            f"in namespace {fmt.GRAPHML_NS!r}")
    return root


class _Reader:
    def __init__(self, root: etree._Element) -> None:
        self.root = root
        # domain -> file key id -> (model key id, attr.type), or _SKIP for yFiles keys
        self.keymaps: dict[str, dict[str, tuple[str, str] | object]] = {d: {} for d in _DOMAINS}
        self.declared: dict[str, str] = {}  # file key id -> its for=
        self.keys: list[Key] = []
        self.defaults: dict[str, dict[str, object]] = {d: {} for d in _DOMAINS}
        self.nodes: dict[str, etree._Element] = {}
        self.edge_ids: set[str] = set()
        self.unnamed_edges: list[Edge] = []
        self.edges_read: list[tuple[Edge, int]] = []  # with their lines, checked at the end

    # -- keys ----------------------------------------------------------------------------

    def read_keys(self) -> None:
        taken = {k.id for k in fmt.KEYS.values()}
        for el in self.root.iterchildren(_T_KEY):
            kid = el.get("id")
            if kid is None:
                raise GraphMLFormatError(f"{_where(el)}: <key> without an id")
            if kid in self.declared:
                raise GraphMLFormatError(f"{_where(el)}: key id '{kid}' is declared twice")
            domain = el.get("for", "all")
            self.declared[kid] = domain
            domains = ("graph", "node", "edge") if domain == "all" else (domain,)
            if el.get("yfiles.type") is not None:
                for d in domains:
                    self.keymaps.setdefault(d, {})[kid] = _SKIP
                continue
            name = el.get("attr.name", kid)
            attr_type = el.get("attr.type", "string")
            if attr_type not in fmt.ATTR_TYPES:
                raise GraphMLFormatError(
                    f"{_where(el)}: attr.type {attr_type!r} is not a GraphML type; use one "
                    f"of {', '.join(fmt.ATTR_TYPES)}")
            for d in domains:
                spec = fmt.KEYS_BY_NAME.get((d, name))
                if spec is not None and fmt.ATTR_TYPES[spec.type] is fmt.ATTR_TYPES[attr_type]:
                    model_id = spec.id
                    key = Key(spec.id, spec.domain, spec.name, spec.type)
                else:
                    model_id = kid
                    while model_id in taken:
                        model_id += "_"
                    key = Key(model_id, d, name, attr_type)
                if model_id not in {k.id for k in self.keys}:
                    self.keys.append(key)
                taken.add(model_id)
                self.keymaps.setdefault(d, {})[kid] = (model_id, attr_type)
                default = el.find(_T_DEFAULT)
                if default is not None and d in self.defaults:
                    self.defaults[d][model_id] = self._value(el, kid, attr_type, default.text or "")

    @staticmethod
    def _value(el: etree._Element, kid: str, attr_type: str, text: str) -> object:
        try:
            return fmt.parse_value(attr_type, text)
        except ValueError as e:
            raise GraphMLFormatError(
                f"{_where(el)}: data '{kid}' is declared {attr_type} but {e}") from None

    def read_data(self, owner: etree._Element, el: etree._Element, domain: str,
                  data: dict) -> None:
        kid = el.get("key")
        entry = self.keymaps.get(domain, {}).get(kid)
        if entry is None:
            if kid in self.declared:
                raise GraphMLFormatError(
                    f"{_where(owner)}: data key '{kid}' is declared for "
                    f"{self.declared[kid]}, not for {domain}")
            raise GraphMLFormatError(
                f"{_where(owner)}: data key '{kid}' is not declared; add a <key id=\"{kid}\" "
                f"for=\"{domain}\" attr.name=... attr.type=...> declaration")
        if entry is _SKIP:
            return
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

    # -- structure -------------------------------------------------------------------------

    def read_graph(self, gel: etree._Element, depth: int) -> Graph:
        if depth > MAX_NESTING:
            raise GraphMLParseError(
                f"{_where(gel)}: graphs nested more than {MAX_NESTING} deep; refused")
        edgedefault = gel.get("edgedefault")
        if edgedefault not in ("directed", "undirected"):
            raise GraphMLFormatError(
                f"{_where(gel)}: edgedefault must be 'directed' or 'undirected'")
        graph = Graph(id=gel.get("id", ""), edgedefault=edgedefault)
        for child in gel:
            tag = child.tag
            if tag == _T_NODE:
                graph.nodes.append(self.read_node(child, depth))
            elif tag == _T_EDGE:
                graph.edges.append(self.read_edge(child))
            elif tag == _T_DATA:
                self.read_data(gel, child, "graph", graph.data)
            elif tag == _T_DESC:
                continue
            else:
                self._unexpected(gel, child)
        self._fill_defaults("graph", graph.data)
        return graph

    def _unexpected(self, parent: etree._Element, child: etree._Element) -> None:
        if child.tag in _UNSUPPORTED:
            raise GraphMLFormatError(
                f"{_where(child)}: <{_UNSUPPORTED[child.tag]}> is not supported by this "
                "dialect; use plain nodes and edges")
        name = etree.QName(child).localname if isinstance(child.tag, str) else "?"
        raise GraphMLFormatError(f"{_where(parent)}: unexpected element <{name}> here")

    def _fill_defaults(self, domain: str, data: dict) -> None:
        defaults = self.defaults[domain]
        if defaults:
            for kid, value in defaults.items():
                data.setdefault(kid, value)

    def read_node(self, el: etree._Element, depth: int) -> Node:
        nid = el.get("id")
        if nid is None or not fmt.is_nmtoken(nid):
            raise GraphMLFormatError(
                f"{_where(el)}: node id {nid!r} is not an XML NMTOKEN" if nid is not None
                else f"{_where(el)}: <node> without an id")
        if nid in self.nodes:
            raise GraphMLFormatError(
                f"{_where(el)}: duplicate node id '{nid}' (first on line "
                f"{self.nodes[nid].sourceline}); ids must be unique")
        self.nodes[nid] = el
        node = Node(id=nid)
        data = node.data
        keymap = self.keymaps["node"]
        for child in el:
            tag = child.tag
            if tag == _T_DATA:
                # The common case inline: a declared string key holding plain text.
                entry = keymap.get(child.get("key"))
                if entry is _SKIP:
                    continue
                if entry is not None and entry[1] == "string" and not len(child) \
                        and entry[0] not in data:
                    data[entry[0]] = child.text or ""
                else:
                    self.read_data(el, child, "node", data)
            elif tag == _T_GRAPH:
                if node.graph is not None:
                    raise GraphMLFormatError(f"{_where(el)}: a node holds at most one <graph>")
                node.graph = self.read_graph(child, depth + 1)
            elif tag == _T_DESC:
                continue
            else:
                self._unexpected(el, child)
        self._fill_defaults("node", node.data)
        return node

    def read_edge(self, el: etree._Element) -> Edge:
        eid = el.get("id")
        source, target = el.get("source"), el.get("target")
        if source is None or target is None:
            raise GraphMLFormatError(f"{_where(el)}: an edge needs a source and a target")
        if el.get("sourceport") is not None or el.get("targetport") is not None:
            raise GraphMLFormatError(f"{_where(el)}: ports are not supported by this dialect")
        edge = Edge(id=eid or "", source=source, target=target)
        if eid is not None:
            if not fmt.is_nmtoken(eid):
                raise GraphMLFormatError(f"{_where(el)}: edge id {eid!r} is not an XML NMTOKEN")
            if eid in self.edge_ids:
                raise GraphMLFormatError(
                    f"{_where(el)}: duplicate edge id '{eid}'; ids must be unique")
            self.edge_ids.add(eid)
        else:
            self.unnamed_edges.append(edge)
        edge_line = el.sourceline
        data = edge.data
        keymap = self.keymaps["edge"]
        for child in el:
            if child.tag == _T_DATA:
                entry = keymap.get(child.get("key"))
                if entry is _SKIP:
                    continue
                if entry is not None and entry[1] == "string" and not len(child) \
                        and entry[0] not in data:
                    data[entry[0]] = child.text or ""
                else:
                    self.read_data(el, child, "edge", data)
            elif child.tag == _T_DESC:
                continue
            else:
                self._unexpected(el, child)
        self._fill_defaults("edge", edge.data)
        self.edges_read.append((edge, edge_line))
        return edge

    def document(self) -> Document:
        self.read_keys()
        graphs = []
        for child in self.root:
            if child.tag == _T_GRAPH:
                graphs.append(child)
            elif child.tag == _T_DATA:
                self.read_data(self.root, child, "graphml", {})
            elif child.tag not in (_T_KEY, _T_DESC):
                self._unexpected(self.root, child)
        if len(graphs) != 1:
            raise GraphMLFormatError(
                f"GraphML holds {len(graphs)} <graph> elements at the top; expected exactly one")
        graph = self.read_graph(graphs[0], 0)
        for edge, line in self.edges_read:
            for end, role in ((edge.source, "source"), (edge.target, "target")):
                if end not in self.nodes:
                    name = f"edge '{edge.id}'" if edge.id else "<edge>"
                    raise GraphMLFormatError(
                        f"{name} (line {line}): {role} '{end}' is not a node of the document")
        n = 0
        for edge in self.unnamed_edges:
            while f"e{n}" in self.edge_ids:
                n += 1
            edge.id = f"e{n}"
            self.edge_ids.add(edge.id)
        return Document(graph=graph, keys=self.keys)


def parse_graphml(data: bytes, *, max_bytes: int = MAX_BYTES) -> Document:
    """The :class:`Document` held in GraphML ``data`` (bytes), read as untrusted input."""
    if isinstance(data, str):
        raise TypeError("parse_graphml takes bytes; encode the text first")
    return _Reader(parse_xml(data, max_bytes=max_bytes)).document()


def read_graphml(path: str | os.PathLike, *, max_bytes: int = MAX_BYTES) -> Document:
    """The :class:`Document` in the GraphML file at ``path``."""
    return parse_graphml(read_bytes(path, max_bytes=max_bytes), max_bytes=max_bytes)


def read_bytes(path: str | os.PathLike, *, max_bytes: int = MAX_BYTES) -> bytes:
    """The bytes of ``path``, refusing files larger than ``max_bytes`` before reading."""
    path = Path(path)
    size = path.stat().st_size
    if size > max_bytes:
        raise GraphMLParseError(
            f"{path}: {size} bytes, more than the limit of {max_bytes}; raise max_bytes "
            "if the file is trusted")
    return path.read_bytes()
