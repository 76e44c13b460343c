"""``analyze``: the module tree of a tagged ONNX model with op and parameter counts.

A module's own ops are the nodes tagged exactly with it; its total ops add those of
every module below it. A parameter (initializer element) belongs to the modules the
exporter recorded as owning it (``modelexport.parameter_owners``: the module tree's
owners, several when equal parameters were merged into one initializer), else to the
common module of the nodes that consume it. Untagged models are analyzed by op type.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field

import onnx

from modelexport.analysis._graph import (
    GraphIndex,
    modules_of,
    recorded_tree,
    tensor_size,
)
from modelexport.converter.tags import (
    STRATEGY_KEY,
    TAG_KEY,
    metadata,
    normalize_tag,
    resolve_tag,
    within,
)
from modelexport.errors import AnalysisError
from modelexport.tagging import PARAMETER_OWNERS_KEY


@dataclass
class ModuleStats:
    tag: str
    parent: str | None
    depth: int
    module_class: str | None
    own_ops: int
    total_ops: int
    op_types: dict[str, int]  # own ops by type
    total_op_types: dict[str, int]
    own_parameters: int
    total_parameters: int

    @property
    def name(self) -> str:
        return self.tag.rsplit("/", 1)[-1] or "/"


@dataclass
class Analysis:
    """What ``analyze`` reports; ``to_dict`` is the JSON form."""

    graph_name: str
    node_count: int  # the main graph's nodes (with a filter, the subtree's)
    tagged_nodes: int
    untagged_nodes: int
    tag_sources: dict[str, int]  # metadata_props / doc_string
    tree_recorded: bool
    strategy: str | None
    op_types: dict[str, int]  # over the selected nodes
    # the model's parameters (the subtree's with a filter): PyTorch's num_parameters()
    # when the exporter recorded the counts (parameters_recorded), else the elements of
    # the initializers that are not constants
    parameters: int
    unowned_parameters: int  # without the record: consumed by no tagged node
    # elements counted again because one initializer holds several modules' (equal)
    # parameters; without the record, the root's total_parameters is
    # parameters - unowned_parameters + shared_parameters
    shared_parameters: int = 0
    # initializer elements holding no parameter: shape constants, values folded at
    # export (without the record: integer and boolean initializers)
    constants: int = 0
    parameters_recorded: bool = False
    modules: list[ModuleStats] = field(default_factory=list)
    # initializers holding the parameters of several modules: name, elements, owner tags
    shared_initializers: list[dict] = field(default_factory=list)
    untagged_op_types: dict[str, int] = field(default_factory=dict)
    filter_tag: str | None = None
    selected_nodes: int = 0  # nodes in the filtered subtree (all nodes without a filter)

    @property
    def tagged(self) -> bool:
        return self.tagged_nodes > 0

    @property
    def coverage(self) -> float:
        return self.tagged_nodes / self.node_count if self.node_count else 1.0

    @property
    def module_count(self) -> int:
        """Modules of the module tree (within the filter), as ``export`` counts them."""
        return len(self.modules)

    @property
    def modules_holding_ops(self) -> int:
        return sum(m.own_ops > 0 for m in self.modules)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["coverage"] = round(self.coverage, 6)
        data["module_count"] = self.module_count
        data["modules_holding_ops"] = self.modules_holding_ops
        return data


def _sorted_counts(counter: Counter[str]) -> dict[str, int]:
    return dict(sorted(counter.items(), key=lambda kv: (-kv[1], kv[0])))


def _recorded_owners(props: dict[str, str]) -> dict[str, list[tuple[str, int]]]:
    """The exporter's record of which modules' parameters each initializer holds."""
    text = props.get(PARAMETER_OWNERS_KEY)
    if not text:
        return {}
    try:
        data = json.loads(text)
        # entries are [tag, count, parameter name]; older exports wrote [tag, count]
        return {str(name): [(str(entry[0]), int(entry[1])) for entry in held]
                for name, held in data.items()}
    except (ValueError, TypeError, AttributeError, IndexError) as e:
        raise AnalysisError(f"model metadata {PARAMETER_OWNERS_KEY!r} is not valid ({e}); "
                            "re-export the model or remove that entry") from e


def _recorded_parameters(tree: list[dict] | None) -> dict[str, int] | None:
    """Parameter elements per module as the exporter counted them in PyTorch (the module
    tree's ``parameters``), or None when the tree does not record them."""
    if not tree or not all(isinstance(e, dict) and "parameters" in e for e in tree):
        return None
    counts: dict[str, int] = {}
    for entry in tree:
        tag = normalize_tag(str(entry.get("tag", "")))
        try:
            counts[tag] = counts.get(tag, 0) + int(entry["parameters"])
        except (TypeError, ValueError) as e:
            raise AnalysisError(f"model metadata 'modelexport.module_tree': module {tag!r} has "
                                f"parameters {entry['parameters']!r}, not a count; re-export "
                                "the model") from e
    return counts


# Initializers of these types hold shape constants, indices and masks, never weights.
_CONSTANT_TYPES = {onnx.TensorProto.INT8, onnx.TensorProto.INT16, onnx.TensorProto.INT32,
                   onnx.TensorProto.INT64, onnx.TensorProto.UINT8, onnx.TensorProto.UINT16,
                   onnx.TensorProto.UINT32, onnx.TensorProto.UINT64, onnx.TensorProto.BOOL,
                   onnx.TensorProto.STRING}


def analyze_model(model: onnx.ModelProto, filter_tag: str | None = None) -> Analysis:
    """Count ops, op types and parameters per module of ``model``'s hierarchy.

    Parameters are PyTorch's own counts when the exporter recorded them in the module
    tree (so ``parameters`` is the model's ``num_parameters()``); then the initializers
    holding none of them are ``constants``. Without that record, integer and boolean
    initializers are the constants, and the others are owned by the modules the exporter
    recorded, else by the common module of the nodes consuming them. With
    ``filter_tag``, every count is of that module's subtree.
    """
    index = GraphIndex.of(model)
    props = metadata(model)
    tree = recorded_tree(model)
    params = {name: tensor_size(t) for name, t in index.initializers.items()}
    params.update({name: tensor_size(t.values) for name, t in index.sparse_initializers.items()})
    recorded = _recorded_owners(props)
    counted = _recorded_parameters(tree)
    if counted is not None:
        constants = {name for name in params if name not in recorded}
    else:
        types = {name: t.data_type for name, t in index.initializers.items()}
        types.update({name: t.values.data_type
                      for name, t in index.sparse_initializers.items()})
        constants = {name for name in params if types[name] in _CONSTANT_TYPES}
    owners = {name: None if name in recorded else index.initializer_owner(name)
              for name in params}

    tagged = sum(t is not None for t in index.tags)
    modules = modules_of(model, index.tags) if tagged or tree else []
    if filter_tag is not None:
        filter_tag, why = resolve_tag(filter_tag, [m.tag for m in modules])
        if filter_tag is None:
            raise AnalysisError(f"{why}; run 'modelexport analyze' to list them")
        modules = [m for m in modules if within(m.tag, filter_tag)]

    def in_scope(tag: str | None) -> bool:
        return filter_tag is None or (tag is not None and within(tag, filter_tag))

    own_ops: dict[str, Counter[str]] = {m.tag: Counter() for m in modules}
    for node, tag in zip(index.nodes, index.tags, strict=True):
        if tag in own_ops:
            own_ops[tag][node.op_type] += 1
    own_params: Counter[str] = Counter()
    if counted is not None:
        own_params.update(counted)
    else:
        for name, owner in owners.items():
            if owner is not None and name not in constants:
                own_params[owner] += params[name]
        for held in recorded.values():
            for tag, count in held:
                own_params[normalize_tag(tag)] += count
    shared = []
    counted_again = 0
    for name, held in recorded.items():
        inside = [(normalize_tag(tag), count) for tag, count in held
                  if in_scope(normalize_tag(tag))]
        if inside:
            counted_again += max(0, sum(count for _, count in inside) - params.get(name, 0))
        if len({tag for tag, _ in held}) > 1 and inside:
            shared.append({"initializer": name, "elements": params.get(name, 0),
                           "modules": sorted({normalize_tag(tag) for tag, _ in held})})

    depth_base = modules[0].tag.count("/") if modules else 0
    stats: list[ModuleStats] = []
    for m in modules:
        below = [t for t in own_ops if within(t, m.tag)]
        total = sum((own_ops[t] for t in below), Counter())
        stats.append(ModuleStats(
            tag=m.tag,
            parent=m.parent if filter_tag is None or m.tag != filter_tag else None,
            depth=m.tag.count("/") - depth_base,
            module_class=m.module_class,
            own_ops=sum(own_ops[m.tag].values()),
            total_ops=sum(total.values()),
            op_types=_sorted_counts(own_ops[m.tag]),
            total_op_types=_sorted_counts(total),
            own_parameters=own_params[m.tag],
            total_parameters=sum(n for t, n in own_params.items() if within(t, m.tag)),
        ))

    chosen = [i for i, t in enumerate(index.tags) if in_scope(t)]
    selected = [index.nodes[i] for i in chosen]
    sources = Counter(
        "metadata_props" if any(p.key == TAG_KEY and p.value for p in index.nodes[i].metadata_props)
        else "doc_string" for i in chosen if index.tags[i] is not None)
    selected_tagged = sum(index.tags[i] is not None for i in chosen)
    untagged_types = Counter(index.nodes[i].op_type for i in chosen if index.tags[i] is None)
    if filter_tag is not None:
        parameters = sum(n for t, n in own_params.items() if in_scope(t))
    elif counted is not None:
        parameters = sum(counted.values())
    else:
        parameters = sum(n for name, n in params.items() if name not in constants)
    unowned = 0 if counted is not None or filter_tag is not None else sum(
        params[n] for n, o in owners.items()
        if o is None and n not in recorded and n not in constants)
    return Analysis(
        graph_name=model.graph.name,
        node_count=len(selected),
        tagged_nodes=selected_tagged,
        untagged_nodes=len(selected) - selected_tagged,
        tag_sources=dict(sorted(sources.items())),
        tree_recorded=tree is not None,
        strategy=props.get(STRATEGY_KEY),
        op_types=_sorted_counts(Counter(n.op_type for n in selected)),
        parameters=parameters,
        unowned_parameters=unowned,
        shared_parameters=counted_again,
        constants=sum(params[n] for n in constants if in_scope(owners[n])),
        parameters_recorded=counted is not None,
        modules=stats,
        shared_initializers=shared,
        untagged_op_types=_sorted_counts(untagged_types),
        filter_tag=filter_tag,
        selected_nodes=len(selected),
    )
