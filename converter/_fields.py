"""Which ONNX fields the dialect gives keys of their own: the one table that
:mod:`~modelexport.converter.encode` writes by and :mod:`~modelexport.converter.decode`
reads by.

Everything not named here travels in the element's ``*_extra`` key (readable JSON of
the proto, or its base64 when the readable form would not give back the same bytes).
"""

from __future__ import annotations

#: ModelProto scalar fields with a key of their own on the root graph: field → key.
MODEL_KEYS = {
    "ir_version": "ir_version", "producer_name": "producer_name",
    "producer_version": "producer_version", "domain": "model_domain",
    "model_version": "model_version", "doc_string": "model_doc_string",
}
#: NodeProto text fields carried as op-node keys of the same name.
NODE_TEXT_FIELDS = ("name", "op_type", "domain", "overload", "doc_string")
#: AttributeProto fields holding subgraphs (each becomes a ``subgraph`` container).
GRAPH_ATTR_FIELDS = ("g", "graphs")
#: ``graph_extra`` member marking a ModelProto without a graph (rare, but kept exactly).
GRAPH_ABSENT = "graph_absent"
