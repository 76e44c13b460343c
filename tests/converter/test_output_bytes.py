"""Output bytes pinned: SHA-256 of what the converters write, computed with the code of
commit 4eb8a4d and kept here, so a refactor that changes one byte fails.

Pinned per model: the ``--no-yed`` GraphML, the ``--flat --no-yed`` GraphML, the
sidecar, and the ONNX rebuilt by import-onnx. The default GraphML is not pinned: its
yEd markup gains layout geometry on purpose (SPEC §10), and nothing else of the
document depends on it.

Models: bench's synthetic graphs and the whole onnx test corpus (one hash over every
model's hashes, in corpus order), and, slow, every sample exported by ``modelexport``
(the export's bytes are pinned too). torch records absolute source paths in
``pkg.torch.onnx.stack_trace``; those are rewritten relative to site-packages first,
so the hashes do not depend on where the checkout lives. The corpus comes with onnx
and the samples' exports with torch and transformers: the hashes hold for the versions
named beside them, and a test skips, saying so, under other versions.

When an issue changes output on purpose, recompute with ``python
tests/converter/test_output_bytes.py`` and say so in the commit. The samples' hashes
were recomputed once since: issue 13 names graph inputs and outputs after the model's
own and records parameter owners, which changes the exports (and so their GraphML and
rebuilt ONNX); their sidecars, the synthetic models and the corpus kept their hashes.
Issue 19 recomputed them again: 64-bit keys are declared string (the GraphML of every
model changes), initializers are labelled with their parameter, and the exporter
records each parameter's name (the samples' exports change); every sidecar and the
synthetic models' rebuilt ONNX kept their hashes.
"""

from __future__ import annotations

import hashlib
import shutil
import sysconfig
import warnings
from pathlib import Path

import onnx
import pytest

from modelexport.converter import graphml_to_onnx, onnx_to_graphml

