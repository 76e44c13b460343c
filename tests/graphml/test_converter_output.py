"""The validator on what the converter really writes: onnx's own test models and a
hand-built model with modules, an If subgraph and a tensor attribute; and corruptions
of real output, each reported by name."""

from __future__ import annotations

import glob
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from lxml import etree

onnx = pytest.importorskip("onnx")
converter = pytest.importorskip("modelexport.converter")

from modelexport.graphml import format as fmt  # noqa: E402
from modelexport.graphml import validate_graphml  # noqa: E402

NS = {"g": fmt.GRAPHML_NS}
G = f"{{{fmt.GRAPHML_NS}}}"
ONNX_TEST_MODELS = sorted(glob.glob(
    os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "**", "*.onnx"),
    recursive=True))


def _model():
    import numpy as np
    from onnx import TensorProto as T
    from onnx import helper as h
    from onnx import numpy_helper as nh

    def tagged(node, tag):
        node.metadata_props.add(key="hierarchy_tag", value=tag)
        return node

    then = h.make_graph([h.make_node("Identity", ["z"], ["t"], name="then_id")], "then", [],
                        [h.make_tensor_value_info("t", T.FLOAT, [1, 4])])
    other = h.make_graph([h.make_node("Neg", ["z"], ["t2"], name="else_neg")], "else", [],
                         [h.make_tensor_value_info("t2", T.FLOAT, [1, 4])])
    big = nh.from_array(np.arange(64, dtype=np.int64), "big")
    nodes = [
        tagged(h.make_node("MatMul", ["x", "w"], ["m"], name="/layer.0/MatMul"), "/Net/Layer.0"),
        tagged(h.make_node("Add", ["m", "b"], ["z"], name="/layer.0/Add"), "/Net/Layer.0"),
        tagged(h.make_node("Constant", [], ["k"], name="/Constant", value=big), "/Net"),
        tagged(h.make_node("ReduceSum", ["z"], ["s"], name="/rs", keepdims=0), "/Net"),
        tagged(h.make_node("Greater", ["s", "zero"], ["c"], name="/gt"), "/Net"),
        tagged(h.make_node("If", ["c"], ["o"], name="/if", then_branch=then, else_branch=other),
               "/Net/Head"),
    ]
    inits = [nh.from_array(np.arange(16, dtype=np.float32).reshape(4, 4), "w"),
             nh.from_array(np.ones(4, dtype=np.float32), "b"),
             nh.from_array(np.zeros((), dtype=np.float32), "zero")]
    graph = h.make_graph(nodes, "net", [h.make_tensor_value_info("x", T.FLOAT, [1, 4])],
                         [h.make_tensor_value_info("o", T.FLOAT, [1, 4]),
                          h.make_tensor_value_info("k", T.INT64, [64])], initializer=inits)
    return h.make_model(graph, opset_imports=[h.make_opsetid("", 21)])


def _convert(tmp_path: Path, *, yed: bool = True, flat: bool = False) -> Path:
    out = tmp_path / f"net{'_y' if yed else ''}{'_f' if flat else ''}.graphml"
    converter.onnx_to_graphml(_model(), out, yed=yed, flat=flat)
    return out


@pytest.mark.parametrize("yed", [True, False])
@pytest.mark.parametrize("flat", [True, False])
def test_converter_output_is_valid_in_every_variant(tmp_path: Path, yed: bool, flat: bool) -> None:
    report = validate_graphml(_convert(tmp_path, yed=yed, flat=flat))
    assert report.ok, [str(f) for f in report.findings]


def test_flat_plain_converter_output_passes_the_official_schema(tmp_path: Path) -> None:
    report = validate_graphml(_convert(tmp_path, yed=False, flat=True), schema="official")
    assert report.ok, [str(f) for f in report.findings]


def _model_params():
    # The "light" models are real CNNs of thousands of nodes: seconds each, so slow.
    for p in ONNX_TEST_MODELS:
        marks = [pytest.mark.slow] if f"{os.sep}light{os.sep}" in p else []
        yield pytest.param(p, id=p.split("data" + os.sep)[-1], marks=marks)


