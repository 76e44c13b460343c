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
                                  ``{"tag", "path", "class", "parent"}`` (parent: a tag
                                  or ``null``), root first, in module order
    ``modelexport.strategy``      the strategy that produced the tags

Older files kept the tag as JSON in ``NodeProto.doc_string``
(``{"hierarchy_tag": "/Model/Layer.0", ...}``); :func:`node_tag` reads that form too.
"""

from __future__ import annotations

import json
from typing import Any

TAG_KEY = "hierarchy_tag"
MODULE_PATH_KEY = "module_path"
MODULE_CLASS_KEY = "module_class"
MODULE_TREE_KEY = "modelexport.module_tree"
STRATEGY_KEY = "modelexport.strategy"


def _props(proto: Any) -> dict[str, str]:
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
    text = _props(model).get(MODULE_TREE_KEY)
    if text is None:
        return None
    tree = json.loads(text)
    if not isinstance(tree, list):
        raise ValueError(f"model metadata {MODULE_TREE_KEY!r} is not a JSON list")
    return tree