SYNTHETIC_HASHES = {
    1: {
        "flat": "678b927c9b01d7d429e6475ff47533e24813376b9f8df623b97d4f089e6e1976",
        "flat_sidecar": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "graphml": "a7d594f71c285477e8e5dd103b07280e799a767f9d59ff3171e2c4bb7353a669",
        "onnx": "13dc64deecb77caa576bd1553f6841e9252496b46c8033e771827dafcac4ab5e",
        "sidecar": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    },
    35: {
        "flat": "2aa3b0b1c5878e1c4ce57d11a6659a68e08aa0b1030c57c55777d102c3180dfd",
        "flat_sidecar": "8df8050f01b3aa057bebafac64ae636d5977269aebf9b2b1ee8ffbcae14f042f",
        "graphml": "3286b9f09472892acb564449c47da20349a89a4c99d74ea98b2eea561d232692",
        "onnx": "a6678ac5cf27cb73f0481652c3ca85f70d9e0f3d3345a64496f944d3498532ff",
        "sidecar": "8df8050f01b3aa057bebafac64ae636d5977269aebf9b2b1ee8ffbcae14f042f",
    },
    300: {
        "flat": "d7085ad849620564f72b0fdf7090dc8a64b36407d0be3eb960832d2f1869a031",
        "flat_sidecar": "69f06cc2ddcad9fc07ae4bab2a960e2abaee2b6d330a618d91b31869660f8f6d",
        "graphml": "15659d6f933694cc53eefc16a19931bacd67c0f79b660bdcfdce4c529e7444cd",
        "onnx": "2b17d5f0c0f74b6ce3e59ddc842d63c058963fee82fcd6c538438610667ca70b",
        "sidecar": "69f06cc2ddcad9fc07ae4bab2a960e2abaee2b6d330a618d91b31869660f8f6d",
    },
}
CORPUS_HASH = {
    "onnx==1.23.2":
        "dc2d75208501f9c5eae0c9092be3b43f0073166db001a80df1cf2570cb40a2d8",
}
SAMPLE_HASHES = {
    'torch==2.13.0+cpu transformers==5.24.0 onnx==1.23.2 onnxscript==0.7.2': {
        'bert-tiny': {
            'export': '154c8eb8eafd355ca7c6770a23c49b5c661b68b4a107b55360f22783e46b45e7',
            'flat': '214ffbef82b5a2ef4db7905d45e1aaac341cb22b619011048564bbf452a961cd',
            'flat_sidecar': 'b83091a6a6e5030a6ada2504902579f60343f63fc15ae4c4ed86ad435b161352',
            'graphml': '96ae06798cba41c1976a410b546a2f4a0438db70462e8e54f7b9b53f62b0aa17',
            'onnx': '154c8eb8eafd355ca7c6770a23c49b5c661b68b4a107b55360f22783e46b45e7',
            'sidecar': 'b83091a6a6e5030a6ada2504902579f60343f63fc15ae4c4ed86ad435b161352',
        },
        'gpt2-tiny': {
            'export': '43ae398af5dd7f6d9acb0fee08be556b41010aa5995a5f10bb370cb2733cd9d3',
            'flat': '748ffe5ded0a56150bc8dc132c89a1b7f7c1a858aef6b02a7b77ad5ba49f7e2a',
            'flat_sidecar': '21cb66515acd6f78b5b928683eb1ae90d3e32d1ba0f4b2831098539c6e673f45',
            'graphml': 'e2eebea8fc709366207fc857e38412c839f72f1b0d418ebbc4ea56ea1b00a79c',
            'onnx': '43ae398af5dd7f6d9acb0fee08be556b41010aa5995a5f10bb370cb2733cd9d3',
            'sidecar': '21cb66515acd6f78b5b928683eb1ae90d3e32d1ba0f4b2831098539c6e673f45',
        },
        'resnet-tiny': {
            'export': 'c098262230a4f074f5844a9298d477224ed18027d1df6423af9d52f1ea649c89',
            'flat': '98c956c68bd71ed475462fb17c76b9ad2a8904730c546b7e82e92f6360d04c7b',
            'flat_sidecar': '5bb6cfb7247e66c90921c1510da71d6e92a04c9d94885f0edfc7dd0107dc82ec',
            'graphml': 'eb9125de8c8c017794dcd410345dd12760ad37ee5861f399e9fe180162ee3bf0',
            'onnx': 'c098262230a4f074f5844a9298d477224ed18027d1df6423af9d52f1ea649c89',
            'sidecar': '5bb6cfb7247e66c90921c1510da71d6e92a04c9d94885f0edfc7dd0107dc82ec',
        },
        't5-tiny': {
            'export': '482f2517fc2e5a03884ad25b60055ad2c878c078d6c0848ad714630841156e44',
            'flat': '0dd058405ba12e2aec2047b651e2772d34dd7f7018f1d3e99bf0639f5a2bfe65',
            'flat_sidecar': 'b9a784c53d34a74376f3ab8fca35388c5e0db2cc40e215ba9eaa3a1bb8d984b3',
            'graphml': 'de195f8d13f1319eee33fc9b8d505787f8abe5eb49010c1666fcee5824bf7273',
            'onnx': '482f2517fc2e5a03884ad25b60055ad2c878c078d6c0848ad714630841156e44',
            'sidecar': 'b9a784c53d34a74376f3ab8fca35388c5e0db2cc40e215ba9eaa3a1bb8d984b3',
        },
        'vit-tiny': {
            'export': '2c2099f63b5716376239b1c6872b89bf5fc52b902cec997a305c79d5cc43b905',
            'flat': '29fc7d402f1ca381855db1164bf4ae61bd840b4bc1d9dc6432037dced12655f9',
            'flat_sidecar': 'b9d4b1a6f45bc2e619a4b391adebaa7db7d8523fbeb3c2f31169bbfcb68768f0',
            'graphml': '258e3226982ccb7b19a024d4ab671224a15d8b9ec14b8b9a2cd70ebe0f6ee8b6',
            'onnx': '2c2099f63b5716376239b1c6872b89bf5fc52b902cec997a305c79d5cc43b905',
            'sidecar': 'b9d4b1a6f45bc2e619a4b391adebaa7db7d8523fbeb3c2f31169bbfcb68768f0',
        },
    },
}


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def output_hashes(tmp: Path, source: onnx.ModelProto | Path) -> dict[str, str]:
    """Hashes of the no-yed and flat no-yed GraphML, the sidecar and the rebuilt ONNX."""
    tmp.mkdir(parents=True, exist_ok=True)
    if isinstance(source, Path):
        # a fixed name beside the GraphML, so the recorded source path is the same everywhere
        shutil.copyfile(source, tmp / "m.onnx")
        source = tmp / "m.onnx"
    onnx_to_graphml(source, tmp / "m.graphml", yed=False)
    graphml_to_onnx(tmp / "m.graphml", tmp / "back.onnx")
    onnx_to_graphml(source, tmp / "flat.graphml", yed=False, flat=True)
    return {
        "graphml": _sha(tmp / "m.graphml"),
        "flat": _sha(tmp / "flat.graphml"),
        "sidecar": _sha(tmp / "m.onnxdata"),
        "flat_sidecar": _sha(tmp / "flat.onnxdata"),
        "onnx": _sha(tmp / "back.onnx"),
    }


