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
Again for issue 22: the module tree records each module's parameter count (exports and
their GraphML change, sidecars do not), and a module without ops is an empty group
(synthetic model 1's GraphML; its rebuilt ONNX kept its hash).
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
        "flat": "ce9ff0d9851cd93295e93cb5015536a27e4f4739fb73f52e5ddaa013aadd76f4",
        "flat_sidecar": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "graphml": "b6ded8e40664fb24457978a6fecb9a281cb6469b1e84c0aef279cbbd22c47e69",
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
            "export": "e1f7389949f648bccfb1f124f2fcc51d48103908d43b47fb3e1323b6e93c7e2f",
            "flat": "2a62bef4a3f1adb683aed5ae2f7509da5d8d67d467323e0fe57ea2c600e4fc93",
            "flat_sidecar": "b83091a6a6e5030a6ada2504902579f60343f63fc15ae4c4ed86ad435b161352",
            "graphml": "926e8f80727041fc0f5759d8e3c6715c9733309d0ccd36910502c101a9154212",
            "onnx": "e1f7389949f648bccfb1f124f2fcc51d48103908d43b47fb3e1323b6e93c7e2f",
            "sidecar": "b83091a6a6e5030a6ada2504902579f60343f63fc15ae4c4ed86ad435b161352",
        },
        "gpt2-tiny": {
            "export": "7525bc67f9ef05ab91da6f74c2ad05172bf1d64e50d56f96e07bf66123b2ea1a",
            "flat": "62f6ce11f194d00ec0692ae57dce6ac33df95380aecc9f0b0836d07a2dc077b9",
            "flat_sidecar": "21cb66515acd6f78b5b928683eb1ae90d3e32d1ba0f4b2831098539c6e673f45",
            "graphml": "673faef94800981c3652d3ded9657c0362ec85ae1b67c95e906276aad0916454",
            "onnx": "7525bc67f9ef05ab91da6f74c2ad05172bf1d64e50d56f96e07bf66123b2ea1a",
            "sidecar": "21cb66515acd6f78b5b928683eb1ae90d3e32d1ba0f4b2831098539c6e673f45",
        },
        "resnet-tiny": {
            "export": "2b0fc98c5348830bf6123b018517dad5859f46d17248c490be806b070ca1db12",
            "flat": "d8242cbf1d31f42ab4dd373f04dd1b4b5f43b31e74bbbfae6f81125513a0bbb3",
            "flat_sidecar": "5bb6cfb7247e66c90921c1510da71d6e92a04c9d94885f0edfc7dd0107dc82ec",
            "graphml": "08cc2333e40e242a39500aaaa82819588ee1a763de87be1f9594993676a260d8",
            "onnx": "2b0fc98c5348830bf6123b018517dad5859f46d17248c490be806b070ca1db12",
            "sidecar": "5bb6cfb7247e66c90921c1510da71d6e92a04c9d94885f0edfc7dd0107dc82ec",
        },
        "t5-tiny": {
            "export": "b358a40db3c033a3d2db6522b224d83e36baaa5731ee69e0b71289c65925584e",
            "flat": "b0c0e5ae70587ed815fb0259065b0d4a876cd49af0063fd1355ec4b77d64478b",
            "flat_sidecar": "b9a784c53d34a74376f3ab8fca35388c5e0db2cc40e215ba9eaa3a1bb8d984b3",
            "graphml": "499e64d0d562376f8a16f5778314d6f85398c3d6f5e0b501daf42ccca3e35bc3",
            "onnx": "b358a40db3c033a3d2db6522b224d83e36baaa5731ee69e0b71289c65925584e",
            "sidecar": "b9a784c53d34a74376f3ab8fca35388c5e0db2cc40e215ba9eaa3a1bb8d984b3",
        },
        "vit-tiny": {
            "export": "054fc0355c195fe112d6dda08bf6a182e670521a024723b1ce6045daad76ab40",
            "flat": "09d4dee26e568695b446850907f2b3067b47815fcc943aabb6ef9bcc9b5dcced",
            "flat_sidecar": "b9d4b1a6f45bc2e619a4b391adebaa7db7d8523fbeb3c2f31169bbfcb68768f0",
            "graphml": "cc7207117a133a5fd8245d7868858eea1325993a78f5baf5849df51e36fd11df",
            "onnx": "054fc0355c195fe112d6dda08bf6a182e670521a024723b1ce6045daad76ab40",
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