@pytest.mark.parametrize("path", list(_model_params()))
def test_onnx_test_models_convert_to_valid_graphml(tmp_path: Path, path: str) -> None:
    out = tmp_path / "m.graphml"
    converter.onnx_to_graphml(path, out)
    report = validate_graphml(out)
    assert report.ok, [str(f) for f in report.findings]


@pytest.mark.parametrize("path", [p for p in ONNX_TEST_MODELS[::6] if "light" not in p])
def test_flat_plain_onnx_test_models_pass_the_official_schema(tmp_path: Path, path: str) -> None:
    out = tmp_path / "m.graphml"
    converter.onnx_to_graphml(path, out, yed=False, flat=True)
    report = validate_graphml(out, schema="official")
    assert report.ok, [str(f) for f in report.findings]


# -- corruptions of real output, by role rather than by id ----------------------------------

def _edit(edit: Callable[[etree._Element], None]) -> Callable[[Path], None]:
    def mutate(path: Path) -> None:
        root = etree.fromstring(path.read_bytes())
        edit(root)
        path.write_bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
    return mutate


def _first(root, kind: str) -> etree._Element:
    return root.xpath(f"//g:node[g:data[@key='kind']='{kind}']", namespaces=NS)[0]


def _set(kind: str, key: str, value: Callable[[str], str]):
    def edit(root):
        d = _first(root, kind).find(f"{G}data[@key='{key}']")
        d.text = value(d.text)
    return _edit(edit)


def _op_to_top(root):
    op = root.xpath("//g:node[g:data[@key='kind']='module']/g:graph/"
                    "g:node[g:data[@key='kind']='op']", namespaces=NS)[0]
    op.getparent().remove(op)
    top = root.find(f"{G}graph")
    top.insert(top.index(top.find(f"{G}node")), op)


def _dangling(root):
    root.xpath("//g:edge", namespaces=NS)[0].set("target", "ghost")


def _duplicate(root):
    ids = root.xpath("//g:node/@id", namespaces=NS)
    root.xpath(f"//g:node[@id='{ids[1]}']", namespaces=NS)[0].set("id", ids[0])


def _drop_key(root):
    root.remove(root.xpath("g:key[@id='op_type']", namespaces=NS)[0])


def _sidecar(path: Path) -> Path:
    return path.with_suffix(".onnxdata")


REAL_MUTATIONS = {
    "flip a sidecar byte": (lambda p: _sidecar(p).write_bytes(
        bytes([_sidecar(p).read_bytes()[0] ^ 1]) + _sidecar(p).read_bytes()[1:]), "SHA-256"),
    "cut the sidecar": (lambda p: _sidecar(p).write_bytes(_sidecar(p).read_bytes()[:10]),
                        "truncated"),
    "sidecar missing": (lambda p: _sidecar(p).unlink(), "missing"),
    "change an initializer dtype": (_set("initializer", "dtype", lambda t: "DOUBLE"),
                                    "does not match DOUBLE"),
    "wrong initializer length": (_set("initializer", "length", lambda t: str(int(t) + 1)),
                                 "does not match"),
    "initializer offset past the end": (_set("initializer", "offset", lambda t: "1048576"),
                                        "outside"),
    "absolute sidecar path": (lambda p: p.write_text(p.read_text().replace(
        f">{_sidecar(p).name}<", ">/tmp/x.onnxdata<")), "absolute"),
    "move an op out of its module": (_edit(_op_to_top), "nesting and parent must agree"),
    "edge to a missing node": (_edit(_dangling), "'ghost'"),
    "duplicate node id": (_edit(_duplicate), "duplicate"),
    "remove a key declaration": (_edit(_drop_key), "'op_type' is not declared"),
    "input produced nowhere": (_set("op", "inputs", lambda t: '["nowhere"]'), "'nowhere'"),
    "truncated XML": (lambda p: p.write_bytes(p.read_bytes()[:-200]), "not well-formed"),
}


@pytest.mark.parametrize("name", list(REAL_MUTATIONS))
def test_corrupted_converter_output_is_reported_by_name(tmp_path: Path, name: str) -> None:
    path = _convert(tmp_path)
    assert validate_graphml(path).ok
    mutate, fragment = REAL_MUTATIONS[name]
    mutate(path)
    report = validate_graphml(path)
    assert not report.ok
    assert any(fragment in str(f) for f in report.findings), [str(f) for f in report.findings]