def _corpus() -> list[tuple[str, onnx.ModelProto | Path]]:
    from onnx.backend.test.case.model import collect_testcases as model_cases
    from onnx.backend.test.case.node import collect_testcases as node_cases

    data = Path(onnx.__file__).parent / "backend" / "test" / "data"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cases = [(c.name, c.model) for c in node_cases() + model_cases() if c.model is not None]
    return cases + [(str(p.relative_to(data)), p) for p in sorted(data.rglob("*.onnx"))]


def corpus_hash(tmp: Path) -> str:
    total = hashlib.sha256()
    for name, source in _corpus():
        hashes = output_hashes(tmp, source)
        total.update(f"{name}\0{sorted(hashes.items())}\n".encode())
    return total.hexdigest()


def synthetic_hashes(tmp: Path) -> dict[int, dict[str, str]]:
    from bench.synthetic import make_synthetic_model

    return {n: output_hashes(tmp / str(n), make_synthetic_model(n)) for n in SYNTHETIC_SIZES}


SYNTHETIC_SIZES = (1, 35, 300)


def sample_export(tmp: Path, sample: Path) -> Path:
    """Export ``sample`` with the defaults; stack traces made relative to site-packages."""
    import modelexport

    tmp.mkdir(parents=True, exist_ok=True)
    exported = tmp / "export.onnx"
    modelexport.export_pretrained(str(sample), exported)
    model = onnx.load(str(exported))
    site = sysconfig.get_paths()["purelib"]
    for node in model.graph.node:
        for prop in node.metadata_props:
            if prop.key == "pkg.torch.onnx.stack_trace":
                prop.value = prop.value.replace(site, "<site-packages>")
    normalized = tmp / "sample.onnx"
    onnx.save(model, str(normalized))
    return normalized


def _versions(*names: str) -> str:
    from importlib.metadata import version

    return " ".join(f"{n}=={version(n)}" for n in names)


SAMPLE_VERSIONS = ("torch", "transformers", "onnx", "onnxscript")


def test_synthetic_models_convert_to_the_pinned_bytes(tmp_path):
    assert synthetic_hashes(tmp_path) == SYNTHETIC_HASHES


@pytest.mark.slow
def test_the_onnx_corpus_converts_to_the_pinned_bytes(tmp_path):
    versions = _versions("onnx")
    if versions not in CORPUS_HASH:
        pytest.skip(f"corpus hash pinned for {sorted(CORPUS_HASH)}, not {versions}")
    assert corpus_hash(tmp_path) == CORPUS_HASH[versions]


SAMPLES = Path(__file__).resolve().parents[2] / "samples"
SAMPLE_DIRS = sorted(p for p in SAMPLES.iterdir() if (p / "config.json").exists())


@pytest.mark.slow
@pytest.mark.parametrize("sample", SAMPLE_DIRS, ids=lambda p: p.name)
def test_an_exported_sample_and_its_conversions_have_the_pinned_bytes(tmp_path, sample):
    pytest.importorskip("torch")
    versions = _versions(*SAMPLE_VERSIONS)
    if versions not in SAMPLE_HASHES:
        pytest.skip(f"sample hashes pinned for {sorted(SAMPLE_HASHES)}, not {versions}")
    exported = sample_export(tmp_path, sample)
    found = {"export": _sha(exported), **output_hashes(tmp_path / "out", exported)}
    assert found == SAMPLE_HASHES[versions][sample.name]


if __name__ == "__main__":
    import pprint
    import sys
    import tempfile

    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        print("SYNTHETIC_HASHES =", pprint.pformat(synthetic_hashes(root / "synthetic")))
        print("CORPUS_HASH =", {_versions("onnx"): corpus_hash(root / "corpus")})
        samples = {p.name: {"export": _sha(e := sample_export(root / p.name, p)),
                            **output_hashes(root / p.name / "out", e)} for p in SAMPLE_DIRS}
        print("SAMPLE_HASHES =", pprint.pformat({_versions(*SAMPLE_VERSIONS): samples}))
