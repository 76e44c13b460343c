"""The facts of modelexport's GraphML dialect, in one place.

Reader, writer, validator and the converters all import from here: XML namespaces,
the fixed, named data keys with their GraphML types, node kinds, and the sidecar
fields. Key ids are fixed (never ``d0, d1, ...`` by insertion order) so that output is
deterministic and diffs cleanly.

Ground rules of the dialect:

* Every node carries ``kind`` (one of :data:`NODE_KINDS`) and ``parent`` (the id of the
  node that contains it, ``""`` at the top). ``parent`` is authoritative; the nesting
  of ``<graph>`` elements presents the same hierarchy for yEd and must agree with it.
  Flat output (``--flat``) drops the nesting and keeps ``parent``.
* Values that are lists or records are JSON text in a ``string`` key (noted below);
  64-bit integers are decimal text in a ``string`` key (:data:`INT64`).
* A reference box (:data:`KIND_REF`) draws a shared constant again beside a consumer;
  its ``ref`` names the node it stands for, and its edges are that node's in the data
  flow (see :mod:`modelexport.graphml.refs`).
* Tensor bytes live in the ``.onnxdata`` sidecar beside the GraphML; nodes that own
  bytes record ``offset`` and ``length`` into it.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

GRAPHML_NS = "http://graphml.graphdrawing.org/xmlns"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
YFILES_NS = "http://www.yworks.com/xml/graphml"
YED_NS = "http://www.yworks.com/xml/yed/3"
GRAPHML_SCHEMA_URL = "http://graphml.graphdrawing.org/xmlns/1.1/graphml.xsd"
SCHEMA_LOCATION = f"{GRAPHML_NS} {GRAPHML_SCHEMA_URL}"

#: Version of this dialect, written on the root graph.
FORMAT_VERSION = "modelexport-graphml/1"

#: GraphML's attr.type values and the Python types they carry.
ATTR_TYPES: dict[str, type] = {
    "boolean": bool,
    "int": int,
    "long": int,
    "float": float,
    "double": float,
    "string": str,
}

#: The dialect's own value type: a 64-bit integer kept as decimal text in a ``string``
#: key. yEd refuses ``attr.type="long"`` (a dialog on every open: "type long ... not
#: supported") and ``int`` is 32-bit in XSD, while offsets, sizes and ``ir_version``
#: need 64 bits; a ``double`` would round past 2**53. So such keys are declared
#: ``string`` and their text is an optional ``-`` and decimal digits, no more than a
#: signed 64-bit integer holds; readers of this dialect give back the exact ``int``.
INT64 = "int64"

#: The Python type each value type of the dialect carries (GraphML's six and INT64).
VALUE_TYPES: dict[str, type] = {**ATTR_TYPES, INT64: int}


def graphml_type(value_type: str) -> str:
    """The ``attr.type`` a key of ``value_type`` is declared with (INT64: ``string``)."""
    return "string" if value_type == INT64 else value_type

#: Sidecar suffix; the sidecar sits beside the GraphML with the same stem.
SIDECAR_SUFFIX = ".onnxdata"
#: The ONNX domain of the functions ``fold`` makes, one per module body: an op of this
#: domain is a call standing for its whole module (drawn in the call style).
FUNCTION_DOMAIN = "modelexport.modules"


@dataclass(frozen=True)
class KeySpec:
    """A data key of the dialect: its fixed id, what it applies to, name and type."""

    id: str
    domain: str  # "graph" | "node" | "edge"
    name: str
    type: str  # one of VALUE_TYPES; declared as graphml_type(type)
    doc: str = ""


# Node kinds.
KIND_OP = "op"  # an ONNX NodeProto
KIND_MODULE = "module"  # a module of the hierarchy: a group node
KIND_INPUT = "input"  # a graph input (ValueInfoProto)
KIND_OUTPUT = "output"  # a graph output (ValueInfoProto)
KIND_INITIALIZER = "initializer"  # a TensorProto in graph.initializer
KIND_SUBGRAPH = "subgraph"  # a GRAPH/GRAPHS attribute of an op: a group inside the op
#: A reference box: a shared constant drawn again beside one of its consumers (see
#: graphml.refs); its ``ref`` data names the node it stands for. Presentation only:
#: no ONNX element, and edges leaving it leave that node in the data flow.
KIND_REF = "ref"
NODE_KINDS = (KIND_OP, KIND_MODULE, KIND_INPUT, KIND_OUTPUT, KIND_INITIALIZER, KIND_SUBGRAPH,
              KIND_REF)

#: The key of a reference box naming the node it stands for.
REF_KEY = "ref"

_KEYS = [
    # -- the root graph: the model --------------------------------------------------
    KeySpec("format", "graph", "format", "string", "dialect version, FORMAT_VERSION"),
    KeySpec("ir_version", "graph", "ir_version", INT64),
    KeySpec("opset_import", "graph", "opset_import", "string", "JSON [[domain, version], ...]"),
    KeySpec("producer_name", "graph", "producer_name", "string"),
    KeySpec("producer_version", "graph", "producer_version", "string"),
    KeySpec("model_domain", "graph", "model_domain", "string"),
    KeySpec("model_version", "graph", "model_version", INT64),
    KeySpec("model_doc_string", "graph", "model_doc_string", "string"),
    KeySpec("model_metadata_props", "graph", "model_metadata_props", "string",
            "JSON [[key, value], ...]"),
    KeySpec("model_extra", "graph", "model_extra", "string",
            "JSON: ModelProto fields not carried elsewhere"),
    KeySpec("graph_name", "graph", "graph_name", "string"),
    KeySpec("graph_doc_string", "graph", "graph_doc_string", "string"),
    KeySpec("graph_extra", "graph", "graph_extra", "string",
            "JSON: GraphProto fields not carried elsewhere"),
    KeySpec("value_info", "graph", "value_info", "string", "JSON list of ValueInfoProto"),
    KeySpec("sidecar", "graph", "sidecar", "string",
            "file name of the sidecar, beside the GraphML"),
    KeySpec("sidecar_size", "graph", "sidecar_size", INT64, "size of the sidecar in bytes"),
    KeySpec("sidecar_sha256", "graph", "sidecar_sha256", "string", "hex SHA-256 of the sidecar"),
    KeySpec("source_onnx", "graph", "source_onnx", "string",
            "the ONNX file converted, relative to the GraphML"),
    KeySpec("layout", "graph", "layout", "string",
            "how the yEd geometry was placed: dot, outline or none (styling, not model data)"),
    # -- every node -----------------------------------------------------------------
    KeySpec("kind", "node", "kind", "string", "one of NODE_KINDS"),
    KeySpec("label", "node", "label", "string", "short human label"),
    KeySpec("parent", "node", "parent", "string", "id of the containing node, '' at the top"),
    KeySpec("hierarchy_tag", "node", "hierarchy_tag", "string", "module tag, e.g. /Model/Layer.0"),
    KeySpec("name", "node", "name", "string", "the real ONNX name (node, tensor) or module path"),
    KeySpec("index", "node", "index", "int", "position in its ONNX list (nodes, inputs, ...)"),
    KeySpec("doc_string", "node", "doc_string", "string"),
    KeySpec("metadata_props", "node", "metadata_props", "string", "JSON [[key, value], ...]"),
    KeySpec("ref", "node", "ref", "string",
            "kind ref: id of the node this reference box stands for"),
    # -- modules --------------------------------------------------------------------
    KeySpec("module_path", "node", "module_path", "string", "dotted module path"),
    KeySpec("module_class", "node", "module_class", "string", "module class name"),
    KeySpec("parameters", "node", "parameters", INT64,
            "module: parameter elements it owns (its torch.nn children's included), as "
            "PyTorch counts them; from the export's module tree (derived: import-onnx "
            "reads the tree)"),
    # -- compare: both models in one picture ----------------------------------------
    KeySpec("diff", "node", "diff", "string", "compare: same, changed, added or removed"),
    # -- ops ------------------------------------------------------------------------
    KeySpec("op_type", "node", "op_type", "string"),
    KeySpec("domain", "node", "domain", "string"),
    KeySpec("overload", "node", "overload", "string"),
    KeySpec("inputs", "node", "inputs", "string", "JSON list of input tensor names, '' = omitted"),
    KeySpec("outputs", "node", "outputs", "string", "JSON list of output tensor names"),
    KeySpec("attributes", "node", "attributes", "string", "JSON list of attributes"),
    KeySpec("node_extra", "node", "node_extra", "string",
            "JSON: NodeProto fields not carried elsewhere"),
    # -- subgraph containers --------------------------------------------------------
    KeySpec("attribute_name", "node", "attribute_name", "string", "attribute holding the subgraph"),
    KeySpec("attribute_index", "node", "attribute_index", "int",
            "position within a GRAPHS attribute"),
    # -- tensors (inputs, outputs, initializers) ------------------------------------
    KeySpec("dtype", "node", "dtype", "string", "element type name, e.g. FLOAT"),
    KeySpec("shape", "node", "shape", "string", "JSON list of dims (int or symbolic name)"),
    KeySpec("type", "node", "type", "string", "JSON TypeProto, exact"),
    KeySpec("tensor", "node", "tensor", "string", "JSON TensorProto without its data"),
    KeySpec("offset", "node", "offset", INT64, "byte offset of the data in the sidecar"),
    KeySpec("length", "node", "length", INT64, "byte length of the data in the sidecar"),
    KeySpec("parameter", "node", "parameter", "string",
            "initializer: JSON list of the parameter names it holds, as the export recorded"),
    # -- edges ----------------------------------------------------------------------
    KeySpec("e_tensor", "edge", "tensor", "string", "tensor name"),
    KeySpec("e_dtype", "edge", "dtype", "string"),
    KeySpec("e_shape", "edge", "shape", "string", "JSON list of dims"),
    KeySpec("e_label", "edge", "label", "string"),
    KeySpec("source_output", "edge", "source_output", "int", "output position at the producer"),
    KeySpec("target_input", "edge", "target_input", "int", "input position at the consumer"),
]

#: All keys of the dialect by id, in declaration order (the order they are written).
KEYS: dict[str, KeySpec] = {k.id: k for k in _KEYS}

#: Keys by (domain, attr.name), for readers that meet files keyed differently.
KEYS_BY_NAME: dict[tuple[str, str], KeySpec] = {(k.domain, k.name): k for k in _KEYS}

# Key ids used for yEd's graphics, declared only when yEd markup is written.
YED_NODE_GRAPHICS_KEY = "y_node"
YED_EDGE_GRAPHICS_KEY = "y_edge"

#: The root graph's key saying how the geometry was placed. Like the yEd graphics it
#: is styling, written with them and skipped by the reader: never part of a Document.
LAYOUT_KEY = "layout"

# -- tensors and the sidecar -------------------------------------------------------

#: ONNX element types by name: (TensorProto.DataType value, bits per element).
#: Kept here, without importing onnx, so the validator can check that a tensor's
#: sidecar length equals ceil(bits x element count / 8). STRING has no fixed size
#: and never goes to the sidecar.
DTYPES: dict[str, tuple[int, int]] = {
    "FLOAT": (1, 32), "UINT8": (2, 8), "INT8": (3, 8), "UINT16": (4, 16),
    "INT16": (5, 16), "INT32": (6, 32), "INT64": (7, 64), "STRING": (8, 0),
    "BOOL": (9, 8), "FLOAT16": (10, 16), "DOUBLE": (11, 64), "UINT32": (12, 32),
    "UINT64": (13, 64), "COMPLEX64": (14, 64), "COMPLEX128": (15, 128),
    "BFLOAT16": (16, 16), "FLOAT8E4M3FN": (17, 8), "FLOAT8E4M3FNUZ": (18, 8),
    "FLOAT8E5M2": (19, 8), "FLOAT8E5M2FNUZ": (20, 8), "UINT4": (21, 4),
    "INT4": (22, 4), "FLOAT4E2M1": (23, 4), "FLOAT8E8M0": (24, 8), "UINT2": (25, 2),
    "INT2": (26, 2), "FLOAT6E2M3": (27, 6), "FLOAT6E3M2": (28, 6),
}

#: Byte alignment of every tensor's offset in the sidecar.
SIDECAR_ALIGNMENT = 64

#: A tensor whose bytes are in the sidecar is recorded, wherever it appears (an
#: initializer node's ``tensor`` key, or inside the ``attributes`` JSON of an op), as a
#: JSON object holding this member: ``{"sidecar": {"offset": o, "length": n,
#: "dtype": "FLOAT", "dims": [..]}, ...}``. The validator finds them by this name.
SIDECAR_REF = "sidecar"


def expected_nbytes(dtype: str, dims: list[int]) -> int | None:
    """Bytes a dense tensor of this type and shape occupies, or None if not fixed."""
    bits = DTYPES.get(dtype, (0, 0))[1]
    if not bits:
        return None
    count = 1
    for d in dims:
        count *= d
    return (count * bits + 7) // 8


# -- identifiers and values ----------------------------------------------------------

#: An XML NMTOKEN (XML 1.0 fifth edition NameChar+): what GraphML allows as an id.
NMTOKEN_RE = re.compile(
    "[:A-Z_a-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u02ff\u0370-\u037d\u037f-\u1fff"
    "\u200c-\u200d\u2070-\u218f\u2c00-\u2fef\u3001-\ud7ff\uf900-\ufdcf\ufdf0-\ufffd"
    "\U00010000-\U000effff\\-.0-9\u00b7\u0300-\u036f\u203f-\u2040]+"
)

#: Characters XML 1.0 cannot carry at all, even escaped.
XML_ILLEGAL_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

#: Value ranges of GraphML's integer types (XSD int and long).
INT_RANGES: dict[str, tuple[int, int]] = {
    "int": (-(2**31), 2**31 - 1),
    "long": (-(2**63), 2**63 - 1),
    INT64: (-(2**63), 2**63 - 1),
}

#: Longest text value a reader may accept: libxml2's per-text-node limit when
#: ``huge_tree`` is off, as it is for untrusted input. The writer refuses longer values.
MAX_TEXT_BYTES = 10_000_000

_ARTICLE = {"int": "an", "long": "a", INT64: "an"}
_FLOAT_TEXT = {"NaN": math.nan, "INF": math.inf, "-INF": -math.inf}


def tag_within(tag: str, prefix: str) -> bool:
    """True when the hierarchy tag ``tag`` is ``prefix`` or a module below it.

    Whole path segments: ``/A/Layer.1`` does not contain ``/A/Layer.10``; the root
    ``/`` contains every tag. :mod:`modelexport.converter.tags` names this ``within``.
    """
    return tag == prefix or prefix == "/" or tag.startswith(prefix + "/")


def resolve_tag(given: str, known: Iterable[str]) -> tuple[str | None, str]:
    """The module tag a user meant by ``given``, among the ``known`` tags.

    ``given`` itself when known (blanks and extra slashes aside). A tag written without
    its leading modules (``Layer.0``, ``Stack/Layer.0``: no leading ``/``) is resolved
    when exactly one known tag ends with those segments. Otherwise returns None and a
    sentence for the error: the candidates when several tags match, else the closest
    tags (``did you mean``), else the first few.
    """
    import difflib

    tags = list(dict.fromkeys(known))
    parts = [p for p in given.strip().split("/") if p]
    whole = "/" + "/".join(parts) if parts else "/"
    if whole in tags:
        return whole, ""
    relative = bool(parts) and not given.strip().startswith("/")
    if relative:
        ends = [t for t in tags if t.endswith("/" + "/".join(parts))]
        if len(ends) == 1:
            return ends[0], ""
        if ends:
            shown = ", ".join(ends[:5]) + (", ..." if len(ends) > 5 else "")
            return None, (f"{given!r} matches {len(ends)} modules ({shown}); give the whole "
                          "tag, from the root")
    # Near misses: whole tags, or for a relative tag, tags' last segments alike.
    if relative:
        tails = {"/".join(t.split("/")[-len(parts):]): t for t in reversed(tags)
                 if t.count("/") >= len(parts)}
        close = [tails[m] for m in difflib.get_close_matches("/".join(parts), tails, n=3)]
    else:
        close = difflib.get_close_matches(whole, tags, n=3)
    if close:
        return None, (f"no module {given!r} in the model; did you mean "
                      + " or ".join(repr(t) for t in close) + "?")
    shown = ", ".join(tags[:5]) + (", ..." if len(tags) > 5 else "")
    return None, (f"no module {given!r} in the model (modules: "
                  f"{shown or 'none: the model has no tags'})")


def is_nmtoken(text: str) -> bool:
    """True if ``text`` may be used as a GraphML id."""
    return NMTOKEN_RE.fullmatch(text) is not None


def format_value(attr_type: str, value: object) -> str:
    """Text of ``value`` in a ``<data>`` of a key of ``attr_type``; ValueError if unfit.

    Floats are written so that :func:`parse_value` gives back the same float
    (``repr``; ``NaN``, ``INF``, ``-INF`` as XSD spells them).
    """
    if attr_type == "string":
        if not isinstance(value, str):
            raise ValueError(f"expected a str, got {type(value).__name__}")
        return value
    if attr_type == "boolean":
        if not isinstance(value, bool):
            raise ValueError(f"expected a bool, got {type(value).__name__}")
        return "true" if value else "false"
    if attr_type in INT_RANGES:
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError(f"expected an int, got {type(value).__name__}")
        lo, hi = INT_RANGES[attr_type]
        if not lo <= value <= hi:
            raise ValueError(f"{value} is outside the range of type {attr_type!r}")
        return str(value)
    if attr_type in ("float", "double"):
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise ValueError(f"expected a float, got {type(value).__name__}")
        value = float(value)
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "INF" if value > 0 else "-INF"
        return repr(value)
    raise ValueError(f"GraphML has no attr.type {attr_type!r}; use one of "
                     f"{', '.join(VALUE_TYPES)}")


def parse_value(attr_type: str, text: str) -> str | int | float | bool:
    """The Python value of ``<data>`` text for a key of ``attr_type``; ValueError if unfit."""
    if attr_type == "string":
        return text
    t = text.strip()
    if attr_type == "boolean":
        if t in ("true", "1"):
            return True
        if t in ("false", "0"):
            return False
        raise ValueError(f"{t!r} is not a boolean (true, false, 1, 0)")
    if attr_type in INT_RANGES:
        try:
            value = int(t, 10)
        except ValueError as e:
            raise ValueError(f"{t!r} is not {_ARTICLE[attr_type]} {attr_type}") from e
        lo, hi = INT_RANGES[attr_type]
        if not lo <= value <= hi or "_" in t or (attr_type == INT64 and t.lstrip("-")[:1] == "+"):
            raise ValueError(f"{t!r} is not {_ARTICLE[attr_type]} {attr_type}")
        return value
    if attr_type in ("float", "double"):
        if t in _FLOAT_TEXT:
            return _FLOAT_TEXT[t]
        if "_" in t or t.lower() in ("nan", "inf", "+inf", "-inf", "infinity", "-infinity"):
            raise ValueError(f"{t!r} is not a {attr_type} (XSD spells NaN, INF, -INF)")
        try:
            return float(t)
        except ValueError as e:
            raise ValueError(f"{t!r} is not a {attr_type}") from e
    raise ValueError(f"GraphML has no attr.type {attr_type!r}")


def sidecar_location(graphml_path: str | os.PathLike, name: object) -> Path:
    """Where the sidecar a GraphML names lives: a plain file name beside the GraphML.

    Raises ValueError naming the broken rule for anything else: no name, an absolute
    path, ``..``, a subdirectory, or a symbolic link that leads out of the GraphML's
    directory. Reader, validator and importer all apply this one rule.
    """
    bad = None
    if not isinstance(name, str) or not name:
        bad = "is not a file name"
    elif PurePosixPath(name).is_absolute() or PureWindowsPath(name).is_absolute() \
            or PureWindowsPath(name).drive:
        bad = "is an absolute path"
    elif ".." in PurePosixPath(name.replace("\\", "/")).parts:
        bad = "climbs out with '..'"
    elif "/" in name or "\\" in name or name == ".":
        bad = "names a subdirectory"
    if bad:
        raise ValueError(f"sidecar name {name!r} {bad}; it must be a plain file name beside "
                         "the GraphML")
    folder = Path(graphml_path).parent
    path = folder / name
    if path.is_symlink() and path.resolve().parent != folder.resolve():
        raise ValueError(f"sidecar {name!r} is a link to {str(path.resolve())!r}, outside the "
                         "GraphML's directory; copy the file beside the GraphML instead")
    return path

