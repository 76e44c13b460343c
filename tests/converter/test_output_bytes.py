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
tests/converter/test_output_bytes.py`` and say so in the commit.
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
        "flat": "a64bfbe0d498f8b44199ae9d509f0eedf8e2540fcfe6a9712753ae70fd8e2da9",
        "flat_sidecar": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "graphml": "4db5e33f94976f897c990b80340a635efde4379d463311704bfe5ebc39470b34",
        "onnx": "13dc64deecb77caa576bd1553f6841e9252496b46c8033e771827dafcac4ab5e",
        "sidecar": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    },
    35: {
        "flat": "4a5d5c18d91c33a295d2f5393a4acb9afc067a8876e36e1405947b12849ce8e2",
        "flat_sidecar": "8df8050f01b3aa057bebafac64ae636d5977269aebf9b2b1ee8ffbcae14f042f",
        "graphml": "68bff05a6bc907e289089d24d28aca7d7ca4a375e72eb2257220f89309100284",
        "onnx": "a6678ac5cf27cb73f0481652c3ca85f70d9e0f3d3345a64496f944d3498532ff",
        "sidecar": "8df8050f01b3aa057bebafac64ae636d5977269aebf9b2b1ee8ffbcae14f042f",
    },
    300: {
        "flat": "b06166af761d3385c04c12c0da39da5f47e5973229be115ae4ef6f118b90effd",
        "flat_sidecar": "69f06cc2ddcad9fc07ae4bab2a960e2abaee2b6d330a618d91b31869660f8f6d",
        "graphml": "106b67156ff0c77d2f7407ba35da03f755c8f3b04f6922aa35fb28aaa2d0e1d8",
        "onnx": "2b17d5f0c0f74b6ce3e59ddc842d63c058963fee82fcd6c538438610667ca70b",
        "sidecar": "69f06cc2ddcad9fc07ae4bab2a960e2abaee2b6d330a618d91b31869660f8f6d",
    },
}
CORPUS_HASH = {
    "onnx==1.23.2":
        "83186fc714faed37dbd18a4c72f1b554d09d990d82e58cf80d9819b1a3bf39bf",
}
SAMPLE_HASHES = {
    "torch==2.13.0+cpu transformers==5.24.0 onnx==1.23.2 onnxscript==0.7.2": {
        "bert-tiny": {
            "export": "ee9a611129ade732201cdf46e8c7dd464c9885d9d987ba52487cb209101ce5bb",
            "flat": "be0c298970f67386590466e1bc8703fc153114c1e06fa55d519203fa937b7028",
            "flat_sidecar": "b83091a6a6e5030a6ada2504902579f60343f63fc15ae4c4ed86ad435b161352",
            "graphml": "ce3defe0b02ee7f657c1571e5cdbee886d8a18fb8d3d416cb09d39fc84712391",
            "onnx": "ee9a611129ade732201cdf46e8c7dd464c9885d9d987ba52487cb209101ce5bb",
            "sidecar": "b83091a6a6e5030a6ada2504902579f60343f63fc15ae4c4ed86ad435b161352",
        },
        "gpt2-tiny": {
            "export": "6db6934f8e71a70eb60899eca0597abcc651de5e961044da99766e31dd2e4245",
            "flat": "6decc515f726a75b3183d046fa5c5aa0b11fb1a9d165adf9e57b1d615c05b05d",
            "flat_sidecar": "21cb66515acd6f78b5b928683eb1ae90d3e32d1ba0f4b2831098539c6e673f45",
            "graphml": "70ea0c57f7464455b4420218c0d1a008f9456210e84fb0f64c3119381356c4ae",
            "onnx": "6db6934f8e71a70eb60899eca0597abcc651de5e961044da99766e31dd2e4245",
            "sidecar": "21cb66515acd6f78b5b928683eb1ae90d3e32d1ba0f4b2831098539c6e673f45",
        },
        "resnet-tiny": {
            "export": "2227125e75c1a3e4bfb660e086affa86fdb0262af80af4cbdbae3f21ca6c49da",
            "flat": "3a7b6c51c72e06c1bb3b10f90788fc8670f26ff5349bd09bbcbc8bc19ce8f361",
            "flat_sidecar": "5bb6cfb7247e66c90921c1510da71d6e92a04c9d94885f0edfc7dd0107dc82ec",
            "graphml": "a676f096c2601bece5876b5e5e4123437b55674f2e52314b7a3ffef94ef8ff78",
            "onnx": "2227125e75c1a3e4bfb660e086affa86fdb0262af80af4cbdbae3f21ca6c49da",
            "sidecar": "5bb6cfb7247e66c90921c1510da71d6e92a04c9d94885f0edfc7dd0107dc82ec",
        },
        "t5-tiny": {
            "export": "6b4f75ebbc38d46c7dfdf51b7722e5ca09fda9413eb4e5c9212edbf3dcae4325",
            "flat": "4c6475b363ea992cecc747c9fa8fe64576242d0cb649279d6bec57c32eeb80ba",
            "flat_sidecar": "b9a784c53d34a74376f3ab8fca35388c5e0db2cc40e215ba9eaa3a1bb8d984b3",
            "graphml": "4fc784b540de04f6cb1792bd79a135c0fbd3ba3198ec6078c17cf8cd2610e291",
            "onnx": "6b4f75ebbc38d46c7dfdf51b7722e5ca09fda9413eb4e5c9212edbf3dcae4325",
            "sidecar": "b9a784c53d34a74376f3ab8fca35388c5e0db2cc40e215ba9eaa3a1bb8d984b3",
        },
        "vit-tiny": {
            "export": "3ea89089881b2ecdb1ea025f362a0c12856e51b1c6e396dc6c01fbeeba4f5299",
            "flat": "63285167d5a9582f49dcf23adac5a8d8fdd2c80fd28e5e226a1249dde8815438",
            "flat_sidecar": "b9d4b1a6f45bc2e619a4b391adebaa7db7d8523fbeb3c2f31169bbfcb68768f0",
            "graphml": "15f14da44e051ea5bc5fd286734930d81ad99745ce41ce20ef338b0b7fffeb8d",
            "onnx": "3ea89089881b2ecdb1ea025f362a0c12856e51b1c6e396dc6c01fbeeba4f5299",
            "sidecar": "b9d4b1a6f45bc2e619a4b391adebaa7db7d8523fbeb3c2f31169bbfcb68768f0",
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
