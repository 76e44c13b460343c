"""Every sample export and the whole onnx backend corpus in one archive, and the README's
example queries checked against answers computed from the ONNX files directly.

Slow: the samples are exported with torch (once per session, shared with the other
folders' tests through tests/conftest.py), and the corpus is 2,000+ models.
"""

from __future__ import annotations

import hashlib
import re
import shlex
from collections import defaultdict
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper
from onnx_corpus import corpus_files
from typer.testing import CliRunner

from modelexport.archive import open_archive
from modelexport.cli import app

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"
README = ROOT / "README.md"


def fine_tune(src: Path, dst: Path) -> Path:
    """A fine-tuned variant: the same model with its last weight matrix changed."""
    model = onnx.load(str(src))
    last = [t for t in model.graph.initializer if len(t.dims) == 2][-1]
    last.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(last) + np.float32(0.01),
                                          last.name))
    onnx.save(model, str(dst))
    return dst


@pytest.fixture(scope="session")
def sample_models(tmp_path_factory, exported_sample) -> dict[str, Path]:
    """name -> tagged ONNX: every sample exported (the session's shared exports), bert-tiny
    also through TorchScript (``bert-tiny-ts``) and as a fine-tuned variant
    (``bert-tiny-ft``). The README's archive holds exactly these."""
    models = {p.name: exported_sample(p.name) for p in sorted(SAMPLES.iterdir())
              if (p / "config.json").exists()}
    own = tmp_path_factory.mktemp("archive-samples")
    models["bert-tiny-ts"] = exported_sample("bert-tiny", "usage_based")
    models["bert-tiny-ft"] = fine_tune(models["bert-tiny"], own / "bert-tiny-ft.onnx")
    return models


def _corpus(cases: list[tuple[str, onnx.ModelProto]]) -> list[tuple[str, object]]:
    """The ``onnx_cases`` fixture's cases and the model files onnx ships, named apart."""
    return ([(f"case/{name}", model) for name, model in cases]
            + [(f"file/{name}", path) for name, path in corpus_files()])


def _bytes(source: object) -> bytes:
    model = onnx.load(str(source)) if isinstance(source, Path) else source
    return model.SerializeToString()


#: The samples and the corpus go into this many archives of 500+ models each, which the
#: test runs can spread over workers (one archive of all 2,000+ restored model by model
#: takes minutes: each restore's queries scan every model's nodes).
PARTS = 4


@pytest.mark.slow
@pytest.mark.parametrize("part", range(PARTS))
def test_every_sample_and_the_whole_corpus_restore_identically_from_a_shared_archive(
        tmp_path, sample_models, onnx_cases, part):
    everything = [(name, path) for name, path in sample_models.items()] + _corpus(onnx_cases)
    assert len(everything) > 2000
    everything = everything[part::PARTS]
    db = tmp_path / "all.lbdb"
    with open_archive(db) as archive:
        for i in range(0, len(everything), 250):
            archive.add_many([(src, name) for name, src in everything[i:i + 250]])
    different = []
    with open_archive(db, create=False) as archive:
        assert [m.name for m in archive.list().models] == sorted(n for n, _s in everything)
        for name, source in everything:
            back = tmp_path / "back.onnx"
            archive.restore(name, back)
            if back.read_bytes() != _bytes(source):
                different.append(name)
            back.unlink()  # (on ext4, a restore over an existing file flushes it first)
    assert different == []


# -- the README's example queries ------------------------------------------------------


def readme_queries() -> list[tuple[list[str], list[str]]]:
    """(argv after 'modelexport', printed lines) of each ``archive query`` in the README."""
    text = README.read_text()
    section = text[text.index("## Archive"):]
    found = []
    for block in re.findall(r"```console\n(.*?)```", section, re.DOTALL):
        if not block.startswith("$ modelexport archive query"):
            continue
        lines = block.splitlines()
        command = []
        while True:
            line = lines.pop(0)
            command.append(line)
            joined = "\n".join(command)
            if not line.endswith("\\") and joined.count("'") % 2 == 0:
                break
        argv = shlex.split(joined[2:].replace("\\\n", " "))
        found.append((argv[1:], lines))
    return found


def _tag_of(node: onnx.NodeProto) -> str:
    return next(p.value for p in node.metadata_props if p.key == "hierarchy_tag")


def _under(tag: str, module: str) -> bool:
    return tag == module or tag.startswith(module + "/")


def ops_under(model: onnx.ModelProto, module: str) -> list[list[str]]:
    return sorted(([_tag_of(n), n.op_type, n.name] for n in model.graph.node
                   if _under(_tag_of(n), module)), key=lambda r: (r[0], r[2]))


def matmul_to_softmax(models: dict[str, onnx.ModelProto], hops: int = 3) -> list[list[str]]:
    found = set()
    for name, model in models.items():
        producer = {out: n for n in model.graph.node for out in n.output if out}
        consumers = defaultdict(list)
        for n in model.graph.node:
            for i in n.input:
                if i in producer:
                    consumers[id(producer[i])].append(n)
        for start in model.graph.node:
            if start.op_type != "MatMul":
                continue
            frontier = [start]
            for _ in range(hops):
                frontier = [c for n in frontier for c in consumers[id(n)]]
                if any(n.op_type == "Softmax" and _tag_of(n) == _tag_of(start) for n in frontier):
                    found.add((name, _tag_of(start)))
                    break
    return sorted(list(f) for f in found)


def op_counts(a: onnx.ModelProto, b: onnx.ModelProto, module: str) -> list[list]:
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for k, model in enumerate((a, b)):
        for n in model.graph.node:
            if _tag_of(n) == module:
                counts[n.op_type][k] += 1
    return sorted([op, x, y] for op, (x, y) in counts.items())


def _tensor_hash(t: onnx.TensorProto) -> str:
    return hashlib.sha256(numpy_helper.to_array(t).tobytes()).hexdigest()


def shared_tensors(models: dict[str, onnx.ModelProto]) -> list[list]:
    pairs: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    hashed = {name: [(_tensor_hash(t), numpy_helper.to_array(t).nbytes)
                     for t in m.graph.initializer] for name, m in models.items()}
    for a in hashed:
        for b in hashed:
            if a < b:
                for ha, nbytes in hashed[a]:
                    for hb, _n in hashed[b]:
                        if ha == hb:
                            pairs[(a, b)][0] += 1
                            pairs[(a, b)][1] += nbytes
    return sorted(([a, b, n, size] for (a, b), (n, size) in pairs.items()),
                  key=lambda r: (-r[3], r[0], r[1]))


def largest_modules(model: onnx.ModelProto, top: int = 5) -> list[list]:
    """analyze's per-module parameters (PyTorch's counts): tag, own, with submodules."""
    from modelexport.analysis.analyze import analyze_model

    analysis = analyze_model(model)
    assert analysis.parameters_recorded
    rows = [[m.tag, m.own_parameters, m.total_parameters] for m in analysis.modules]
    return sorted(rows, key=lambda r: (-r[2], r[0]))[:top]


def _json_rows(argv: list[str], db: Path) -> list[list]:
    import json

    argv = [str(db) if a == "samples.lbdb" else a for a in argv]
    result = CliRunner().invoke(app, argv + ["--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    return [[row[c] for c in data["columns"]] for row in data["rows"]]


@pytest.fixture(scope="module")
def samples_db(tmp_path_factory, sample_models) -> Path:
    """The README's archive: every sample model added under its name."""
    db = tmp_path_factory.mktemp("samples-archive") / "samples.lbdb"
    with open_archive(db) as archive:
        for name, path in sample_models.items():
            archive.add(path, name=name)
    return db


@pytest.mark.slow
def test_every_archived_module_has_the_parameters_analyze_counts(samples_db, sample_models):
    from modelexport.analysis.analyze import analyze_model

    with open_archive(samples_db, create=False) as archive:
        for name, path in sample_models.items():
            analysis = analyze_model(onnx.load(str(path)))
            assert analysis.parameters_recorded
            stored = archive.query("MATCH (m:Module) WHERE m.model = $name "
                                   "RETURN m.tag, m.parameters ORDER BY m.tag", name=name).rows
            assert stored == sorted([m.tag, m.own_parameters] for m in analysis.modules)
            assert sum(n for _tag, n in stored) == analysis.parameters


@pytest.mark.slow
def test_the_readme_queries_give_what_the_onnx_files_say(samples_db, sample_models):
    db = samples_db
    models = {name: onnx.load(str(path)) for name, path in sample_models.items()}
    queries = readme_queries()
    assert len(queries) == 5
    answers = []
    for argv, printed in queries:
        p = dict(argv[i + 1].split("=", 1) for i, a in enumerate(argv) if a == "--param")
        rows = _json_rows(argv, db)
        answers.append(rows)
        # the README shows what the command prints on this archive
        shown = CliRunner().invoke(app, [str(db) if a == "samples.lbdb" else a for a in argv])
        assert shown.output.splitlines() == printed, "\n".join(argv)
        if len(answers) == 1:
            assert rows == ops_under(models[p["model"]], p["tag"])
        elif len(answers) == 2:
            assert rows == matmul_to_softmax(models) and rows
        elif len(answers) == 3:
            assert rows == op_counts(models[p["a"]], models[p["b"]], p["tag"])
        elif len(answers) == 4:
            assert rows == shared_tensors(models)
        else:
            assert rows == largest_modules(models[p["model"]])


@pytest.mark.slow
def test_the_samples_database_is_smaller_than_their_graphml_and_removing_them_frees_it(
        tmp_path, sample_models):
    from modelexport.archive.ladybug_engine import LadybugEngine
    from modelexport.converter import onnx_to_graphml

    graphml = 0
    for name, path in sample_models.items():
        onnx_to_graphml(path, tmp_path / f"{name}.graphml")
        graphml += (tmp_path / f"{name}.graphml").stat().st_size
    db = tmp_path / "samples.lbdb"
    for name, path in sample_models.items():
        result = CliRunner().invoke(app, ["archive", "add", str(db), str(path), "--name", name])
        assert result.exit_code == 0, result.output
    full = db.stat().st_size
    # 0.78 x: node tables keyed by a SERIAL id without a hash index (with LadybugDB's
    # primary-key hash index, ~2 MB a table from ~1,000 rows on, it was 1.9 x)
    assert full <= graphml
    for name in sample_models:
        assert CliRunner().invoke(app, ["archive", "remove", str(db), name]).exit_code == 0
    LadybugEngine(tmp_path / "fresh.lbdb", create=True).close()
    assert full - db.stat().st_size >= 0.9 * (full - (tmp_path / "fresh.lbdb").stat().st_size)
